/**
 * The plan (docs/architecture.md, "Workflows"): the read-only checks that find what would
 * make the onboard fail for certain — a request outside the guardrails (`#link/guardrails`:
 * a Region of another partition, an access policy not for workloads, a `system:` group, a
 * reserved username), a missing cluster, an account Tether cannot reach, a
 * source without an OIDC issuer, a CONFIG_MAP-only target asked for an access policy, an
 * existing link of the same workload → target with another spec — and what each target
 * would get, with the quota and conflict checks of `./quotas` (used / after / limit) for
 * each target the request would make or re-drive. `POST /plans` answers it; `POST /links`
 * runs it first and applies only a plan that holds. Domain errors only: the API maps their
 * codes to problems.
 */
import {
  AccountNotReachableError,
  ConflictUnmanagedResourceError,
  LinkSpecMismatchError,
  QuotaExceededError,
  UnsupportedClusterError,
} from '#link/errors';
import { cidrContains, isPrivateCidr } from '#link/cidr';
import { isAwsError } from '#aws/errors';
import { canonicalJson } from '#link/canonical-json';
import { assertRequestAllowed } from '#link/guardrails';
import { REDRIVABLE } from '#link/lifecycle';
import type { ClusterRef, Link, LinkSpec, OnboardingRequest, TargetRequest } from '#link/model';
import {
  clusterKey,
  isDirectAccess,
  podIdentityRoleName,
  targetRoleName,
  workloadRoleName,
} from '#link/names';
import { podIdentityConflict } from './pod-identity';
import { fingerprintOf, profileName, trustAnchorName } from './roles-anywhere';
import type { StepDeps } from './deps';
import { MAX_PUBLIC_ACCESS_CIDRS, publicAccessQuotaMessage } from './egress-allowance';
import { type QuotaCheck, QuotaReader, quotaChecks, rolesAddedBy } from './quotas';
import { assertSelfManagedNetwork, describeCluster } from './resolve';

/** One read-only check and what it found. */
export interface PlanCheck {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** What one target of the request would get. */
export interface TargetPlan {
  readonly spec: LinkSpec;
  readonly existing?: Link;
  /** `create` a new link, `redrive` a PENDING or FAILED one, or `none`: it exists as asked. */
  readonly action: 'create' | 'redrive' | 'none';
  /** Why the target cannot be applied as asked: an existing link with another spec. */
  readonly conflict?: LinkSpecMismatchError;
  /**
   * The quota and conflict checks of what the target would make (`./quotas`), when the
   * request would make or re-drive it; a failed one refuses the whole request.
   */
  readonly checks?: readonly QuotaCheck[];
}

export interface Plan {
  readonly checks: readonly PlanCheck[];
  readonly targets: readonly TargetPlan[];
}

/** One link spec per target of the request. */
export function specsOf(request: OnboardingRequest): LinkSpec[] {
  return request.targets.map((t) => ({
    source: request.source,
    target: { accountId: t.accountId, region: t.region, cluster: t.cluster },
    access: t.access,
    network: request.network,
    identity: request.identity,
    ...(t.awsPolicies?.length ? { awsPolicies: [...t.awsPolicies].sort() } : {}),
  }));
}

/** Describes every cluster of the request once; throws the domain error of the first that cannot take the link. */
export async function checkClusters(
  deps: Pick<StepDeps, 'clients' | 'clusters'>,
  request: OnboardingRequest,
  /** The plan's reader: the quota checks then find the clusters already read. */
  reader?: QuotaReader,
): Promise<PlanCheck[]> {
  const describe = (c: ClusterRef) =>
    reader ? reader.cluster(c) : describeCluster(deps.clients.eks(c.accountId, c.region), c);
  const checks: PlanCheck[] = [];
  const seen = new Map<string, Promise<void>>();
  // A source registered as self-managed is not EKS: Tether serves its issuer, and it has no VPC.
  const registered =
    request.identity.mode === 'principal' ? undefined : await deps.clusters?.get(request.source);
  if (registered) {
    assertSelfManagedNetwork(request);
    checks.push({
      check: `cluster ${clusterKey(request.source)}`,
      ok: true,
      detail: `self-managed, issuer ${registered.issuer} (served by Tether), keys ${registered.keys.map((k) => k.kid).join(', ')}`,
    });
  }
  // A `principal` source is a role, not a cluster Tether reads: its cluster need not be EKS.
  const clusters =
    request.identity.mode === 'principal' || registered
      ? request.targets
      : [request.source, ...request.targets];
  for (const c of clusters) {
    const key = clusterKey(c);
    if (seen.has(key)) continue;
    const isSource = c === request.source;
    seen.set(
      key,
      describe(c).then(
        (cluster) => {
          const mode = cluster.accessConfig?.authenticationMode ?? 'CONFIG_MAP';
          checks.push({
            check: `cluster ${key}`,
            ok: true,
            detail: `${cluster.status ?? 'ACTIVE'}, ${mode}`,
          });
          if (isSource && request.identity.mode === 'irsa' && !cluster.identity?.oidc?.issuer) {
            throw new UnsupportedClusterError(`Source cluster ${key} has no OIDC issuer, which irsa needs`);
          }
          if (!isSource && mode === 'CONFIG_MAP' && 'policyArn' in (c as TargetRequest).access) {
            throw new UnsupportedClusterError(
              `Target cluster ${key} uses the aws-auth ConfigMap only (CONFIG_MAP mode), which cannot attach EKS access policies: ask for Kubernetes groups`,
            );
          }
        },
        (err: unknown) => {
          if (isAwsError(err, 'AccessDenied', 'AccessDeniedException')) {
            throw new AccountNotReachableError(`Tether may not describe cluster ${key}`, { cause: err });
          }
          throw err;
        },
      ),
    );
  }
  await Promise.all(seen.values());
  return checks;
}

/**
 * The 40-CIDR limit of `publicAccessCidrs` (docs/aws-facts.md#eks), checked before anything
 * is written: for each target whose public endpoint is restricted, the CIDRs the link would
 * add (the source's NAT /32s or public CIDRs the list does not already hold) must fit.
 * Refuses with {@link QuotaExceededError} naming the figures.
 */
export async function checkPublicAccessQuota(
  deps: Pick<StepDeps, 'clients'>,
  request: OnboardingRequest,
  reader: QuotaReader = new QuotaReader(deps.clients),
): Promise<PlanCheck[]> {
  const { network, source } = request;
  if (network.mode === 'none') return [];
  let cidrs: string[];
  try {
    if (network.mode === 'cidrs') cidrs = network.cidrs.filter((c) => !isPrivateCidr(c));
    else {
      // Read once for the whole plan (the quota checks count the same NAT IPs).
      const vpcId = (await reader.cluster(source)).resourcesVpcConfig?.vpcId ?? '';
      // Private NAT gateways' addresses take effect on the security group, not here.
      cidrs = (await reader.natIps(source, vpcId)).map((ip) => `${ip}/32`).filter((c) => !isPrivateCidr(c));
    }
  } catch (err) {
    // A read that fails here (throttled, say) leaves the check to the egress step, which
    // makes it again before it writes: the plan refuses early only what is certain.
    return [
      {
        check: 'publicAccessCidrs',
        ok: true,
        detail: `not checked now (${(err as Error).name}); the egress step checks the limit before it writes`,
      },
    ];
  }
  if (cidrs.length === 0) return [];
  const checks: PlanCheck[] = [];
  for (const t of request.targets) {
    const vpc = (await reader.cluster(t)).resourcesVpcConfig;
    const list = vpc?.publicAccessCidrs ?? [];
    if (vpc?.endpointPublicAccess === false || list.includes('0.0.0.0/0')) continue;
    const needed = cidrs.filter((c) => !list.some((l) => cidrContains(l, c)));
    if (list.length + needed.length > MAX_PUBLIC_ACCESS_CIDRS) {
      throw new QuotaExceededError(publicAccessQuotaMessage(t.cluster, list.length, needed));
    }
    checks.push({
      check: `publicAccessCidrs of ${clusterKey(t)}`,
      ok: true,
      detail: `${list.length} of ${MAX_PUBLIC_ACCESS_CIDRS} CIDRs; the link adds ${needed.length}`,
    });
  }
  return checks;
}

/**
 * The whole plan of a request: the cluster checks, then per target whether a link exists
 * and what would happen to it. An existing link with another spec is a conflict that
 * {@link assertApplicable} refuses: a request never changes a link silently.
 *
 * @example
 * const plan = await planRequest(rt, request);
 * plan.targets.map((t) => t.action); // ['create']
 */
export async function planRequest(
  deps: Pick<StepDeps, 'clients' | 'links' | 'clusters'>,
  request: OnboardingRequest,
): Promise<Plan> {
  // A request that breaks the guardrails is refused before any account is read.
  assertRequestAllowed(request);
  const checks = [
    {
      check: 'request',
      ok: true,
      detail: 'Regions of the aws partition; EKS access policies, usernames and groups EKS accepts',
    },
  ];
  // One reader for the plan: each account, cluster and VPC is read once.
  const reader = new QuotaReader(deps.clients);
  checks.push(...(await checkClusters(deps, request, reader)));
  checks.push(...(await checkPublicAccessQuota(deps, request, reader)));
  const targets: TargetPlan[] = [];
  for (const spec of specsOf(request)) {
    const existing = await deps.links.findByNaturalKey(spec);
    const conflict = existing ? specConflict(existing, spec) : undefined;
    targets.push({
      spec,
      ...(existing ? { existing } : {}),
      ...(conflict ? { conflict } : {}),
      action: existing ? (REDRIVABLE.has(existing.status) ? 'redrive' : 'none') : 'create',
    });
  }
  // Mode pod-identity: the service account's one association must be free or this link's.
  if (request.identity.mode === 'pod-identity') {
    for (const t of targets) {
      if (t.action === 'none' || t.conflict) continue;
      const found = await podIdentityConflict(deps, t.spec);
      if (!found.ok) throw new ConflictUnmanagedResourceError(clusterKey(t.spec.source), found.detail);
      checks.push({ check: 'Pod Identity association', ok: true, detail: found.detail });
    }
  }
  // The quotas of what would be made: only for targets the request would make or re-drive.
  const making = targets.filter((t) => t.action !== 'none' && !t.conflict);
  const rolesAdded = await rolesAddedBy(
    reader,
    making.map((t) => t.spec),
  );
  const withQuotas: TargetPlan[] = [];
  const registered =
    request.identity.mode === 'principal' ? undefined : await deps.clusters?.get(request.source);
  for (const t of targets) {
    withQuotas.push(
      making.includes(t)
        ? { ...t, checks: await quotaChecks(reader, t.spec, rolesAdded, registered?.issuer) }
        : t,
    );
  }
  return { checks, targets: withQuotas };
}

/** The quota and conflict checks of a plan that fail, with their target. */
export function failedChecks(plan: Plan): { target: TargetPlan; check: QuotaCheck }[] {
  return plan.targets.flatMap((target) =>
    (target.checks ?? []).filter((c) => !c.ok).map((check) => ({ target, check })),
  );
}

/**
 * Why an existing link of the same workload → target cannot serve a request for `spec`: it
 * has another access, network or identity. A request never changes a link silently.
 */
export function specConflict(existing: Link, spec: LinkSpec): LinkSpecMismatchError | undefined {
  if (canonicalJson(existing.spec) === canonicalJson(spec)) return undefined;
  return new LinkSpecMismatchError(
    `Link ${existing.id} already links this workload to ${clusterKey(spec.target)} with another access, network or identity; delete it first, or ask for the same spec`,
  );
}

/** Throws the first conflict of a plan: nothing of it may be applied. */
export function assertApplicable(plan: Plan): void {
  const conflicted = plan.targets.find((t) => t.conflict);
  if (conflicted?.conflict) throw conflicted.conflict;
}

/** The names of what a target plan would make, as `POST /plans` shows them. */
export function plannedResources(spec: LinkSpec) {
  return {
    ...(spec.identity.mode === 'principal'
      ? { sourcePrincipal: `${spec.identity.principalArn} (not Tether's: never changed)` }
      : spec.identity.mode === 'pod-identity'
        ? {
            workloadRole: podIdentityRoleName(spec.source),
            podIdentityAssociation: `${spec.source.namespace}/${spec.source.serviceAccount} in ${spec.source.cluster} → ${targetRoleName(spec)}`,
          }
        : { workloadRole: workloadRoleName(spec.source) }),
    ...(spec.identity.mode === 'roles-anywhere'
      ? {
          trustAnchor: trustAnchorName(spec.source, fingerprintOf(spec.identity.caCertificate) ?? 'new-ca'),
          rolesAnywhereProfile: profileName(spec.source),
        }
      : {}),
    ...(isDirectAccess(spec) ? {} : { targetRole: targetRoleName(spec) }),
    ...(spec.awsPolicies ? { targetRolePolicies: spec.awsPolicies } : {}),
    accessEntry:
      'policyArn' in spec.access ? spec.access.policyArn : `groups ${spec.access.groups.join(',')}`,
    network: spec.network.mode,
  };
}
