/**
 * The propagation budget, computed from the ASL itself: how long a Task state keeps retrying
 * `NotYetPropagatedError` before it gives up. IAM changes and access entries can take up to
 * a couple of minutes to reach the services that need them
 * (docs/aws-facts.md#iam-eventual-consistency), so the budget must be at least 2 minutes in
 * the worst case and in the median.
 *
 * Step Functions waits before retry n (n = 0 … MaxAttempts − 1) for
 * min(IntervalSeconds × BackoffRate^n, MaxDelaySeconds); with `JitterStrategy: FULL` the wait
 * is drawn uniformly between 0 and that interval. A sum of independent uniform waits is
 * symmetric about its mean, so its median is half the worst case.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Retrier, retriersFor, retryBudget, waits } from '../../bench/retry-budget';

const dir = new URL('../../../statemachines/', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith('.asl.json'));

/** A seeded generator, so the sampled median is the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the propagation budget of statemachines/*.asl.json', () => {
  it('computes worst case and median as Step Functions waits', () => {
    const r: Retrier = {
      ErrorEquals: ['X'],
      IntervalSeconds: 2,
      BackoffRate: 2,
      MaxAttempts: 4,
      MaxDelaySeconds: 10,
      JitterStrategy: 'FULL',
    };
    expect(waits(r)).toEqual([2, 4, 8, 10]);
    expect(retryBudget(r)).toEqual({ worst: 24, median: 12 });
    // The median of the jittered sum, sampled: half the worst case.
    const random = mulberry32(20261124);
    const sums = Array.from({ length: 20_001 }, () =>
      waits(r).reduce((sum, w) => sum + random() * w, 0),
    ).sort((a, b) => a - b);
    expect(sums[10_000]).toBeCloseTo(12, 0);
  });

  for (const file of files) {
    it(`${file}: every Task retries NotYetPropagatedError for at least 2 minutes, worst case and median`, () => {
      const definition = JSON.parse(readFileSync(`${dir}${file}`, 'utf8'));
      const retriers = retriersFor(definition, 'NotYetPropagatedError');
      expect(retriers.length).toBeGreaterThan(5);
      for (const [state, retrier] of retriers) {
        expect(retrier, state).toBeDefined();
        const budget = retryBudget(retrier!);
        expect(budget.worst, state).toBeGreaterThanOrEqual(120);
        expect(budget.median, state).toBeGreaterThanOrEqual(120);
      }
    });
  }

  it('is 302 s in the worst case and 151 s in the median for onboard, as docs/architecture.md#retries says', () => {
    const definition = JSON.parse(readFileSync(`${dir}onboard.asl.json`, 'utf8'));
    const [, retrier] = retriersFor(definition, 'NotYetPropagatedError')[0]!;
    expect(retryBudget(retrier!)).toEqual({ worst: 302, median: 151 });
  });
});
