import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENTS, SAMPLES_DIR } from '#events/registry';

/**
 * The subset of EventBridge pattern semantics the registry uses: every listed field must
 * hold one of the listed values (arrays of strings), nested objects recursively.
 */
function matches(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = event[key];
    if (Array.isArray(expected)) return expected.includes(actual);
    if (expected && typeof expected === 'object' && actual && typeof actual === 'object') {
      return matches(expected as Record<string, unknown>, actual as Record<string, unknown>);
    }
    return false;
  });
}

const samples = readdirSync(new URL('aws.ec2/', SAMPLES_DIR)).map((file) => ({
  file,
  event: JSON.parse(readFileSync(new URL(`aws.ec2/${file}`, SAMPLES_DIR), 'utf8')) as Record<string, unknown>,
}));

describe('events/registry.ts', () => {
  it('matches the NAT gateway samples and nothing else', () => {
    const matched = samples
      .filter((s) => matches(EVENTS.natGatewayChanged, s.event))
      .map((s) => s.file)
      .sort();
    expect(matched).toEqual(['create-nat-gateway.json', 'delete-nat-gateway.json']);
  });
});
