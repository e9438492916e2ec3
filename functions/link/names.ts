/**
 * Deterministic names and keys. A link's resources are named from its spec alone, so a
 * re-run after a crash finds what the first run made, and the target role can be made
 * before the workload role exists (docs/architecture.md#onboard). Names stay within IAM's limits
 * (role names ≤ 64 characters of `[\w+=,.@-]`), whatever the input.
 */
import { createHash } from 'node:crypto';
import type { ClusterRef, LinkSpec, WorkloadRef } from './model';

/** Path of every role Tether makes, so the agent role can be scoped to it (docs/aws-facts.md#delegating-role-creation). */
export const TETHER_ROLE_PATH = '/tether/';

/** Short stable hash of parts (hex). */
export function shortHash(parts: readonly string[], length = 10): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, length);
}

/** Keeps only characters IAM allows in role names, and at most `max` of them. */
function iamSafe(text: string, max: number): string {
  return text.replace(/[^\w+=,.@-]/g, '-').slice(0, max);
}

export function clusterKey(c: ClusterRef): string {
  return `${c.accountId}/${c.region}/${c.cluster}`;
}

/** One service account in one cluster: the workload whose source role all its links share. */
export function workloadKey(w: WorkloadRef): string {
  return `${clusterKey(w)}/${w.namespace}/${w.serviceAccount}`;
}

/**
 * Identity of a link: one workload → one target cluster. `@` appears in no part of it and is
 * in IAM's tag character set, so the key can be an owner tag as it is.
 */
export function linkNaturalKey(spec: Pick<LinkSpec, 'source' | 'target'>): string {
  return `${workloadKey(spec.source)}@${clusterKey(spec.target)}`;
}

/**
 * Name of the workload role in the source account: readable prefix, hash for uniqueness.
 *
 * @example workloadRoleName(demo.source) // 'tether-w-kubeai-chatbot-kubeai-chatbot-3f9a0c1d2e'
 */
export function workloadRoleName(w: WorkloadRef): string {
  // 64 = 'tether-w-' (9) + up to 44 readable + '-' + 10 hash.
  return `tether-w-${iamSafe(`${w.namespace}-${w.serviceAccount}`, 44)}-${shortHash([workloadKey(w)])}`;
}

/**
 * Name of the workload role of mode `pod-identity` (trusted by EKS Pod Identity, not by an
 * OIDC provider): a name of its own, so an `irsa` link of the same service account keeps
 * its role and trust.
 */
export function podIdentityRoleName(w: WorkloadRef): string {
  return `tether-p-${iamSafe(`${w.namespace}-${w.serviceAccount}`, 44)}-${shortHash([workloadKey(w)])}`;
}

/** Name of the target role of one link, in the target account. */
export function targetRoleName(spec: Pick<LinkSpec, 'source' | 'target'>): string {
  return `tether-t-${iamSafe(`${spec.source.cluster}-${spec.source.serviceAccount}`, 44)}-${shortHash([linkNaturalKey(spec)])}`;
}

/**
 * Name of the onboard execution that drives a PENDING link at its version. A link is queued
 * (PENDING) at one version at a time and Step Functions refuses a second execution of one
 * name, so whoever starts the run of a PENDING link — the request that made it, another
 * request that found it — starts the same one: at most one run per link version.
 *
 * @example onboardExecutionName({ id: 'lnk_01J…', version: 1 }) // 'onboard-lnk_01J…-v1'
 */
export function onboardExecutionName(link: { readonly id: string; readonly version: number }): string {
  return `onboard-${link.id}-v${link.version}`;
}

export function roleArn(accountId: string, name: string, path = TETHER_ROLE_PATH): string {
  return `arn:aws:iam::${accountId}:role${path}${name}`;
}

/**
 * The IAM role the workload runs as, in the source account: the existing role a `principal`
 * link names, else Tether's workload role.
 */
export function sourceRoleArnOf(spec: Pick<LinkSpec, 'source' | 'identity'>): string {
  if (spec.identity.mode === 'principal' && spec.identity.principalArn) return spec.identity.principalArn;
  if (spec.identity.mode === 'pod-identity')
    return roleArn(spec.source.accountId, podIdentityRoleName(spec.source));
  return roleArn(spec.source.accountId, workloadRoleName(spec.source));
}

/** Whether the link's access entry names the source role itself (no target role, no role chain). */
export function isDirectAccess(spec: Pick<LinkSpec, 'identity'>): boolean {
  return spec.identity.mode === 'irsa' && spec.identity.directAccess === true;
}

/** Inline policy name on the workload role. */
export const WORKLOAD_POLICY_NAME = 'tether-assume-target-roles';
/** Inline policy name on the target role. */
export const TARGET_POLICY_NAME = 'tether-describe-cluster';

export function eksClusterArn(c: ClusterRef): string {
  return `arn:aws:eks:${c.region}:${c.accountId}:cluster/${c.cluster}`;
}

/** The issuer as IAM keys it: the URL without `https://`. */
export function issuerHostPath(issuerUrl: string): string {
  return issuerUrl.replace(/^https:\/\//, '').replace(/\/$/, '');
}

export function oidcProviderArn(accountId: string, issuerUrl: string): string {
  return `arn:aws:iam::${accountId}:oidc-provider/${issuerHostPath(issuerUrl)}`;
}

/**
 * Owner keys: what `tether:owner` says (through `ownerTagValue`) on each kind of resource,
 * and what Tether checks before it changes or deletes one.
 */
export const owners = {
  /** The OIDC provider of an issuer, shared by the issuer's links. */
  issuer: (issuerUrl: string) => `issuer:${issuerHostPath(issuerUrl)}`,
  /** The workload role, shared by the workload's links. */
  workload: (w: WorkloadRef) => `workload:${workloadKey(w)}`,
  /** The target role and the access entry of one link. */
  link: (spec: Pick<LinkSpec, 'source' | 'target'>) => `link:${linkNaturalKey(spec)}`,
  /**
   * Tether's ingress rules on one security group (the rule's own CIDR says which CIDR it lets
   * in), so one AuthorizeSecurityGroupIngress call makes the rules of every CIDR of a link.
   */
  egressGroup: (groupId: string) => `egress:${groupId}`,
  /** The owner key rules were tagged with before {@link owners.egressGroup}: still Tether's. */
  egress: (groupId: string, cidr: string) => `egress:${groupId}/${cidr}`,
};

/** The longest Kubernetes username Tether writes (what the API takes for a custom one). */
export const MAX_KUBERNETES_USERNAME = 255;

/** The session-name template EKS fills in; AWS recommends it only at the end of a username. */
export const SESSION_NAME_TEMPLATE = '{{SessionName}}';

/**
 * Kubernetes username of the link's target role in the target cluster: the request's
 * `username`, else `tether:<account>:<region>:<cluster>:<ns>:<sa>:{{SessionName}}` for the
 * source workload. It names the source account and cluster, so workloads of the same name in
 * different accounts or clusters stay apart in the target's audit log and RBAC, and ends with
 * `{{SessionName}}`, as AWS recommends for access entries (docs/aws-facts.md#access-entry-rules):
 * each session shows as itself and cannot pose as another name. It starts with `tether:`,
 * none of the prefixes EKS reserves. When that would pass {@link MAX_KUBERNETES_USERNAME}
 * characters, a hash of the workload stands for the region and cluster, and the namespace and
 * service account are cut to fit.
 *
 * @example kubernetesUsername(demo) // 'tether:111111111111:ap-southeast-1:cluster-a:kubeai-chatbot:kubeai-chatbot:{{SessionName}}'
 */
export function kubernetesUsername(spec: Pick<LinkSpec, 'source' | 'access'>): string {
  if (spec.access.username !== undefined) return spec.access.username;
  const { accountId, region, cluster, namespace, serviceAccount } = spec.source;
  const full = `tether:${accountId}:${region}:${cluster}:${namespace}:${serviceAccount}:${SESSION_NAME_TEMPLATE}`;
  if (full.length <= MAX_KUBERNETES_USERNAME) return full;
  const head = `tether:${accountId}:${shortHash([workloadKey(spec.source)], 16)}:`;
  const tail = `:${SESSION_NAME_TEMPLATE}`;
  return `${head}${`${namespace}:${serviceAccount}`.slice(0, MAX_KUBERNETES_USERNAME - head.length - tail.length)}${tail}`;
}

/**
 * The usernames Tether wrote by default before, still recognised as Tether's in `aws-auth`
 * (which carries no tags), so an entry Tether wrote earlier is brought to today's name
 * rather than taken for someone else's. Empty when the request names its own username.
 */
export function earlierKubernetesUsernames(spec: Pick<LinkSpec, 'source' | 'access'>): string[] {
  if (spec.access.username !== undefined) return [];
  return [`tether:${spec.source.cluster}:${spec.source.namespace}:${spec.source.serviceAccount}`];
}
