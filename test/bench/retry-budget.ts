/**
 * The retry budget of an ASL retrier: how long Step Functions keeps retrying an error before
 * it gives up. Before retry n (n = 0 … MaxAttempts − 1) it waits
 * min(IntervalSeconds × BackoffRate^n, MaxDelaySeconds); with `JitterStrategy: FULL` the wait
 * is drawn uniformly between 0 and that (AWS CDK, `JitterType.FULL`). A sum of independent
 * uniform waits is symmetric about its mean, so its median is half the worst case.
 * Used by `test/unit/workflow/retry-budget.test.ts` and printed by `npm run bench`.
 */
export interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly BackoffRate?: number;
  readonly MaxAttempts?: number;
  readonly MaxDelaySeconds?: number;
  readonly JitterStrategy?: 'FULL' | 'NONE';
}

/** The waits before each retry, as Step Functions computes them without jitter (ASL defaults: 1 s, × 2, 3 attempts). */
export function waits(r: Retrier): number[] {
  const out: number[] = [];
  for (let n = 0; n < (r.MaxAttempts ?? 3); n++) {
    const interval = (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** n;
    out.push(r.MaxDelaySeconds === undefined ? interval : Math.min(interval, r.MaxDelaySeconds));
  }
  return out;
}

/** Seconds a state keeps retrying an error: the worst case and the median. */
export function retryBudget(r: Retrier): { worst: number; median: number } {
  const worst = waits(r).reduce((a, b) => a + b, 0);
  return { worst, median: r.JitterStrategy === 'FULL' ? worst / 2 : worst };
}

/** Every Task state of a definition with the retrier that catches `error` (the first that names it). */
export function retriersFor(definition: any, error: string): [string, Retrier | undefined][] {
  const found: [string, Retrier | undefined][] = [];
  const walk = (states: Record<string, any>) => {
    for (const [name, s] of Object.entries(states)) {
      if (s.Type === 'Task') {
        found.push([name, (s.Retry ?? []).find((r: Retrier) => r.ErrorEquals.includes(error))]);
      }
      for (const b of s.Branches ?? []) walk(b.States);
      if (s.ItemProcessor) walk(s.ItemProcessor.States);
    }
  };
  walk(definition.States);
  return found;
}
