/**
 * The event patterns against a library that implements EventBridge pattern matching: moto's
 * `EventPattern` (Python, the conformance suite's emulator). Every pattern of
 * `events/registry.ts` is asked about every sample and every near miss, by moto and by
 * `events/pattern.ts` (the local bus's matcher); the answers must be the same, and each
 * sample must match exactly its own pattern in moto too.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { matchesPattern } from '#events/pattern';
import { EVENTS, NAT_CHANGE_EVENTS } from '#events/registry';
import { NAT_CHANGES, nearMisses, SAMPLES } from '../events/cases';
import { motoAvailable } from './moto';

const availability = motoAvailable();

/** moto's answer for each [pattern, event] pair, in one python process. */
function motoMatches(cases: readonly [pattern: unknown, event: unknown][]): boolean[] {
  const script = [
    'import json, sys',
    'from moto.events.models import EventPattern',
    'cases = json.load(sys.stdin)',
    'print(json.dumps([EventPattern.load(json.dumps(p)).matches_event(e) for p, e in cases]))',
  ].join('\n');
  const run = spawnSync(process.env.TETHER_PYTHON ?? 'python3', ['-c', script], {
    input: JSON.stringify(cases),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.status !== 0) throw new Error(`moto's EventPattern failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as boolean[];
}

describe.runIf(availability.available)('event patterns, judged by moto’s EventPattern', () => {
  const patterns = [
    ...NAT_CHANGES.map((c) => [c, NAT_CHANGE_EVENTS[c].pattern] as const),
    ['natGatewayChanged (forwarding rule)', EVENTS.natGatewayChanged] as const,
  ];
  const events = [
    ...[...SAMPLES.entries()].map(([file, e]) => [file, e] as const),
    ...NAT_CHANGES.flatMap((c) => nearMisses(c).map(([why, e]) => [`${c} sample with ${why}`, e] as const)),
  ];
  const pairs = patterns.flatMap(([name, pattern]) =>
    events.map(([what, event]) => ({ name, pattern, what, event })),
  );

  it('answers as Tether’s matcher does for every pattern and event', () => {
    const moto = motoMatches(pairs.map((p) => [p.pattern, p.event]));
    const differ = pairs
      .map((p, i) => ({ ...p, moto: moto[i], tether: matchesPattern(p.pattern, p.event) }))
      .filter((p) => p.moto !== p.tether)
      .map((p) => `${p.name} on ${p.what}: moto ${p.moto}, tether ${p.tether}`);
    expect(differ).toEqual([]);
    expect(pairs.length).toBeGreaterThan(100);
  });

  it('matches each sample with exactly its own pattern', () => {
    const own = NAT_CHANGES.map((c) => NAT_CHANGE_EVENTS[c].sample);
    const cases = NAT_CHANGES.flatMap((c) =>
      own.map((file) => [NAT_CHANGE_EVENTS[c].pattern, SAMPLES.get(file)] as [unknown, unknown]),
    );
    const moto = motoMatches(cases);
    const matched = NAT_CHANGES.map((_change, i) => own.filter((_, j) => moto[i * own.length + j]));
    expect(matched).toEqual(own.map((file) => [file]));
  });
});
