/**
 * Records what a sequence of SDK calls answered on one side, normalised so two sides can
 * be compared field by field: random ids keep their shape but lose their digits, dates
 * keep their type, errors become `name $fault status`.
 */
import { type Divergence, findDivergence } from './divergences';
import type { SideName } from './sides';

/** The flattened, normalised answer of one step: path → value. */
export type Observation = Record<string, string>;

/** One recorded step. */
export interface Step {
  readonly step: string;
  readonly service: string;
  readonly operation: string;
  readonly observation: Observation;
}

/** Pattern → stand-in, applied to every string (AWS id formats, not values). */
const ID_PATTERNS: [RegExp, string][] = [
  [/\b(AROA|AIDA|AGPA|ANPA)[A-Z0-9]{17}\b/g, '<$1+17>'],
  [/\b(ASIA|AKIA)[A-Z0-9]{16}\b/g, '<$1+16>'],
  [/\b(vpc|subnet|nat|eipalloc|eipassoc|sg|sgr|pl|igw|rtb|eni)-[0-9a-f]{17}\b/g, '$1-<hex17>'],
  [/\b(vpc|subnet|nat|eipalloc|eipassoc|sg|sgr|pl|igw|rtb|eni)-[0-9a-f]{8}\b/g, '$1-<hex8>'],
];

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Normalises one leaf value. */
export function normaliseLeaf(value: unknown): string {
  if (value === undefined) return '<absent>';
  if (value === null) return '<null>';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '<invalid Date>' : '<Date>';
  if (value instanceof Uint8Array) return `<bytes:${Buffer.from(value).toString('utf8')}>`;
  if (typeof value === 'string') {
    if (ISO_DATE.test(value)) return '<date string>';
    let out = value;
    for (const [re, stand] of ID_PATTERNS) out = out.replace(re, stand);
    return JSON.stringify(out);
  }
  return JSON.stringify(value);
}

/** Flattens `value` to `path → normalised leaf`. Empty arrays and objects count as leaves. */
export function flatten(value: unknown, prefix = '', out: Observation = {}): Observation {
  if (value && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v] as const)
      : Object.entries(value as Record<string, unknown>).filter(([k]) => k !== '$metadata');
    if (entries.length === 0) out[prefix || '.'] = Array.isArray(value) ? '[]' : '{}';
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return out;
  }
  out[prefix || '.'] = normaliseLeaf(value);
  return out;
}

/** `name $fault status` of an SDK error. */
export function errorOutcome(err: unknown): string {
  const e = err as { name?: string; $fault?: string; $metadata?: { httpStatusCode?: number } };
  return `${e.name ?? 'Error'} ${e.$fault ?? '?'} ${e.$metadata?.httpStatusCode ?? '?'}`;
}

/** Picks `paths` (dotted) of `value`; a missing path reads `undefined`. */
export function pick(value: unknown, paths: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of paths) {
    let cur: unknown = value;
    for (const part of path.split('.')) {
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
    }
    out[path] = cur;
  }
  return out;
}

/** The steps of one run of a sequence on one side. */
export class Recorder {
  readonly steps: Step[] = [];
  constructor(readonly side: SideName) {}

  /**
   * Runs `fn` and records its outcome, and on success `project(output)` (what AWS
   * documents and Tether reads; the whole output when no projection is given).
   * Returns the output, or `undefined` after an error.
   */
  async call<T>(
    step: string,
    service: string,
    operation: string,
    fn: () => Promise<T>,
    project: (output: T) => unknown = (o) => o,
  ): Promise<T | undefined> {
    try {
      const output = await fn();
      const projected = project(output);
      this.steps.push({
        step,
        service,
        operation,
        observation: { outcome: 'ok', ...flatten(projected) },
      });
      return output;
    } catch (err) {
      if (!(err as { $metadata?: unknown }).$metadata) throw err;
      this.steps.push({ step, service, operation, observation: { outcome: errorOutcome(err) } });
      return undefined;
    }
  }

  /** Records a value computed by the test itself (e.g. a decoded document). */
  note(step: string, service: string, operation: string, value: unknown): void {
    this.steps.push({ step, service, operation, observation: flatten(value) });
  }
}

/** A field where the two sides differ. */
export interface Difference {
  readonly step: string;
  readonly service: string;
  readonly operation: string;
  readonly field: string;
  readonly sandbox: string;
  readonly moto: string;
  /** The listed divergence it is, if any. */
  readonly listed?: Divergence;
}

/**
 * The differences between two runs of one sequence. When the outcomes differ, only the
 * outcome is compared (the other fields follow from it).
 */
export function differences(sandbox: Recorder, moto: Recorder): Difference[] {
  const out: Difference[] = [];
  const n = Math.max(sandbox.steps.length, moto.steps.length);
  for (let i = 0; i < n; i++) {
    const s = sandbox.steps[i];
    const m = moto.steps[i];
    const ref = s ?? m;
    if (!ref) continue;
    if (!s || !m || s.step !== m.step) {
      out.push({
        step: ref.step,
        service: ref.service,
        operation: ref.operation,
        field: '<step>',
        sandbox: s?.step ?? '<not run>',
        moto: m?.step ?? '<not run>',
      });
      continue;
    }
    const sameOutcome = s.observation.outcome === m.observation.outcome;
    const fields = sameOutcome
      ? [...new Set([...Object.keys(s.observation), ...Object.keys(m.observation)])]
      : ['outcome'];
    for (const field of fields) {
      const sv = s.observation[field] ?? '<absent>';
      const mv = m.observation[field] ?? '<absent>';
      if (sv === mv) continue;
      const diff = { step: s.step, service: s.service, operation: s.operation, field, sandbox: sv, moto: mv };
      const listed = findDivergence(diff);
      out.push(listed ? { ...diff, listed } : diff);
    }
  }
  return out;
}

/** One line per difference, for failure messages. */
export function describeDifference(d: Difference): string {
  return `${d.service}:${d.operation} [${d.step}] ${d.field}: sandbox ${d.sandbox} / moto ${d.moto}`;
}
