/**
 * EventBridge event pattern matching, as the local bus and the tests evaluate the patterns
 * of `registry.ts` (EventBridge user guide, "Event patterns" and "Content filtering"):
 *
 * - a pattern is an object whose leaves are arrays of filters; every field of the pattern
 *   must match (AND), any filter of a leaf may match (OR); `$or` takes a list of patterns;
 * - a filter is a literal (string, number, boolean, null: equality; when the event's value
 *   is an array, any element), or one of `prefix`, `suffix`, `equals-ignore-case`,
 *   `anything-but` (a literal, a list, or `{prefix}`/`{suffix}`), `exists`, `numeric`,
 *   `wildcard`, `cidr`;
 * - a field the event lacks matches only `{"exists": false}`.
 *
 * No npm package that implements it could be installed here, so this is Tether's own; the
 * conformance suite evaluates every pattern and sample (and their near misses) with moto's
 * `EventPattern` (the Python library the conformance suite already runs) and requires the
 * same answers (`test/conformance/event-patterns.test.ts`).
 */
import { cidrContains } from '#link/cidr';

/** An EventBridge event pattern (JSON). */
export type EventPatternJson = Readonly<Record<string, unknown>>;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A value the event lacks (distinct from JSON null). */
const ABSENT = Symbol('absent');

function literalMatches(filter: unknown, value: unknown): boolean {
  if (value === ABSENT) return false;
  if (Array.isArray(value)) return value.some((v) => v === filter);
  return value === filter;
}

function numericMatches(ops: readonly unknown[], value: unknown): boolean {
  if (typeof value !== 'number') return false;
  for (let i = 0; i + 1 < ops.length; i += 2) {
    const op = ops[i];
    const bound = ops[i + 1] as number;
    const ok =
      op === '='
        ? value === bound
        : op === '<'
          ? value < bound
          : op === '<='
            ? value <= bound
            : op === '>'
              ? value > bound
              : op === '>='
                ? value >= bound
                : false;
    if (!ok) return false;
  }
  return true;
}

function wildcardMatches(glob: string, value: string): boolean {
  const re = new RegExp(
    `^${glob
      .split('*')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

/** One filter of a leaf against one scalar value of the event. */
function scalarMatches(filter: unknown, value: unknown): boolean {
  if (!isObject(filter)) return literalMatches(filter, value);
  const [name, arg] = Object.entries(filter)[0] ?? [];
  if (name === 'exists') return (value !== ABSENT) === arg;
  if (value === ABSENT) return false;
  const text = typeof value === 'string' ? value : undefined;
  switch (name) {
    case 'prefix':
      if (isObject(arg)) {
        const p = String(arg['equals-ignore-case'] ?? '');
        return !!text?.toLowerCase().startsWith(p.toLowerCase());
      }
      return !!text?.startsWith(String(arg));
    case 'suffix':
      if (isObject(arg)) {
        const p = String(arg['equals-ignore-case'] ?? '');
        return !!text?.toLowerCase().endsWith(p.toLowerCase());
      }
      return !!text?.endsWith(String(arg));
    case 'equals-ignore-case':
      return text !== undefined && text.toLowerCase() === String(arg).toLowerCase();
    case 'wildcard':
      return text !== undefined && wildcardMatches(String(arg), text);
    case 'numeric':
      return numericMatches(arg as unknown[], value);
    case 'cidr':
      return text !== undefined && cidrContains(String(arg), text.includes('/') ? text : `${text}/32`);
    case 'anything-but': {
      if (isObject(arg)) {
        const [inner, innerArg] = Object.entries(arg)[0] ?? [];
        const args = Array.isArray(innerArg) ? innerArg : [innerArg];
        return !args.some((a) => scalarMatches({ [inner ?? '']: a }, value));
      }
      const excluded = Array.isArray(arg) ? arg : [arg];
      return !excluded.some((e) => e === value);
    }
    default:
      return false;
  }
}

/** A leaf (a list of filters) against the event's value at that path. */
function leafMatches(filters: readonly unknown[], value: unknown): boolean {
  if (Array.isArray(value)) {
    // An array in the event matches when any of its elements does.
    return filters.some((f) =>
      isObject(f) && 'exists' in f ? scalarMatches(f, value) : value.some((v) => scalarMatches(f, v)),
    );
  }
  return filters.some((f) => scalarMatches(f, value));
}

function nodeMatches(pattern: Readonly<Record<string, unknown>>, event: unknown): boolean {
  const fields = isObject(event) ? event : {};
  return Object.entries(pattern).every(([key, sub]) => {
    if (key === '$or') {
      return (sub as readonly Record<string, unknown>[]).some((alternative) =>
        nodeMatches(alternative, event),
      );
    }
    const value = key in fields ? fields[key] : ABSENT;
    if (Array.isArray(sub)) return leafMatches(sub, value);
    if (isObject(sub)) return nodeMatches(sub, value === ABSENT ? undefined : value);
    return false;
  });
}

/**
 * Whether an event matches an EventBridge pattern.
 *
 * @example
 * matchesPattern({ source: ['aws.ec2'] }, { source: 'aws.ec2' }); // true
 */
export function matchesPattern(pattern: EventPatternJson, event: unknown): boolean {
  return nodeMatches(pattern, event);
}
