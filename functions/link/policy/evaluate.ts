/**
 * A small IAM policy evaluator for the documents Tether writes and reads back: explicit
 * deny wins, then any allow, else implicit deny; `Action`/`NotAction`, `Resource`,
 * `Principal` and the condition operators Tether's policies use. The verify step runs the
 * role chain through it hop by hop.
 *
 * Why not a library: the one complete evaluator on npm (`@cloud-copilot/iam-simulate`) is
 * AGPL-3.0, which a control plane that platform teams deploy cannot carry. This file covers
 * what Tether writes; anything it does not understand (an unknown condition operator) is a
 * deny, never an allow.
 */

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly Principal?: '*' | Readonly<Record<string, string | readonly string[]>>;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: PolicyStatement | readonly PolicyStatement[];
}

export interface EvaluationRequest {
  readonly action: string;
  /** Resource ARN; omit for trust policies, which have no Resource element. */
  readonly resource?: string;
  /** For trust (resource) policies: who is asking, by principal type. */
  readonly principal?: { readonly type: 'AWS' | 'Federated' | 'Service'; readonly id: string };
  /** Condition keys and values of the request (keys compared case-insensitively, as IAM does). */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

const asList = <T>(v: T | readonly T[] | undefined): readonly T[] =>
  v === undefined ? [] : Array.isArray(v) ? (v as readonly T[]) : [v as T];

/** IAM wildcard match: `*` any run, `?` one character; case-insensitive when asked. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, caseInsensitive ? 'is' : 's').test(value);
}

/** Parses a policy document as IAM returns it (URL-encoded JSON) or as JSON text. */
export function parsePolicy(document: string): PolicyDocument {
  const text = document.trimStart().startsWith('{') ? document : decodeURIComponent(document);
  return JSON.parse(text) as PolicyDocument;
}

function principalMatches(statement: PolicyStatement, principal: EvaluationRequest['principal']): boolean {
  if (statement.Principal === undefined) return principal === undefined;
  if (principal === undefined) return false;
  if (statement.Principal === '*') return true;
  for (const id of asList(statement.Principal[principal.type])) {
    if (id === '*' || id === principal.id) return true;
    // An account principal (`arn:aws:iam::123:root` or `123`) covers every principal of that account.
    const account =
      /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(id)?.[1] ?? (/^\d{12}$/.test(id) ? id : undefined);
    if (principal.type === 'AWS' && account && principal.id.split(':')[4] === account) return true;
  }
  return false;
}

function contextValues(context: EvaluationRequest['context'], key: string): readonly string[] | undefined {
  if (!context) return undefined;
  const found = Object.keys(context).find((k) => k.toLowerCase() === key.toLowerCase());
  return found === undefined ? undefined : asList(context[found]);
}

/** One condition operator on one key: true when the request satisfies it. */
function conditionHolds(
  operator: string,
  key: string,
  expected: readonly string[],
  ctx: EvaluationRequest['context'],
): boolean {
  const ifExists = operator.endsWith('IfExists');
  const base = ifExists ? operator.slice(0, -'IfExists'.length) : operator;
  const actual = contextValues(ctx, key);
  if (base === 'Null') {
    const wantsAbsent = expected.includes('true');
    return wantsAbsent ? actual === undefined : actual !== undefined;
  }
  if (actual === undefined || actual.length === 0) return ifExists;
  const compare: ((e: string, a: string) => boolean) | undefined = {
    StringEquals: (e: string, a: string) => e === a,
    StringEqualsIgnoreCase: (e: string, a: string) => e.toLowerCase() === a.toLowerCase(),
    StringLike: (e: string, a: string) => wildcardMatch(e, a),
    ArnEquals: (e: string, a: string) => e === a,
    ArnLike: (e: string, a: string) => wildcardMatch(e, a),
    Bool: (e: string, a: string) => e.toLowerCase() === a.toLowerCase(),
  }[base];
  const negated: ((e: string, a: string) => boolean) | undefined = {
    StringNotEquals: (e: string, a: string) => e === a,
    StringNotLike: (e: string, a: string) => wildcardMatch(e, a),
    ArnNotEquals: (e: string, a: string) => e === a,
    ArnNotLike: (e: string, a: string) => wildcardMatch(e, a),
  }[base];
  // Single-valued context keys: the request value must match any of the listed values.
  if (compare) return actual.some((a) => expected.some((e) => compare(e, a)));
  if (negated) return actual.every((a) => !expected.some((e) => negated(e, a)));
  return false; // unknown operator: never grant on what we cannot read
}

function statementApplies(statement: PolicyStatement, request: EvaluationRequest): boolean {
  const actionMatch = (p: string) => wildcardMatch(p, request.action, true);
  if (statement.Action !== undefined && !asList(statement.Action).some(actionMatch)) return false;
  if (statement.NotAction !== undefined && asList(statement.NotAction).some(actionMatch)) return false;
  if (request.resource !== undefined && statement.Resource !== undefined) {
    if (!asList(statement.Resource).some((r) => wildcardMatch(r, request.resource!))) return false;
  }
  if (request.principal !== undefined || statement.Principal !== undefined) {
    if (!principalMatches(statement, request.principal)) return false;
  }
  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    for (const [key, expected] of Object.entries(keys)) {
      if (!conditionHolds(operator, key, asList(expected), request.context)) return false;
    }
  }
  return true;
}

/**
 * Evaluates one policy for one request.
 *
 * @example
 * evaluatePolicy(trust, { action: 'sts:AssumeRole', principal: { type: 'AWS', id: workloadRoleArn },
 *   context: { 'aws:PrincipalArn': workloadRoleArn } }) // 'Allow'
 */
export function evaluatePolicy(policy: PolicyDocument, request: EvaluationRequest): Decision {
  let allowed = false;
  for (const statement of asList(policy.Statement)) {
    if (!statementApplies(statement, request)) continue;
    if (statement.Effect === 'Deny') return 'ExplicitDeny';
    allowed = true;
  }
  return allowed ? 'Allow' : 'ImplicitDeny';
}
