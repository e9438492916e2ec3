/**
 * Tether's IAM policy evaluator: it gives IAM's answer for one request against one policy
 * (or the identity policies of one principal), or says it cannot. Verify runs the role
 * chain through it hop by hop; the sandbox's STS decides AssumeRole with it.
 *
 * What it implements, from IAM's documentation (Policy evaluation logic; JSON policy
 * elements): an explicit Deny wins, then any Allow, else an implicit deny;
 * `Action`/`NotAction` (wildcards, case-insensitive), `Resource`/`NotResource` (ARN
 * components matched one by one, policy variables), `Principal`/`NotPrincipal` (accounts,
 * roles, role sessions, users, services, federated providers, `*`), and every condition
 * operator (./conditions.ts).
 *
 * "Cannot evaluate" is the third answer, never a silent allow nor a skipped Deny: an
 * element, operator or value it does not know makes its statement unknown (Kleene logic:
 * a statement that fails on another element still does not apply). An unknown Deny makes
 * the decision `CannotEvaluate` unless another Deny applies; an unknown Allow does unless
 * another Allow applies.
 *
 * Why not a library: the one complete evaluator on npm (`@cloud-copilot/iam-simulate`) is
 * AGPL-3.0, which a control plane that platform teams deploy cannot carry.
 */
import { conditionHolds, conditionShapeProblem } from './conditions';
import {
  all,
  any,
  arnMatch,
  asList,
  type ConditionEnv,
  type ContextValue,
  contextOf,
  isRecord,
  isUnknown,
  not,
  resolve,
  type Tri,
  unknown,
  wildcardMatch,
} from './match';
import { principalMatches, type RequestPrincipal } from './principals';

export { wildcardMatch };
export type { RequestPrincipal };

/** A condition value as a document may hold it. */
export type ConditionValue = string | number | boolean;

/** A policy statement (the elements IAM documents). */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Principal?: '*' | Readonly<Record<string, string | readonly string[]>>;
  readonly NotPrincipal?: '*' | Readonly<Record<string, string | readonly string[]>>;
  readonly Condition?: Readonly<
    Record<string, Readonly<Record<string, ConditionValue | readonly ConditionValue[]>>>
  >;
}

/** A policy document. Documents read from AWS are checked at evaluation, not trusted to fit this type. */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Id?: string;
  readonly Statement: PolicyStatement | readonly PolicyStatement[];
}

/** One request: who asks to do what to which resource, and the request context. */
export interface EvaluationRequest {
  readonly action: string;
  /** Resource ARN; omit for trust policies, which have no Resource element. */
  readonly resource?: string;
  /**
   * Who is asking, by principal type: an account id or root ARN, a role ARN, a role-session
   * ARN (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`), a user ARN; a service
   * (`eks.amazonaws.com`); a federated provider (an OIDC provider ARN).
   */
  readonly principal?: RequestPrincipal;
  /** Condition keys and values (names case-insensitive, as IAM); an array is a multivalued key. */
  readonly context?: Readonly<Record<string, ContextValue>>;
  /**
   * Whether `context` holds every key the real request carries (default true: a key it does
   * not list is absent). False when the caller models only some keys: a condition on a key
   * it does not list then cannot be evaluated.
   */
  readonly contextIsComplete?: boolean;
}

/** Which side of IAM the document sits on. */
export type PolicyType = 'identity' | 'resource';

/** How to read the document. */
export interface EvaluationOptions {
  /**
   * `identity`: attached to the principal, so `Principal` is ignored and `Resource` is
   * required; `resource` (a role trust policy, a bucket policy): `Principal` or
   * `NotPrincipal` is required. Default: `resource` when the request names a principal.
   */
  readonly policyType?: PolicyType;
}

/** IAM's answer, or `CannotEvaluate` when the document holds something this evaluator cannot judge. */
export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny' | 'CannotEvaluate';

/** A decision and, for `ExplicitDeny` and `CannotEvaluate`, which statement and element decided it. */
export interface Evaluation {
  readonly decision: Decision;
  readonly reason?: string;
}

/**
 * Parses a policy document as IAM returns it (URL-encoded JSON) or as JSON text.
 *
 * @throws SyntaxError when the text is not JSON, URIError when it is badly URL-encoded.
 */
export function parsePolicy(document: string): PolicyDocument {
  const text = document.trimStart().startsWith('{') ? document : decodeURIComponent(document);
  return JSON.parse(text) as PolicyDocument;
}

const isStringList = (v: unknown): v is string | readonly string[] =>
  typeof v === 'string' || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'));

const STATEMENT_ELEMENTS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);

function principalShapeProblem(name: string, p: unknown): string | undefined {
  if (p === '*') return undefined;
  if (!isRecord(p) || Object.keys(p).length === 0) return `${name} is neither "*" nor a map of principals`;
  for (const [type, ids] of Object.entries(p)) {
    if (!isStringList(ids)) return `${name} '${type}' is not a string or a list of strings`;
  }
  return undefined;
}

/** Why a statement is not shaped as IAM's grammar says (so it cannot be read at all), or undefined. */
function shapeProblem(st: Record<string, unknown>, policyType: PolicyType): string | undefined {
  const extra = Object.keys(st).find((k) => !STATEMENT_ELEMENTS.has(k));
  if (extra !== undefined) return `element '${extra}' is not one IAM documents`;
  if (st.Effect !== 'Allow' && st.Effect !== 'Deny')
    return `Effect ${JSON.stringify(st.Effect)} is neither Allow nor Deny`;
  if (st.Sid !== undefined && typeof st.Sid !== 'string') return 'Sid is not a string';
  const pairs = [
    ['Action', 'NotAction'],
    ['Resource', 'NotResource'],
  ] as const;
  for (const [yes, no] of pairs) {
    if (st[yes] !== undefined && st[no] !== undefined) return `it has both ${yes} and ${no}`;
    for (const name of [yes, no]) {
      if (st[name] !== undefined && !isStringList(st[name]))
        return `${name} is not a string or a list of strings`;
    }
  }
  if (st.Action === undefined && st.NotAction === undefined) return 'it has neither Action nor NotAction';
  if (policyType === 'identity') {
    if (st.Resource === undefined && st.NotResource === undefined) {
      return 'an identity policy statement needs Resource or NotResource';
    }
    // IAM: "You cannot use the NotPrincipal element in an IAM identity-based policy"; ignoring
    // it could widen a Deny or an Allow, so it is not silently dropped like Principal is.
    if (st.NotPrincipal !== undefined) return 'NotPrincipal in an identity policy';
  } else {
    if (st.Principal !== undefined && st.NotPrincipal !== undefined)
      return 'it has both Principal and NotPrincipal';
    if (st.Principal === undefined && st.NotPrincipal === undefined) {
      return 'a resource policy statement needs Principal or NotPrincipal';
    }
    for (const name of ['Principal', 'NotPrincipal'] as const) {
      const problem = st[name] === undefined ? undefined : principalShapeProblem(name, st[name]);
      if (problem) return problem;
    }
  }
  return st.Condition === undefined ? undefined : conditionShapeProblem(st.Condition);
}

const ACTION = /^[^:\s]+:[^:\s]+$/;

/** `Action`: any pattern matches the action, case-insensitively. */
function actionListed(patterns: readonly unknown[], action: string): Tri {
  return any(
    patterns.map((p) => {
      const s = String(p);
      if (s === '*') return true;
      return ACTION.test(s) ? wildcardMatch(s, action, true) : unknown(`'${s}' is not an action`);
    }),
  );
}

/** The ARN's first five components: IAM takes policy variables only after them. */
const ARN_PREFIX = /^([^:]*:){5}/;

/** `Resource`: any pattern matches the resource ARN. `negated`: the list is a `NotResource`. */
function resourceListed(
  patterns: readonly unknown[],
  resource: string | undefined,
  env: ConditionEnv,
  negated: boolean,
): Tri {
  return any(
    patterns.map((p): Tri => {
      const s = String(p);
      if (s === '*') return true;
      if (resource === undefined) return unknown(`'${s}' names a resource and the request names none`);
      const prefix = ARN_PREFIX.exec(s)?.[0] ?? s;
      if (env.variables && prefix.includes('${')) {
        return unknown(`'${s}' has a policy variable before the resource part of the ARN`);
      }
      const resolved = resolve(s, env.context, env.variables);
      if ('cannotEvaluate' in resolved) return resolved;
      // A variable whose key is absent matches nothing; in a NotResource that would apply the
      // statement everywhere, and IAM only says such a statement "might be invalid".
      if ('never' in resolved) return negated ? unknown(`${resolved.never}, in NotResource`) : false;
      return arnMatch(resolved.parts, resource);
    }),
  );
}

/** Whether one well-shaped statement applies to the request. */
function statementApplies(
  st: Record<string, unknown>,
  request: EvaluationRequest,
  env: ConditionEnv,
  policyType: PolicyType,
): Tri {
  return all(
    (function* () {
      if (st.Action !== undefined) yield actionListed(asList(st.Action), request.action);
      else yield not(actionListed(asList(st.NotAction), request.action));
      if (st.Resource !== undefined) yield resourceListed(asList(st.Resource), request.resource, env, false);
      else if (st.NotResource !== undefined) {
        yield not(resourceListed(asList(st.NotResource), request.resource, env, true));
      }
      // In an identity policy the principal is the identity the policy is attached to.
      if (policyType === 'resource') yield principalMatches(st, request.principal);
      if (st.Condition !== undefined) yield conditionHolds(st.Condition as Record<string, unknown>, env);
    })(),
  );
}

/** One statement's effect (undefined when unreadable) and whether it applies. */
interface Judged {
  readonly effect?: 'Allow' | 'Deny';
  readonly applies: Tri;
  readonly label: string;
}

function judgeDocument(
  policy: unknown,
  label: string,
  request: EvaluationRequest,
  policyType: PolicyType,
): readonly Judged[] {
  const broken = (reason: string): Judged[] => [{ applies: unknown(reason), label: label || 'the policy' }];
  if (!isRecord(policy)) return broken('the policy is not a JSON object');
  const extra = Object.keys(policy).find((k) => k !== 'Version' && k !== 'Id' && k !== 'Statement');
  if (extra !== undefined) return broken(`policy element '${extra}' is not one IAM documents`);
  const version = policy.Version;
  if (version !== undefined && version !== '2012-10-17' && version !== '2008-10-17') {
    return broken(`Version ${JSON.stringify(version)} is not one IAM documents`);
  }
  if (!isRecord(policy.Statement) && !Array.isArray(policy.Statement))
    return broken('Statement is missing or is neither a statement nor a list of them');
  const env: ConditionEnv = {
    context: contextOf(request.context, request.contextIsComplete ?? true),
    // IAM: variables exist from version 2012-10-17; before it `${…}` is literal text.
    variables: version === '2012-10-17',
  };
  return asList(policy.Statement).map((st, i): Judged => {
    const sid = isRecord(st) && typeof st.Sid === 'string' && st.Sid ? ` (${st.Sid})` : '';
    const at = `${label ? `${label}, ` : ''}statement ${i + 1}${sid}`;
    if (!isRecord(st)) return { applies: unknown('it is not an object'), label: at };
    const effect = st.Effect === 'Allow' || st.Effect === 'Deny' ? st.Effect : undefined;
    const problem = shapeProblem(st, policyType);
    const applies = problem ? unknown(problem) : statementApplies(st, request, env, policyType);
    return { ...(effect ? { effect } : {}), applies, label: at };
  });
}

const why = (j: Judged): string =>
  isUnknown(j.applies) ? `${j.label}: ${j.applies.cannotEvaluate}` : j.label;

/** IAM's evaluation logic over judged statements: Deny, then Allow, then implicit deny. */
function decide(judged: readonly Judged[]): Evaluation {
  const denies = judged.filter((j) => j.effect !== 'Allow'); // an unreadable Effect may be a Deny
  const deny = denies.find((j) => j.applies === true);
  if (deny) return { decision: 'ExplicitDeny', reason: `explicit Deny in ${deny.label}` };
  const maybeDeny = denies.find((j) => isUnknown(j.applies));
  if (maybeDeny) return { decision: 'CannotEvaluate', reason: why(maybeDeny) };
  const allows = judged.filter((j) => j.effect === 'Allow');
  if (allows.some((j) => j.applies === true)) return { decision: 'Allow' };
  const maybeAllow = allows.find((j) => isUnknown(j.applies));
  if (maybeAllow) return { decision: 'CannotEvaluate', reason: why(maybeAllow) };
  return { decision: 'ImplicitDeny' };
}

const policyTypeOf = (request: EvaluationRequest, options: EvaluationOptions): PolicyType =>
  options.policyType ?? (request.principal ? 'resource' : 'identity');

/**
 * Evaluates one policy for one request.
 *
 * @example
 * evaluatePolicy(trust, { action: 'sts:AssumeRole', principal: { type: 'AWS', id: workloadRoleArn },
 *   context: { 'aws:PrincipalArn': workloadRoleArn } }, { policyType: 'resource' })
 * // { decision: 'Allow' }
 */
export function evaluatePolicy(
  policy: PolicyDocument,
  request: EvaluationRequest,
  options: EvaluationOptions = {},
): Evaluation {
  return decide(judgeDocument(policy, '', request, policyTypeOf(request, options)));
}

/**
 * Evaluates several policies of one kind together, as IAM does for the identity policies of
 * one principal: a Deny in any of them wins, an Allow in any of them allows.
 */
export function evaluatePolicies(
  policies: readonly PolicyDocument[],
  request: EvaluationRequest,
  options: EvaluationOptions = {},
): Evaluation {
  const type = policyTypeOf(request, options);
  return decide(policies.flatMap((p, i) => judgeDocument(p, `policy ${i + 1}`, request, type)));
}
