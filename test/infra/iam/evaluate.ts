/**
 * A second IAM policy evaluator, for the least-privilege proof only: written from AWS's IAM
 * documentation (policy evaluation logic; condition operators; missing keys; set operators;
 * ARN matching), sharing no code with Tether's own (`functions/link/policy/`), which the
 * sandbox's STS uses. The same evaluator on both sides would prove nothing.
 *
 * It judges one request (action, resource, principal, context keys) against identity
 * policies (and optionally a resource policy), or says it cannot: anything outside the
 * subset below throws {@link CannotEvaluateError} rather than guess.
 *
 * Supported: Effect, Action/NotAction, Resource/NotResource, Principal (AWS, Service, `*`),
 * Condition with the String*, Arn*, Bool, Null and Numeric* operators, `…IfExists`,
 * `ForAllValues:`/`ForAnyValue:`. Not supported (throws): policy variables, NotPrincipal,
 * Date*, IpAddress, Binary.
 *
 * The sources, in AWS's IAM User Guide: "Policy evaluation logic" (an explicit deny wins;
 * otherwise an allow is needed), "IAM JSON policy elements: Condition operators" (several
 * values of one key: OR; several keys or operators: AND; a missing key matches only a
 * negated operator, `…IfExists` or `Null: true`), "Single-valued vs. multivalued context
 * keys" (ForAllValues is true for an empty or missing set; ForAnyValue false), "IAM JSON
 * policy elements: Resource" and "ARN condition operators" (each of the six ARN parts is
 * matched apart; `*` and `?` wildcards; actions match case-insensitively, resources
 * case-sensitively).
 */

export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

export class CannotEvaluateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CannotEvaluateError';
  }
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Principal?: unknown;
  readonly NotPrincipal?: unknown;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export interface Policy {
  readonly Version?: string;
  readonly Statement: Statement | readonly Statement[];
}

/** A context key's value: one string, or a set (multivalued keys such as `aws:TagKeys`). */
export type ContextValue = string | readonly string[];

export interface Request {
  readonly action: string;
  /** The resource ARN (`*` for actions with no resource-level permissions). */
  readonly resource: string;
  /** Context keys; names are matched case-insensitively. */
  readonly context?: Readonly<Record<string, ContextValue>>;
  /** The caller, for resource policies (trust policies): its `aws:PrincipalArn` and account. */
  readonly principal?: { readonly arn: string; readonly account: string; readonly service?: string };
}

function list(value: unknown): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  if (Array.isArray(value) && value.every((v) => typeof v === 'boolean' || typeof v === 'number'))
    return value.map(String);
  if (typeof value === 'boolean' || typeof value === 'number') return [String(value)];
  throw new CannotEvaluateError(`not a string or list of strings: ${JSON.stringify(value)}`);
}

function statements(policy: Policy): readonly Statement[] {
  return Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement as Statement];
}

/** `*` matches any run of characters, `?` one character. */
function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  if (pattern.includes('${')) throw new CannotEvaluateError(`policy variables are not supported: ${pattern}`);
  let re = '^';
  for (const ch of pattern) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`${re}$`, ignoreCase ? 'is' : 's').test(value);
}

/** The six colon-separated parts of an ARN; the last keeps any further colons. */
function arnParts(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/** ARN matching, part by part (ArnLike; and the Resource element). */
function arnLike(pattern: string, arn: string): boolean {
  if (pattern === '*') return true;
  const p = arnParts(pattern);
  const a = arnParts(arn);
  if (!p || !a) return wildcard(pattern, arn, false);
  return p.every((part, i) => wildcard(part, a[i] ?? '', false));
}

function actionMatches(patterns: readonly string[], action: string): boolean {
  return patterns.some((p) => wildcard(p, action, true));
}

function resourceMatches(patterns: readonly string[], resource: string): boolean {
  return patterns.some((p) => arnLike(p, resource));
}

function principalMatches(principal: unknown, who: Request['principal']): boolean {
  if (principal === '*') return true;
  if (!who) throw new CannotEvaluateError('a statement with a Principal needs the caller');
  if (typeof principal !== 'object' || principal === null)
    throw new CannotEvaluateError(`unsupported Principal ${JSON.stringify(principal)}`);
  for (const [kind, values] of Object.entries(principal as Record<string, unknown>)) {
    for (const v of list(values)) {
      if (kind === 'AWS') {
        if (v === '*') return true;
        // An account (id or root ARN) stands for every principal of the account.
        const account = /^\d{12}$/.test(v) ? v : /^arn:[^:]+:iam::(\d{12}):root$/.exec(v)?.[1];
        if (account !== undefined ? who.account === account : v === who.arn) return true;
      } else if (kind === 'Service') {
        if (who.service === v) return true;
      } else {
        throw new CannotEvaluateError(`unsupported principal kind ${kind}`);
      }
    }
  }
  return false;
}

type Matcher = (value: string, pattern: string) => boolean;

const OPERATORS: Record<string, { match: Matcher; negated: boolean }> = {
  StringEquals: { match: (v, p) => v === p, negated: false },
  StringNotEquals: { match: (v, p) => v === p, negated: true },
  StringEqualsIgnoreCase: { match: (v, p) => v.toLowerCase() === p.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { match: (v, p) => v.toLowerCase() === p.toLowerCase(), negated: true },
  StringLike: { match: (v, p) => wildcard(p, v, false), negated: false },
  StringNotLike: { match: (v, p) => wildcard(p, v, false), negated: true },
  ArnEquals: { match: (v, p) => arnLike(p, v), negated: false },
  ArnLike: { match: (v, p) => arnLike(p, v), negated: false },
  ArnNotEquals: { match: (v, p) => arnLike(p, v), negated: true },
  ArnNotLike: { match: (v, p) => arnLike(p, v), negated: true },
  Bool: { match: (v, p) => v.toLowerCase() === p.toLowerCase(), negated: false },
  NumericEquals: { match: (v, p) => Number(v) === Number(p), negated: false },
  NumericNotEquals: { match: (v, p) => Number(v) === Number(p), negated: true },
  NumericLessThan: { match: (v, p) => Number(v) < Number(p), negated: false },
  NumericLessThanEquals: { match: (v, p) => Number(v) <= Number(p), negated: false },
  NumericGreaterThan: { match: (v, p) => Number(v) > Number(p), negated: false },
  NumericGreaterThanEquals: { match: (v, p) => Number(v) >= Number(p), negated: false },
};

function lookup(context: Request['context'], key: string): readonly string[] | undefined {
  if (!context) return undefined;
  const wanted = key.toLowerCase();
  for (const [k, v] of Object.entries(context)) {
    if (k.toLowerCase() === wanted) return typeof v === 'string' ? [v] : v;
  }
  return undefined;
}

/** One operator on one key. */
function conditionHolds(operator: string, key: string, expected: readonly string[], ctx: Request['context']) {
  let set: 'all' | 'any' | undefined;
  let op = operator;
  if (op.startsWith('ForAllValues:')) {
    set = 'all';
    op = op.slice('ForAllValues:'.length);
  } else if (op.startsWith('ForAnyValue:')) {
    set = 'any';
    op = op.slice('ForAnyValue:'.length);
  }
  const ifExists = op.endsWith('IfExists');
  if (ifExists) op = op.slice(0, -'IfExists'.length);
  const actual = lookup(ctx, key);

  if (op === 'Null') {
    if (set) throw new CannotEvaluateError('Null takes no set operator');
    const wantAbsent = expected.some((e) => e.toLowerCase() === 'true');
    return wantAbsent ? actual === undefined : actual !== undefined;
  }
  const spec = OPERATORS[op];
  if (!spec) throw new CannotEvaluateError(`condition operator ${operator} is not supported`);
  // A value matches the operator when it matches any listed value (negated: none).
  const one = (value: string) => {
    const any = expected.some((p) => spec.match(value, p));
    return spec.negated ? !any : any;
  };
  if (set === 'all') return actual === undefined || actual.every(one);
  if (set === 'any') return actual?.some(one) ?? false;
  if (actual === undefined) return ifExists || spec.negated;
  if (actual.length !== 1)
    throw new CannotEvaluateError(`${key} has several values; ${operator} needs a set operator`);
  return one(actual[0] as string);
}

function conditionsHold(condition: Statement['Condition'], ctx: Request['context']): boolean {
  if (!condition) return true;
  return Object.entries(condition).every(([operator, block]) =>
    Object.entries(block).every(([key, value]) => conditionHolds(operator, key, list(value), ctx)),
  );
}

/** Whether a statement applies to the request (its effect aside). */
export function statementApplies(s: Statement, request: Request, resourcePolicy = false): boolean {
  if (s.NotPrincipal !== undefined) throw new CannotEvaluateError('NotPrincipal is not supported');
  if (resourcePolicy !== (s.Principal !== undefined))
    throw new CannotEvaluateError(
      resourcePolicy
        ? 'a resource policy statement needs a Principal'
        : 'an identity policy has no Principal',
    );
  if (s.Principal !== undefined && !principalMatches(s.Principal, request.principal)) return false;
  if (s.Action !== undefined && !actionMatches(list(s.Action), request.action)) return false;
  if (s.NotAction !== undefined && actionMatches(list(s.NotAction), request.action)) return false;
  if (s.Action === undefined && s.NotAction === undefined) throw new CannotEvaluateError('no Action');
  if (!resourcePolicy) {
    if (s.Resource !== undefined && !resourceMatches(list(s.Resource), request.resource)) return false;
    if (s.NotResource !== undefined && resourceMatches(list(s.NotResource), request.resource)) return false;
    if (s.Resource === undefined && s.NotResource === undefined) throw new CannotEvaluateError('no Resource');
  } else if (s.Resource !== undefined && !resourceMatches(list(s.Resource), request.resource)) {
    return false;
  }
  return conditionsHold(s.Condition, request.context);
}

export interface Applicable {
  readonly decision: Decision;
  /** The statements that decided: the denying ones, else the allowing ones. */
  readonly statements: readonly (string | undefined)[];
}

/**
 * The decision of identity policies (all of one principal) on a request: an explicit deny
 * wins, else an allow is needed.
 *
 * @example
 * evaluate([{ Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }], { action: 's3:getobject', resource: 'arn:aws:s3:::b/k' }).decision; // 'Allow'
 */
export function evaluate(policies: readonly Policy[], request: Request): Applicable {
  return decide(
    policies.flatMap((p) => statements(p)),
    request,
    false,
  );
}

/** The decision of a resource policy (a role's trust policy) alone on a request. */
export function evaluateResourcePolicy(policy: Policy, request: Request): Applicable {
  return decide(statements(policy), request, true);
}

function decide(all: readonly Statement[], request: Request, resourcePolicy: boolean): Applicable {
  const applying = all.filter((s) => statementApplies(s, request, resourcePolicy));
  const denies = applying.filter((s) => s.Effect === 'Deny');
  if (denies.length) return { decision: 'ExplicitDeny', statements: denies.map((s) => s.Sid) };
  const allows = applying.filter((s) => s.Effect === 'Allow');
  if (allows.length) return { decision: 'Allow', statements: allows.map((s) => s.Sid) };
  return { decision: 'ImplicitDeny', statements: [] };
}
