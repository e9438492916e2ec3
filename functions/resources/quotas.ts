/**
 * The quota and conflict checks of a plan (docs/architecture.md, "Workflows"): what would
 * otherwise fail half way through an onboard, found by reading both accounts first, with its
 * figures — what is used now, what it would be after the link, and the limit.
 *
 * | check | where | limit |
 * |---|---|---|
 * | `trust-policy-size` | each role Tether writes | 2,048 characters, whitespace not counted (adjustable to 4,096) |
 * | `inline-policies-size` | each role Tether writes | 10,240 characters for all inline policies of the role together |
 * | `oidc-providers` | source account | 100 |
 * | `roles` | source and target accounts | 1,000 (adjustable) |
 * | `access-entries` | target cluster | 3,000 |
 * | `security-group-inbound-rules` | the target's cluster security group | 60 (adjustable; a referenced prefix list counts as its MaxEntries) |
 * | `access-entry-conflict` | target cluster | an entry for the target role that Tether did not make and that grants other access |
 *
 * An adjustable limit (trust policy size, OIDC providers, roles, inbound rules) is the value
 * Service Quotas applies to the account (`./service-quotas`), else AWS's default with the
 * reason; a fixed one is AWS's documented limit (docs/aws-facts.md#iam-quotas, #eks-quotas,
 * #service-quotas). Each check says which in `limitSource`.
 *
 * Every call here is a read (Get/List/Describe): a plan changes nothing.
 */
import { DescribeSecurityGroupRulesCommand, type SecurityGroupRule } from '@aws-sdk/client-ec2';
import {
  type AccessEntry,
  DescribeAccessEntryCommand,
  ListAccessEntriesCommand,
  ListAssociatedAccessPoliciesCommand,
} from '@aws-sdk/client-eks';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  type IAMClient,
  ListOpenIDConnectProvidersCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
} from '@aws-sdk/client-iam';
import type { AwsClients } from '#aws/clients';
import { classifyAwsError, isAwsError } from '#aws/errors';
import { ThrottledError } from '#link/errors';
import type { ClusterRef, LinkSpec } from '#link/model';
import { isPrivateCidr } from '#link/cidr';
import {
  eksClusterArn,
  isDirectAccess,
  oidcProviderArn,
  owners,
  podIdentityRoleName,
  roleArn,
  sourceRoleArnOf,
  TARGET_POLICY_NAME,
  targetRoleName,
  WORKLOAD_POLICY_NAME,
  workloadRoleName,
} from '#link/names';
import type { PolicyDocument } from '#link/policy/evaluate';
import { isOwnedBy } from '#link/tags';
import {
  EGRESS_PORT,
  inboundRuleWeight,
  MAX_INBOUND_RULES,
  referencedPrefixListEntries,
  ruleAllowing,
} from './egress-allowance';
import {
  type AdjustableQuotaName,
  appliedIamQuotas,
  appliedQuota,
  FIXED_LIMIT_SOURCE,
  type QuotaLimit,
} from './service-quotas';
import { listPodIdentityAssociations, podIdentityTargetTrustPolicy } from './pod-identity';
import {
  fingerprintOf,
  listProfiles,
  listTrustAnchors,
  profileName,
  trustAnchorName,
} from './roles-anywhere';
import { describeCluster, natGatewayIps } from './resolve';
import { targetPolicy, targetTrustPolicy } from './target-role';
import { workloadPolicy, workloadTrustPolicy } from './workload-role';

/** AWS's documented default limits (docs/aws-facts.md), which the checks judge against. */
export const QUOTA_LIMITS = {
  /** IAM: role trust policy length, whitespace not counted; adjustable up to 4,096. */
  trustPolicySize: 2048,
  /** IAM: all inline policies of one role together, whitespace not counted. */
  inlinePoliciesSize: 10_240,
  /** IAM: OIDC identity providers per account. */
  oidcProviders: 100,
  /** IAM: roles per account (adjustable). */
  roles: 1000,
  /** EKS: access entries per cluster. */
  accessEntries: 3000,
  /** VPC: inbound rules per security group (IPv4 and IPv6 counted apart). */
  inboundRules: MAX_INBOUND_RULES,
  /** IAM Roles Anywhere: trust anchors per account and Region (docs/aws-facts.md#roles-anywhere). */
  trustAnchors: 50,
  /** IAM Roles Anywhere: profiles per account and Region. */
  rolesAnywhereProfiles: 250,
  /** EKS: Pod Identity associations per cluster. */
  podIdentityAssociations: 5000,
} as const;

/** Where a fixed limit comes from, as each check states it. */
export const DEFAULT_LIMIT_SOURCE = FIXED_LIMIT_SOURCE;

const fixed = (value: number): QuotaLimit => ({ value, source: FIXED_LIMIT_SOURCE });

/** One quota or conflict check of one target, with its figures when it counts something. */
export interface QuotaCheck {
  readonly check:
    | 'trust-policy-size'
    | 'inline-policies-size'
    | 'oidc-providers'
    | 'roles'
    | 'access-entries'
    | 'security-group-inbound-rules'
    | 'access-entry-conflict'
    | 'trust-anchors'
    | 'roles-anywhere-profiles'
    | 'pod-identity-associations';
  /** What it is counted on: a role ARN, an account, a cluster ARN, a security group. */
  readonly scope: string;
  readonly ok: boolean;
  /** Now. */
  readonly used?: number;
  /** Once the link is made. */
  readonly after?: number;
  readonly limit?: number;
  readonly limitSource?: string;
  readonly detail: string;
}

/**
 * One read, retried when AWS throttles it (up to 3 attempts, jittered backoff): the plan runs
 * in the API request, with no state machine to retry it, and a throttled read must not fail
 * the request. Anything else fails at once.
 */
export async function read<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= 3 || !(classifyAwsError(err) instanceof ThrottledError)) throw err;
      const wait = 50 * 2 ** (attempt - 1);
      await new Promise((r) => setTimeout(r, wait / 2 + Math.random() * wait));
    }
  }
}

/** IAM's measure of a policy document: its characters, whitespace not counted. */
export function policySize(document: PolicyDocument | string): number {
  const text = typeof document === 'string' ? decodePolicy(document) : JSON.stringify(document);
  return text.replace(/\s/g, '').length;
}

/** IAM answers policy documents URL-encoded (the SDK passes them on as they come). */
function decodePolicy(text: string): string {
  if (text.trimStart().startsWith('{')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function counted(
  check: QuotaCheck['check'],
  scope: string,
  used: number,
  after: number,
  quota: QuotaLimit,
  what: string,
): QuotaCheck {
  const limit = quota.value;
  const ok = after <= limit;
  return {
    check,
    scope,
    ok,
    used,
    after,
    limit,
    limitSource: quota.source,
    detail: `${what}: ${used} now, ${after} after the link, limit ${limit}${ok ? '' : ' — would be exceeded'}`,
  };
}

/** Reads shared by the targets of one request: each account and cluster is counted once. */
export class QuotaReader {
  readonly #clients: AwsClients;
  readonly #cache = new Map<string, Promise<unknown>>();

  constructor(clients: AwsClients) {
    this.#clients = clients;
  }

  #once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let p = this.#cache.get(key) as Promise<T> | undefined;
    if (!p) {
      p = read();
      this.#cache.set(key, p);
    }
    return p;
  }

  /** The names of the account's Roles Anywhere trust anchors in the Region (all pages), read once. */
  trustAnchorNames(accountId: string, region: string): Promise<string[]> {
    return this.#once(`anchors:${accountId}/${region}`, () =>
      read(async () =>
        (await listTrustAnchors(this.#clients.rolesAnywhere(accountId, region))).map((a) => a.name ?? ''),
      ),
    );
  }

  /** The names of the account's Roles Anywhere profiles in the Region (all pages), read once. */
  profileNames(accountId: string, region: string): Promise<string[]> {
    return this.#once(`profiles:${accountId}/${region}`, () =>
      read(async () =>
        (await listProfiles(this.#clients.rolesAnywhere(accountId, region))).map((p) => p.name ?? ''),
      ),
    );
  }

  /** The cluster's Pod Identity associations (all pages), read once. */
  podIdentityAssociations(ref: ClusterRef): Promise<{ namespace?: string; serviceAccount?: string }[]> {
    return this.#once(`pod-identity:${ref.accountId}/${ref.region}/${ref.cluster}`, () =>
      read(() => listPodIdentityAssociations(this.#clients.eks(ref.accountId, ref.region), ref.cluster)),
    );
  }

  /** Every role of the account (ListRoles, all pages): their number, and whether `name` is one. */
  roleNames(accountId: string): Promise<Set<string>> {
    return this.#once(`roles:${accountId}`, async () => {
      const iam = this.#clients.iam(accountId);
      const names = new Set<string>();
      let marker: string | undefined;
      do {
        const page = await read(() =>
          iam.send(new ListRolesCommand({ ...(marker ? { Marker: marker } : {}) })),
        );
        for (const r of page.Roles ?? []) if (r.RoleName) names.add(r.RoleName.toLowerCase());
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
      return names;
    });
  }

  oidcProviderArns(accountId: string): Promise<string[]> {
    return this.#once(`oidc:${accountId}`, async () => {
      const out = await read(() =>
        this.#clients.iam(accountId).send(new ListOpenIDConnectProvidersCommand({})),
      );
      return (out.OpenIDConnectProviderList ?? []).map((p) => p.Arn ?? '');
    });
  }

  accessEntries(spec: LinkSpec): Promise<string[]> {
    const { accountId, region, cluster } = spec.target;
    return this.#once(`entries:${accountId}/${region}/${cluster}`, async () => {
      const eks = this.#clients.eks(accountId, region);
      const arns: string[] = [];
      let token: string | undefined;
      do {
        const page = await read(() =>
          eks.send(
            new ListAccessEntriesCommand({ clusterName: cluster, ...(token ? { nextToken: token } : {}) }),
          ),
        );
        arns.push(...(page.accessEntries ?? []));
        token = page.nextToken;
      } while (token);
      return arns;
    });
  }

  ingressRules(accountId: string, region: string, groupId: string): Promise<SecurityGroupRule[]> {
    return this.#once(`rules:${accountId}/${region}/${groupId}`, async () => {
      const ec2 = this.#clients.ec2(accountId, region);
      const rules: SecurityGroupRule[] = [];
      let token: string | undefined;
      do {
        const out = await read(() =>
          ec2.send(
            new DescribeSecurityGroupRulesCommand({
              Filters: [{ Name: 'group-id', Values: [groupId] }],
              ...(token ? { NextToken: token } : {}),
            }),
          ),
        );
        rules.push(...(out.SecurityGroupRules ?? []).filter((r) => !r.IsEgress));
        token = out.NextToken;
      } while (token);
      return rules;
    });
  }

  /** The inbound rules the group counts against its quota (prefix lists as their MaxEntries). */
  inboundWeight(accountId: string, region: string, groupId: string): Promise<number> {
    return this.#once(`weight:${accountId}/${region}/${groupId}`, async () =>
      read(async () =>
        inboundRuleWeight(
          this.#clients.ec2(accountId, region),
          await this.ingressRules(accountId, region, groupId),
        ),
      ),
    );
  }

  /** The egress addresses of the VPC's NAT gateways (`natGatewayIps`), read once. */
  natIps(source: Pick<ClusterRef, 'accountId' | 'region'>, vpcId: string): Promise<string[]> {
    const { accountId, region } = source;
    return this.#once(`nat:${accountId}/${region}/${vpcId}`, () =>
      read(() => natGatewayIps(this.#clients.ec2(accountId, region), vpcId)),
    );
  }

  cluster(ref: ClusterRef) {
    return this.#once(`cluster:${ref.accountId}/${ref.region}/${ref.cluster}`, () =>
      read(() => describeCluster(this.#clients.eks(ref.accountId, ref.region), ref)),
    );
  }

  /** The limit of an adjustable quota in the account (Service Quotas, else the AWS default), read once. */
  limit(name: AdjustableQuotaName, accountId: string, region: string): Promise<QuotaLimit> {
    if (name === 'inboundRules') {
      return this.#once(`quota:${name}:${accountId}/${region}`, () =>
        appliedQuota(this.#clients, accountId, region, name),
      );
    }
    // IAM's quotas are global: one list per account answers the three.
    return this.#once(`iam-quotas:${accountId}`, () => appliedIamQuotas(this.#clients, accountId)).then(
      (limits) => limits[name],
    );
  }

  iam(accountId: string): IAMClient {
    return this.#clients.iam(accountId);
  }

  ec2(accountId: string, region: string) {
    return this.#clients.ec2(accountId, region);
  }

  eks(spec: LinkSpec) {
    return this.#clients.eks(spec.target.accountId, spec.target.region);
  }
}

/** The trust and inline policy sizes of one role once Tether has written its own documents. */
async function roleSizeChecks(
  reader: QuotaReader,
  accountId: string,
  name: string,
  trust: PolicyDocument,
  ownPolicyName: string,
  ownPolicy: PolicyDocument,
): Promise<QuotaCheck[]> {
  const iam = reader.iam(accountId);
  let currentTrust = 0;
  let others = 0;
  let currentOwn = 0;
  try {
    const role = (await read(() => iam.send(new GetRoleCommand({ RoleName: name })))).Role;
    currentTrust = role?.AssumeRolePolicyDocument ? policySize(role.AssumeRolePolicyDocument) : 0;
    let marker: string | undefined;
    const names: string[] = [];
    do {
      const page = await read(() =>
        iam.send(new ListRolePoliciesCommand({ RoleName: name, ...(marker ? { Marker: marker } : {}) })),
      );
      names.push(...(page.PolicyNames ?? []));
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    for (const policyName of names) {
      const doc = (
        await read(() => iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: policyName })))
      ).PolicyDocument;
      const size = doc ? policySize(doc) : 0;
      if (policyName === ownPolicyName) currentOwn = size;
      else others += size;
    }
  } catch (err) {
    if (!isAwsError(err, 'NoSuchEntity')) throw err;
  }
  const arn = roleArn(accountId, name);
  return [
    counted(
      'trust-policy-size',
      arn,
      currentTrust,
      policySize(trust),
      await reader.limit('trustPolicySize', accountId, ''),
      `trust policy of ${arn} (characters)`,
    ),
    counted(
      'inline-policies-size',
      arn,
      others + currentOwn,
      others + policySize(ownPolicy),
      fixed(QUOTA_LIMITS.inlinePoliciesSize),
      `inline policies of ${arn} together (characters)`,
    ),
  ];
}

/**
 * Who the access entry of the target role belongs to: nobody yet, Tether (this link), or
 * someone else — which is adopted when it grants exactly the asked-for access
 * (docs/architecture.md#ownership) and a conflict otherwise.
 */
async function accessEntryConflict(reader: QuotaReader, spec: LinkSpec): Promise<QuotaCheck> {
  const principalArn = isDirectAccess(spec)
    ? sourceRoleArnOf(spec)
    : roleArn(spec.target.accountId, targetRoleName(spec));
  const eks = reader.eks(spec);
  const clusterName = spec.target.cluster;
  let entry: AccessEntry | undefined;
  try {
    entry = (await read(() => eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn }))))
      .accessEntry;
  } catch (err) {
    if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
  }
  const scope = eksClusterArn(spec.target);
  if (!entry) {
    return {
      check: 'access-entry-conflict',
      scope,
      ok: true,
      detail: `no access entry for ${principalArn} yet`,
    };
  }
  if (isOwnedBy(entry.tags ?? {}, owners.link(spec))) {
    return {
      check: 'access-entry-conflict',
      scope,
      ok: true,
      detail: `the access entry for ${principalArn} is Tether's, for this link: brought to the spec`,
    };
  }
  const access = spec.access;
  let grantsExactly: boolean;
  if ('policyArn' in access) {
    const associated =
      (await read(() => eks.send(new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn }))))
        .associatedAccessPolicies ?? [];
    grantsExactly =
      associated.length === 1 &&
      associated[0]?.policyArn === access.policyArn &&
      associated[0]?.accessScope?.type === access.scope.type &&
      (access.scope.type !== 'namespace' ||
        [...(associated[0]?.accessScope?.namespaces ?? [])].sort().join() ===
          [...access.scope.namespaces].sort().join());
  } else {
    grantsExactly = [...(entry.kubernetesGroups ?? [])].sort().join() === [...access.groups].sort().join();
  }
  return {
    check: 'access-entry-conflict',
    scope,
    ok: grantsExactly,
    detail: grantsExactly
      ? `an access entry for ${principalArn} that Tether did not make grants exactly the asked-for access: used as it is, not managed`
      : `an access entry for ${principalArn} exists that Tether did not make and that grants other access: a conflict (CONFLICT_UNMANAGED_RESOURCE); remove it or ask for the access it grants`,
  };
}

/**
 * The quota and conflict checks of one target of a request. `rolesAdded` says how many roles
 * the whole request would add per account (its targets share accounts).
 */
export async function quotaChecks(
  reader: QuotaReader,
  spec: LinkSpec,
  rolesAdded: ReadonlyMap<string, number>,
  /** The issuer Tether serves for a self-managed source (which is not read from EKS). */
  selfManagedIssuer?: string,
): Promise<QuotaCheck[]> {
  const { source, target } = spec;
  const checks: QuotaCheck[] = [];
  // A `principal` source is a role, not a cluster Tether reads (nothing of it is made).
  const irsa = spec.identity.mode === 'irsa';
  // The source cluster's VPC holds the NAT gateways a `nat` network lets in.
  const natSource = spec.network.mode === 'nat' && spec.identity.mode !== 'principal';
  const [sourceCluster, targetCluster] = await Promise.all([
    (irsa && selfManagedIssuer === undefined) || natSource
      ? reader.cluster(source)
      : Promise.resolve(undefined),
    reader.cluster(target),
  ]);
  const issuer = selfManagedIssuer ?? sourceCluster?.identity?.oidc?.issuer ?? '';
  const workloadName = workloadRoleName(source);
  const direct = isDirectAccess(spec);

  // Source account: the OIDC provider and the workload role (irsa).
  if (spec.identity.mode === 'irsa' && issuer) {
    const providers = await reader.oidcProviderArns(source.accountId);
    const has = providers.includes(oidcProviderArn(source.accountId, issuer));
    checks.push(
      counted(
        'oidc-providers',
        `account ${source.accountId}`,
        providers.length,
        providers.length + (has ? 0 : 1),
        await reader.limit('oidcProviders', source.accountId, ''),
        `OIDC providers in ${source.accountId}`,
      ),
    );
    checks.push(
      ...(await roleSizeChecks(
        reader,
        source.accountId,
        workloadName,
        workloadTrustPolicy(source.accountId, issuer, source),
        WORKLOAD_POLICY_NAME,
        workloadPolicy(source),
      )),
    );
  }

  // Source account: mode roles-anywhere's trust anchor (one per cluster and CA) and profile
  // (one per workload), mode pod-identity's association (one per service account).
  if (spec.identity.mode === 'roles-anywhere') {
    const anchors = await reader.trustAnchorNames(source.accountId, source.region);
    const ca = spec.identity.caCertificate;
    const anchor = ca ? trustAnchorName(source, fingerprintOf(ca) ?? '') : undefined;
    checks.push(
      counted(
        'trust-anchors',
        `account ${source.accountId} in ${source.region}`,
        anchors.length,
        anchors.length + (anchor && anchors.includes(anchor) ? 0 : 1),
        fixed(QUOTA_LIMITS.trustAnchors),
        `Roles Anywhere trust anchors in ${source.accountId}/${source.region}`,
      ),
    );
    const profiles = await reader.profileNames(source.accountId, source.region);
    checks.push(
      counted(
        'roles-anywhere-profiles',
        `account ${source.accountId} in ${source.region}`,
        profiles.length,
        profiles.length + (profiles.includes(profileName(source)) ? 0 : 1),
        fixed(QUOTA_LIMITS.rolesAnywhereProfiles),
        `Roles Anywhere profiles in ${source.accountId}/${source.region}`,
      ),
    );
  }
  if (spec.identity.mode === 'pod-identity') {
    const associations = await reader.podIdentityAssociations(source);
    const has = associations.some(
      (a) => a.namespace === source.namespace && a.serviceAccount === source.serviceAccount,
    );
    checks.push(
      counted(
        'pod-identity-associations',
        eksClusterArn(source),
        associations.length,
        associations.length + (has ? 0 : 1),
        fixed(QUOTA_LIMITS.podIdentityAssociations),
        `Pod Identity associations of ${source.cluster}`,
      ),
    );
  }

  // Roles per account, for each account the request adds roles to.
  const sourceRole = irsa || spec.identity.mode === 'pod-identity' || spec.identity.mode === 'roles-anywhere';
  const accounts = new Set([
    ...(sourceRole ? [source.accountId] : []),
    ...(direct ? [] : [target.accountId]),
  ]);
  for (const accountId of accounts) {
    const roles = await reader.roleNames(accountId);
    checks.push(
      counted(
        'roles',
        `account ${accountId}`,
        roles.size,
        roles.size + (rolesAdded.get(accountId) ?? 0),
        await reader.limit('roles', accountId, ''),
        `IAM roles in ${accountId}`,
      ),
    );
  }

  // Target account: the target role's documents (none with direct access). It trusts the
  // workload role, or in mode `principal` the existing role.
  if (!direct) {
    checks.push(
      ...(await roleSizeChecks(
        reader,
        target.accountId,
        targetRoleName(spec),
        spec.identity.mode === 'pod-identity'
          ? podIdentityTargetTrustPolicy(spec)
          : targetTrustPolicy(source.accountId, sourceRoleArnOf(spec), spec.identity.mode),
        TARGET_POLICY_NAME,
        targetPolicy(eksClusterArn(target)),
      )),
    );
  }

  // Target cluster: access entries (API modes; CONFIG_MAP clusters map roles in aws-auth).
  const mode = targetCluster.accessConfig?.authenticationMode ?? 'CONFIG_MAP';
  if (mode !== 'CONFIG_MAP') {
    const entries = await reader.accessEntries(spec);
    // The entry names the target role, or with direct access the workload role itself.
    const principal = direct ? sourceRoleArnOf(spec) : roleArn(target.accountId, targetRoleName(spec));
    checks.push(
      counted(
        'access-entries',
        eksClusterArn(target),
        entries.length,
        entries.length + (entries.includes(principal) ? 0 : 1),
        fixed(QUOTA_LIMITS.accessEntries),
        `access entries of ${target.cluster}`,
      ),
    );
    checks.push(await accessEntryConflict(reader, spec));
  }

  // Target network: one tcp/443 rule per private source CIDR not let in yet (private CIDRs, and
  // the private IPs of private NAT gateways), on the cluster security group, where those take
  // effect (`./egress-allowance`); public NAT IPs and public CIDRs go to a restricted
  // endpoint's publicAccessCidrs, checked by the plan (`checkPublicAccessQuota`).
  const groupId = targetCluster.resourcesVpcConfig?.clusterSecurityGroupId;
  const vpcId = sourceCluster?.resourcesVpcConfig?.vpcId;
  const sources =
    spec.network.mode === 'cidrs'
      ? spec.network.cidrs
      : natSource && vpcId
        ? (await reader.natIps(source, vpcId)).map((ip) => `${ip}/32`)
        : [];
  const cidrs = sources.filter((c) => isPrivateCidr(c));
  if (groupId && cidrs.length) {
    const rules = await reader.ingressRules(target.accountId, target.region, groupId);
    // Counted as AWS and the egress allowance count them: IPv4 CIDRs and group references one
    // each, a referenced prefix list as its MaxEntries.
    const used = await reader.inboundWeight(target.accountId, target.region, groupId);
    const lists = await read(() =>
      referencedPrefixListEntries(reader.ec2(target.accountId, target.region), rules),
    );
    const missing = cidrs.filter((c) => !ruleAllowing(rules, c, lists));
    const check = counted(
      'security-group-inbound-rules',
      groupId,
      used,
      used + missing.length,
      await reader.limit('inboundRules', target.accountId, target.region),
      `inbound rules on ${groupId} (tcp/${EGRESS_PORT} for ${missing.length} new CIDR${missing.length === 1 ? '' : 's'})`,
    );
    checks.push(
      check.ok
        ? check
        : {
            ...check,
            detail: `${check.detail}; raise vpc/L-0EA8095F (a prefix list would count as its MaxEntries and not help)`,
          },
    );
  }
  return checks;
}

/**
 * How many roles a request would add per account: the workload role in the source account
 * (once, irsa) and one target role per target, each only if it does not exist yet.
 */
export async function rolesAddedBy(
  reader: QuotaReader,
  specs: readonly LinkSpec[],
): Promise<Map<string, number>> {
  const added = new Map<string, number>();
  const add = async (accountId: string, name: string) => {
    if ((await reader.roleNames(accountId)).has(name.toLowerCase())) return;
    added.set(accountId, (added.get(accountId) ?? 0) + 1);
  };
  const first = specs[0];
  if (first && (first.identity.mode === 'irsa' || first.identity.mode === 'roles-anywhere'))
    await add(first.source.accountId, workloadRoleName(first.source));
  if (first && first.identity.mode === 'pod-identity')
    await add(first.source.accountId, podIdentityRoleName(first.source));
  for (const spec of specs) if (!isDirectAccess(spec)) await add(spec.target.accountId, targetRoleName(spec));
  return added;
}
