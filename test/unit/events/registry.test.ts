/**
 * The event patterns of `events/registry.ts`, evaluated with `events/pattern.ts` (the
 * matcher the local bus uses): each sample matches its own pattern and no other, the near
 * misses of each pattern do not match it, and the forwarding rule takes every NAT change.
 * `test/conformance/event-patterns.test.ts` asks moto's EventPattern the same questions.
 */
import { describe, expect, it } from 'vitest';
import { matchesPattern } from '#events/pattern';
import { EVENTS, NAT_CHANGE_EVENTS } from '#events/registry';
import { NAT_CHANGES, nearMisses, SAMPLES, sampleOf } from '../../events/cases';

describe('events/registry.ts', () => {
  it.each(NAT_CHANGES)('matches the %s sample with its own pattern and no other', (change) => {
    // Act
    const matched = NAT_CHANGES.filter((other) =>
      matchesPattern(NAT_CHANGE_EVENTS[other].pattern, sampleOf(change)),
    );

    // Assert
    expect(matched).toEqual([change]);
  });

  it.each(
    NAT_CHANGES.flatMap((change) => nearMisses(change).map(([why, event]) => [change, why, event] as const)),
  )('does not match %s when the event has %s', (change, _why, event) => {
    expect(matchesPattern(NAT_CHANGE_EVENTS[change].pattern, event)).toBe(false);
  });

  it('has one sample per pattern, and a sample no pattern takes', () => {
    const used = new Set<string>(NAT_CHANGES.map((c) => NAT_CHANGE_EVENTS[c].sample));
    expect([...SAMPLES.keys()].filter((f) => !used.has(f))).toEqual(['run-instances.json']);
    const runInstances = SAMPLES.get('run-instances.json');
    expect(NAT_CHANGES.filter((c) => matchesPattern(NAT_CHANGE_EVENTS[c].pattern, runInstances))).toEqual([]);
  });

  it('forwards every NAT change from a member account (one rule), and nothing else', () => {
    const forwarded = [...SAMPLES.entries()]
      .filter(([, event]) => matchesPattern(EVENTS.natGatewayChanged, event))
      .map(([file]) => file)
      .sort();
    expect(forwarded).toEqual(NAT_CHANGES.map((c) => NAT_CHANGE_EVENTS[c].sample).sort());
  });
});

describe('matchesPattern', () => {
  const event = {
    source: 'aws.ec2',
    detail: { state: 'available', count: 5, ips: ['18.0.35.117', '18.0.37.11'], name: 'NAT-a', empty: null },
  };
  it.each([
    ['a literal', { source: ['aws.ec2'] }, true],
    ['another literal', { source: ['aws.s3'] }, false],
    ['a prefix', { detail: { name: [{ prefix: 'NAT' }] } }, true],
    ['a suffix', { detail: { name: [{ suffix: '-b' }] } }, false],
    ['equals-ignore-case', { detail: { name: [{ 'equals-ignore-case': 'nat-A' }] } }, true],
    ['anything-but a value', { detail: { state: [{ 'anything-but': 'pending' }] } }, true],
    [
      'anything-but a list holding it',
      { detail: { state: [{ 'anything-but': ['pending', 'available'] }] } },
      false,
    ],
    ['anything-but a prefix', { detail: { state: [{ 'anything-but': { prefix: 'av' } }] } }, false],
    ['numeric in range', { detail: { count: [{ numeric: ['>', 0, '<=', 5] }] } }, true],
    ['numeric out of range', { detail: { count: [{ numeric: ['<', 5] }] } }, false],
    ['exists on a present field', { detail: { state: [{ exists: true }] } }, true],
    ['exists false on an absent field', { detail: { errorCode: [{ exists: false }] } }, true],
    ['exists false on a present field', { detail: { state: [{ exists: false }] } }, false],
    ['a literal on an absent field', { detail: { errorCode: ['x'] } }, false],
    ['any element of an array', { detail: { ips: ['18.0.37.11'] } }, true],
    ['a cidr', { detail: { ips: [{ cidr: '18.0.36.0/23' }] } }, true],
    ['a wildcard', { detail: { name: [{ wildcard: 'NAT-*' }] } }, true],
    ['null', { detail: { empty: [null] } }, true],
    ['$or', { detail: { $or: [{ state: ['pending'] }, { count: [5] }] } }, true],
  ])('evaluates %s', (_case, pattern, expected) => {
    expect(matchesPattern(pattern, event)).toBe(expected);
  });
});
