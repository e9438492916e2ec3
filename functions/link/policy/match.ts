/**
 * The ground IAM's policy language stands on: three-valued results, the request context,
 * policy variables, and wildcard and ARN matching (IAM JSON policy elements: Resource,
 * Condition operators; Variables and tags). Nothing here throws on what a document holds:
 * what cannot be judged is {@link Unknown}, with the reason.
 */

/** Why a part of a document could not be judged (an unknown operator, a malformed value, …). */
export interface Unknown {
  readonly cannotEvaluate: string;
}

/** IAM's answer for a part of a document, or why it cannot be given. */
export type Tri = boolean | Unknown;

/** An {@link Unknown} with `reason`. */
export const unknown = (reason: string): Unknown => ({ cannotEvaluate: reason });

/** Whether `t` is {@link Unknown}. */
export const isUnknown = (t: Tri): t is Unknown => typeof t === 'object';

/** Kleene AND: one `false` decides, whatever else is unknown (IAM ANDs elements, operators and keys). */
export function all(results: Iterable<Tri>): Tri {
  let first: Unknown | undefined;
  for (const r of results) {
    if (r === false) return false;
    if (isUnknown(r)) first ??= r;
  }
  return first ?? true;
}

/** Kleene OR: one `true` decides, whatever else is unknown (IAM ORs the values of a key). */
export function any(results: Iterable<Tri>): Tri {
  let first: Unknown | undefined;
  for (const r of results) {
    if (r === true) return true;
    if (isUnknown(r)) first ??= r;
  }
  return first ?? false;
}

/** Kleene NOT. */
export const not = (t: Tri): Tri => (isUnknown(t) ? t : !t);

/** A condition key's value in the request: one string, or several for a multivalued key. */
export type ContextValue = string | readonly string[];

/** What the request says about one key. */
export type KeyState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'single'; readonly value: string }
  | { readonly kind: 'multi'; readonly values: readonly string[] }
  | { readonly kind: 'unknown'; readonly reason: string };

/** The request context, looked up the way IAM does: key names are case-insensitive. */
export interface Context {
  lookup(key: string): KeyState;
}

/**
 * Builds a {@link Context}. With `complete` false the caller does not claim to list every
 * key the real request carries, so a key it does not list is unknown rather than absent:
 * AWS adds keys (`aws:SourceIp`, `aws:PrincipalOrgID`, …) a caller may not model, and
 * judging them absent could skip a Deny.
 */
export function contextOf(
  values: Readonly<Record<string, ContextValue>> | undefined,
  complete: boolean,
): Context {
  const byName = new Map<string, ContextValue[]>();
  for (const [key, value] of Object.entries(values ?? {})) {
    const name = key.toLowerCase();
    byName.set(name, [...(byName.get(name) ?? []), value]);
  }
  return {
    lookup(key) {
      const found = byName.get(key.toLowerCase());
      if (found === undefined) {
        return complete
          ? { kind: 'absent' }
          : { kind: 'unknown', reason: `the request context does not say whether it holds '${key}'` };
      }
      const [value, ...others] = found;
      if (others.length > 0 || value === undefined) {
        return { kind: 'unknown', reason: `the request context holds '${key}' twice, in different case` };
      }
      if (typeof value === 'string') return { kind: 'single', value };
      // An empty set is what IAM calls a key that "resolves to an empty data set": absent.
      return value.length === 0 ? { kind: 'absent' } : { kind: 'multi', values: value };
    },
  };
}

/** A value after policy-variable substitution: pattern text, and literal text that is never a wildcard. */
export type Part = { readonly text: string; readonly literal: boolean };

/**
 * A resolved value: its parts, `never` when a variable names a key the request does not
 * have (the value then matches nothing: IAM Variables and tags), or unknown.
 */
export type Resolved = { readonly parts: readonly Part[] } | { readonly never: string } | Unknown;

const VARIABLE_BODY = /^([^\s,']+)\s*(?:,\s*'([^']*)')?$/;

/**
 * Substitutes policy variables (`${aws:username}`, `${aws:PrincipalTag/team}`, `${*}`,
 * `${?}`, `${$}`, `${key, 'default'}`) from the request context. Only version
 * 2012-10-17 has variables; in older documents `${…}` is literal text.
 */
export function resolve(value: string, context: Context, variables: boolean): Resolved {
  if (!variables || !value.includes('${')) return { parts: [{ text: value, literal: false }] };
  const parts: Part[] = [];
  let rest = value;
  for (let at = rest.indexOf('${'); at >= 0; at = rest.indexOf('${')) {
    if (at > 0) parts.push({ text: rest.slice(0, at), literal: false });
    const end = rest.indexOf('}', at);
    if (end < 0) return unknown(`the policy variable in '${value}' is not closed`);
    const body = rest.slice(at + 2, end).trim();
    rest = rest.slice(end + 1);
    if (body === '*' || body === '?' || body === '$') {
      parts.push({ text: body, literal: true });
      continue;
    }
    const m = VARIABLE_BODY.exec(body);
    if (!m?.[1]) return unknown(`'\${${body}}' in '${value}' is not a policy variable IAM documents`);
    const key = m[1];
    const state = context.lookup(key);
    if (state.kind === 'unknown') return unknown(state.reason);
    // IAM: a multivalued key cannot be a policy variable.
    if (state.kind === 'multi') return unknown(`'${key}' has several values and cannot be a policy variable`);
    if (state.kind === 'single') parts.push({ text: state.value, literal: true });
    else if (m[2] !== undefined) parts.push({ text: m[2], literal: true });
    else return { never: `'${key}' is not in the request, so '${value}' matches nothing` };
  }
  if (rest) parts.push({ text: rest, literal: false });
  return { parts };
}

/** The text of a resolved value, wildcards and all. */
export const textOf = (parts: readonly Part[]): string => parts.map((p) => p.text).join('');

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A regular expression for an IAM wildcard pattern: `*` any run, `?` one character.
 * With `arn`, wildcards stay inside the ARN's first five colon-delimited components
 * (IAM: "each of the six colon-delimited components of the ARN is checked separately").
 */
export function globOf(
  parts: readonly Part[],
  options: { caseInsensitive?: boolean; arn?: boolean } = {},
): RegExp {
  let source = '';
  let colons = 0;
  for (const part of parts) {
    for (const ch of part.text) {
      const inResource = !options.arn || colons >= 5;
      if (ch === ':') colons += 1;
      if (!part.literal && ch === '*') source += inResource ? '.*' : '[^:]*';
      else if (!part.literal && ch === '?') source += inResource ? '.' : '[^:]';
      else source += escapeRegExp(ch);
    }
  }
  return new RegExp(`^${source}$`, options.caseInsensitive ? 'is' : 's');
}

/** IAM wildcard match of a whole string: `*` any run, `?` one character. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  return globOf([{ text: pattern, literal: false }], { caseInsensitive }).test(value);
}

const ARN_COMPONENTS = 6;

/**
 * ARN matching as IAM does for `Resource` and the `Arn*` operators: each component on its
 * own. A pattern that is not an ARN (fewer than six components) is unknown, not a guess.
 */
export function arnMatch(parts: readonly Part[], value: string): Tri {
  const text = textOf(parts);
  if (text.split(':').length < ARN_COMPONENTS) return unknown(`'${text}' is not an ARN`);
  if (value.split(':').length < ARN_COMPONENTS) return false;
  return globOf(parts, { arn: true }).test(value);
}

/** An element's value as a list: IAM takes one value or an array of them. */
export const asList = (v: unknown): readonly unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Whether `v` is a plain JSON object. */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a statement is judged in: the request context, and whether the document has policy variables. */
export interface ConditionEnv {
  readonly context: Context;
  /** Whether the document's version (2012-10-17) has policy variables. */
  readonly variables: boolean;
}
