/**
 * The API's door (docs/architecture.md#who-may-link-what): who calls (the SigV4 principal API
 * Gateway's IAM authorizer passes, or what the local HTTP adapter passes in its place), the
 * guardrails no policy lifts, and the policies' answer for each operation. A request refused
 * here has changed nothing: it is answered before any write and any call into a member
 * account (the private-endpoint check of a private range only reads).
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { isAwsError } from '#aws/errors';
import type { TetherRuntime } from '#functions/runtime';
import { type Caller, callerFromArn, sourceIdentityOf } from '#link/caller';
import { type CidrGuardrails, cidrProblems, DEFAULT_CIDR_GUARDRAILS, hasPrivateRanges } from '#link/cidrs';
import { AccountNotReachableError } from '#link/errors';
import { awsPolicyProblems, identityProblems, parseRoleArn } from '#link/guardrails';
import type { Link, OnboardingRequest } from '#link/model';
import { clusterKey, linkNaturalKey } from '#link/names';
import { specsOf } from '#resources/plan';
import { describeCluster } from '#resources/resolve';
import { AccessPolicies, type Action, describeResource, type LinkResource } from './authorization';
import { ApiError, type FieldError } from './problems';

/** What the API checks every request against: the policies and the limits on CIDRs. */
export interface AccessControl {
  readonly policies: AccessPolicies;
  readonly cidrs: CidrGuardrails;
}

/**
 * The access control of the API: the policies of `dir` (else `TETHER_POLICY_DIR`, else the
 * repository's `policies/`), validated now — a bad policy file throws `PolicyFileError` —
 * and the CIDR limits (`TETHER_CIDR_WIDEST_PREFIX`, `TETHER_CIDRS_PER_LINK`).
 */
export function loadAccessControl(options: {
  readonly hubAccountId: string;
  readonly policyDir?: string;
  readonly cidrs?: Partial<CidrGuardrails>;
}): AccessControl {
  const fromEnv = (name: string): number | undefined => {
    const value = process.env[name];
    if (value === undefined || value === '') return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, not "${value}"`);
    return n;
  };
  const widestPrefix = options.cidrs?.widestPrefix ?? fromEnv('TETHER_CIDR_WIDEST_PREFIX');
  const maxCidrsPerLink = options.cidrs?.maxCidrsPerLink ?? fromEnv('TETHER_CIDRS_PER_LINK');
  return {
    policies: AccessPolicies.load({
      hubAccountId: options.hubAccountId,
      ...(options.policyDir ? { dir: options.policyDir } : {}),
    }),
    cidrs: {
      widestPrefix: widestPrefix ?? DEFAULT_CIDR_GUARDRAILS.widestPrefix,
      maxCidrsPerLink: maxCidrsPerLink ?? DEFAULT_CIDR_GUARDRAILS.maxCidrsPerLink,
    },
  };
}

/** The access control of the runtime (set by the local runtime, or by the API Lambda's cold start). */
export function accessControl(rt: TetherRuntime): AccessControl {
  if (!rt.access) throw new Error('The runtime has no access control: load the policies at start');
  return rt.access;
}

/** The IAM authorizer's part of an API Gateway HTTP API (payload 2.0) event. */
interface IamAuthorizer {
  readonly iam?: {
    readonly userArn?: unknown;
    readonly accountId?: unknown;
    readonly principalOrgId?: unknown;
  };
}

/**
 * The caller of a request: the principal API Gateway's IAM authorizer verified
 * (`requestContext.authorizer.iam`). The local HTTP adapter fills the same shape. A request
 * without one is refused: the API must sit behind IAM authorization.
 */
export function callerOf(event: APIGatewayProxyEventV2): Caller {
  const iam = (event.requestContext as { authorizer?: IamAuthorizer }).authorizer?.iam;
  const arn = typeof iam?.userArn === 'string' ? iam.userArn : undefined;
  const org = typeof iam?.principalOrgId === 'string' ? iam.principalOrgId : undefined;
  const caller = arn === undefined ? undefined : callerFromArn(arn, org);
  if (!caller) {
    throw new ApiError(
      'ACCESS_DENIED',
      'The request names no caller: the API answers requests signed with AWS Signature Version 4 only',
      { extensions: { action: 'any', resource: event.rawPath } },
    );
  }
  return caller;
}

/** The session of the API's own reads in member accounts: named `tether-api`, with the caller as source identity. */
export function apiSession(rt: TetherRuntime, caller: Caller): TetherRuntime {
  return {
    ...rt,
    clients: rt.clients.forSession({
      sessionName: 'tether-api',
      sourceIdentity: sourceIdentityOf(caller.arn),
    }),
  };
}

/**
 * An Idempotency-Key as the table keeps it: scoped to the caller, so a key names one
 * caller's request and another caller's use of it replays nothing.
 */
export function scopedIdempotencyKey(caller: Caller, key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  return `${createHash('sha256').update(caller.arn).digest('hex').slice(0, 16)}:${key}`;
}

function denied(
  caller: Caller,
  action: Action,
  resource: LinkResource,
  policies: readonly string[],
): ApiError {
  const what = describeResource(resource);
  const why = policies.length ? `forbidden by policy ${policies.join(', ')}` : 'no policy permits it';
  return new ApiError('ACCESS_DENIED', `${caller.arn} may not ${action} on ${what}: ${why}`, {
    extensions: {
      action,
      resource: 'link' in resource ? resource.link.id : linkNaturalKey(resource.spec),
      ...(policies.length ? { policies } : {}),
    },
  });
}

/** Throws ACCESS_DENIED (403) unless the policies allow the caller this action on the link. */
export function authorize(rt: TetherRuntime, caller: Caller, action: Action, link: Link): void {
  const resource = { link };
  const decision = accessControl(rt).policies.decide({ caller, action, resource });
  if (!decision.allowed) throw denied(caller, action, resource, decision.policies);
}

/** Whether the caller may read the link (`GET /links` lists only those). */
export function mayRead(rt: TetherRuntime, caller: Caller, link: Link): boolean {
  return accessControl(rt).policies.decide({ caller, action: 'ReadLink', resource: { link } }).allowed;
}

/**
 * Authorizes an operation on one link before it runs: nothing happens if the link does not
 * exist (the operation answers LINK_NOT_FOUND), ACCESS_DENIED if the policies refuse.
 */
export async function authorizeOnLink(
  rt: TetherRuntime,
  caller: Caller,
  action: Action,
  id: string,
): Promise<void> {
  const link = await rt.links.find(id);
  if (link) authorize(rt, caller, action, link);
}

/** What the policies said of each target of an onboarding request. */
export interface Admission {
  readonly caller: Caller;
  /** Natural keys of the targets that must wait for an approver. */
  readonly awaitingApproval: ReadonlySet<string>;
}

/** A target the policies refuse the caller, as a plan shows it. */
export interface DeniedTarget {
  readonly detail: string;
  readonly policies: readonly string[];
}

/** The admission of a plan: like {@link Admission}, and the targets the caller may not link. */
export interface PlanAdmission extends Admission {
  /** Natural key → why; these targets are not read. */
  readonly denied: ReadonlyMap<string, DeniedTarget>;
}

/**
 * Admits the request of a plan (`POST /plans`): as {@link admitRequest}, except that a target
 * the policies refuse is not an error but a `denied` entry of the plan — unless every target
 * is refused, which is ACCESS_DENIED as for `POST /links` (nothing would be read then).
 */
export async function admitPlan(
  rt: TetherRuntime,
  caller: Caller,
  request: OnboardingRequest,
): Promise<PlanAdmission> {
  const refused = new Map<string, DeniedTarget>();
  let first: ApiError | undefined;
  const control = accessControl(rt);
  for (const spec of specsOf(request)) {
    const resource = { spec, createdBy: caller };
    const once = control.policies.decide({ caller, action: 'CreateLink', resource, approved: true });
    if (once.allowed) continue;
    const now = control.policies.decide({ caller, action: 'CreateLink', resource, approved: false });
    const policies = once.policies.length ? once.policies : now.policies;
    const error = denied(caller, 'CreateLink', resource, policies);
    first ??= error;
    refused.set(linkNaturalKey(spec), { detail: error.message, policies });
  }
  if (first && refused.size === request.targets.length) throw first;
  const rest = {
    ...request,
    targets: request.targets.filter(
      (t) => !refused.has(linkNaturalKey({ source: request.source, target: t })),
    ),
  };
  const admission = await admitRequest(rt, caller, rest);
  return { ...admission, denied: refused };
}

/**
 * Admits an onboarding request, or refuses it with nothing changed:
 * 1. the guardrails no policy lifts — no workload linked to its own cluster, and explicit
 *    CIDRs within `#link/cidrs` (400 VALIDATION_FAILED, with the field of each problem);
 * 2. the policies, per target: `CreateLink` allowed as is, or only once approved (the target
 *    waits in AWAITING_APPROVAL), or not at all (403 ACCESS_DENIED);
 * 3. a private range only toward targets whose private endpoint is where the allowance takes
 *    effect (422 UNSUPPORTED_CLUSTER): read-only calls, in the caller's API session.
 */
export async function admitRequest(
  rt: TetherRuntime,
  caller: Caller,
  request: OnboardingRequest,
): Promise<Admission> {
  const control = accessControl(rt);
  const errors: FieldError[] = [];
  request.targets.forEach((target, i) => {
    if (clusterKey(target) === clusterKey(request.source)) {
      errors.push({
        path: `/targets/${i}`,
        in: 'body',
        message: `is the workload's own cluster ${clusterKey(target)}: access within a cluster is its own RBAC, not a cross-account link`,
      });
    }
  });
  for (const problem of identityProblems(request)) errors.push({ ...problem, in: 'body' });
  request.targets.forEach((t, i) => {
    for (const problem of awsPolicyProblems(t, `/targets/${i}`, request.identity)) {
      errors.push({ ...problem, in: 'body' });
    }
  });
  const principal = request.identity.mode === 'principal' ? request.identity.principalArn : undefined;
  if (principal !== undefined && parseRoleArn(principal)?.accountId === control.policies.hubAccountId) {
    errors.push({
      path: '/identity/principalArn',
      in: 'body',
      message: `${principal} is a role of Tether's own account, never a source principal`,
    });
  }
  if (request.network.mode === 'cidrs') {
    for (const { index, message } of cidrProblems(request.network.cidrs, control.cidrs)) {
      errors.push({ path: `/network/cidrs/${index}`, in: 'body', message });
    }
  }
  if (errors.length > 0) {
    throw new ApiError('VALIDATION_FAILED', `The request breaks ${errors.length} rule(s) no policy lifts`, {
      errors,
    });
  }

  const awaitingApproval = new Set<string>();
  for (const spec of specsOf(request)) {
    const resource = { spec, createdBy: caller };
    const now = control.policies.decide({ caller, action: 'CreateLink', resource, approved: false });
    if (now.allowed) continue;
    const once = control.policies.decide({ caller, action: 'CreateLink', resource, approved: true });
    if (!once.allowed)
      throw denied(caller, 'CreateLink', resource, once.policies.length ? once.policies : now.policies);
    awaitingApproval.add(linkNaturalKey(spec));
  }

  if (request.network.mode === 'cidrs' && hasPrivateRanges(request.network.cidrs)) {
    await assertPrivateEndpoints(apiSession(rt, caller), request);
  }
  return { caller, awaitingApproval };
}

/**
 * A private range is let in on the cluster security group, which governs the private
 * endpoint (docs/aws-facts.md#cluster-security-group-and-public-endpoint): a target without
 * one could never be reached from it.
 */
async function assertPrivateEndpoints(rt: TetherRuntime, request: OnboardingRequest): Promise<void> {
  const errors: FieldError[] = [];
  for (const [i, target] of request.targets.entries()) {
    const cluster = await describeCluster(rt.clients.eks(target.accountId, target.region), target).catch(
      (err: unknown) => {
        if (isAwsError(err, 'AccessDenied', 'AccessDeniedException')) {
          throw new AccountNotReachableError(`Tether may not describe cluster ${clusterKey(target)}`, {
            cause: err,
          });
        }
        throw err;
      },
    );
    if (cluster.resourcesVpcConfig?.endpointPrivateAccess !== true) {
      errors.push({
        path: `/targets/${i}`,
        in: 'body',
        message: `cluster ${clusterKey(target)} has no private endpoint, so a private range (peered or Transit Gateway sources) could never reach it; ask for the source's public egress CIDRs or nat`,
      });
    }
  }
  if (errors.length > 0) {
    throw new ApiError(
      'UNSUPPORTED_CLUSTER',
      'A private range is let in only where the target’s private endpoint takes it',
      { errors },
    );
  }
}
