/**
 * Egress allowance (target account): the source's addresses let in where they take effect
 * for the endpoint the kubeconfig uses (docs/aws-facts.md#cluster-security-group-and-public-endpoint),
 * decided per target from DescribeCluster's `resourcesVpcConfig` and written on the link as
 * `outputs.egress.effectiveAt`:
 *
 * - public endpoint open to all (`0.0.0.0/0`): nothing to allow, and the link says so;
 * - public endpoint restricted: the source's /32s (or public CIDRs) merged into the
 *   cluster's `publicAccessCidrs` with UpdateClusterConfig, never dropping a CIDR someone
 *   else put there; one cluster update at a time (Tether's own writers serialised by a lock
 *   in the table, EKS's `ResourceInUseException` retried, the update followed with
 *   DescribeUpdate until Successful); 40 CIDRs at most; a CIDR is shared by every link
 *   that needs it (membership `PUBLICACCESS#…`) and goes with the last of them, and only if
 *   Tether put it there (the list carries no tags: a marker item in the table says so);
 * - public endpoint disabled: public addresses can never reach the private endpoint, so a
 *   link with NAT IPs or public CIDRs fails with `ENDPOINT_NOT_REACHABLE` (network `none`
 *   is for connectivity Tether does not make: peering, Transit Gateway);
 * - private CIDRs (network `cidrs` with RFC 1918 / RFC 6598 ranges, or the private IPs of the
 *   source VPC's private NAT gateways, which reach it over peering or a Transit Gateway):
 *   tcp/443 on the cluster security group, which governs the ENIs of the private endpoint
 *   (within the group's quota as Service Quotas applies it; no prefix list, which AWS counts
 *   as its MaxEntries: docs/aws-facts.md#security-group-and-prefix-list-quotas) (the cross-account IRSA
 *   runbook, step 6.2: docs/runbooks.md#the-cross-account-irsa-runbook). A rule is shared by
 *   every link that needs its CIDR on that group (membership `EGRESS#…`); Tether's rules of
 *   one group carry one owner key, `egress:<group>`, and the rule's own CIDR says which CIDR
 *   it lets in, so one call makes (or revokes) the rules of all a link's CIDRs.
 *
 * Brownfield: a rule someone else made on the group that already lets a CIDR in on tcp/443
 * (the runbook's step 6 done by hand), or a CIDR of `publicAccessCidrs` that already holds
 * the address, is used as it is: recorded as "allowed by an existing rule, not managed",
 * never changed, counted or removed. The link still joins that CIDR's membership.
 *
 * Undo and offboard release what the link recorded (`outputs.egress`) as well as what its
 * last resolve asks for, never a fresh read of the NAT IPs: a run that failed after the NAT
 * IPs changed leaves no orphan of the old IP.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeManagedPrefixListsCommand,
  DescribeSecurityGroupRulesCommand,
  type EC2Client,
  GetManagedPrefixListEntriesCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { DescribeUpdateCommand, type EKSClient, UpdateClusterConfigCommand } from '@aws-sdk/client-eks';
import {
  ConcurrentUpdateError,
  EndpointNotReachableError,
  QuotaExceededError,
  UnsupportedClusterError,
} from '#link/errors';
import { isAwsError } from '#aws/errors';
import { cidrContains, isPrivateCidr } from '#link/cidr';
import type { EffectiveAt, EgressOutput, Link, LinkSpec } from '#link/model';
import { owners } from '#link/names';
import { membership } from '#store/table';
import type { StepDeps } from './deps';
import { joinShared, leaveSharedAll } from '#store/memberships';
import { isManaged, isOwnedBy, ownershipTags } from '#link/tags';
import { describeCluster, type Resolved, resolvedOf } from './resolve';
import { appliedQuota, type QuotaLimit } from './service-quotas';

export const EGRESS_PORT = 443;
/**
 * Inbound rules per security group by default; adjustable (`vpc/L-0EA8095F`): the step judges
 * against the value Service Quotas applies (`./service-quotas`), this is the fallback
 * (docs/aws-facts.md#security-group-and-prefix-list-quotas).
 */
export const MAX_INBOUND_RULES = 60;

/**
 * How much of the group's inbound IPv4 quota `rules` take: one per CIDR or group reference, a
 * referenced prefix list as its `MaxEntries` (what AWS counts: a list of 20 entries at most
 * is 20 rules, however few it holds; docs/aws-facts.md#security-group-and-prefix-list-quotas).
 * The lists are described in one call, only when a rule references one. So a Tether-owned
 * prefix list could never make CIDRs fit that plain rules do not: Tether writes plain rules.
 */
export async function inboundRuleWeight(
  ec2: EC2Client,
  rules: readonly SecurityGroupRule[],
): Promise<number> {
  const inbound = rules.filter((r) => !r.IsEgress);
  const listIds = [...new Set(inbound.flatMap((r) => (r.PrefixListId ? [r.PrefixListId] : [])))];
  const maxEntries = new Map<string, { max: number; ipv4: boolean }>();
  if (listIds.length) {
    const out = await ec2.send(new DescribeManagedPrefixListsCommand({ PrefixListIds: listIds }));
    for (const pl of out.PrefixLists ?? []) {
      maxEntries.set(pl.PrefixListId ?? '', {
        // AWS-managed lists answer no MaxEntries to others; their weight is at least one rule.
        max: pl.MaxEntries ?? 1,
        ipv4: pl.AddressFamily !== 'IPv6',
      });
    }
  }
  let weight = 0;
  for (const r of inbound) {
    if (r.PrefixListId) {
      const pl = maxEntries.get(r.PrefixListId);
      if (pl?.ipv4 !== false) weight += pl?.max ?? 1;
    } else if (r.CidrIpv4 !== undefined || r.ReferencedGroupInfo !== undefined) weight += 1;
  }
  return weight;
}

/** The QUOTA_EXCEEDED message of a group that cannot take a link's rules, with the figures. */
export function inboundRulesQuotaMessage(
  groupId: string,
  used: number,
  adding: number,
  limit: QuotaLimit,
): string {
  return `Security group ${groupId} holds ${used} inbound rules (prefix lists counted as their MaxEntries); this link needs ${adding} more, ${
    used + adding
  } in all, over the limit of ${limit.value} (${limit.source}). Raise the quota vpc/L-0EA8095F: a prefix list would count as its MaxEntries and not help`;
}
/** CIDRs in a cluster's `publicAccessCidrs`, not adjustable (docs/aws-facts.md#eks). */
export const MAX_PUBLIC_ACCESS_CIDRS = 40;
/** How long one link may hold a cluster's endpoint lock while its update runs. */
export const ENDPOINT_LOCK_LEASE_MS = 120_000;
/** The waits between DescribeUpdate calls while an update is InProgress (about a minute in all). */
export const UPDATE_POLL_DELAYS_MS: readonly number[] = [
  0, 0, 250, 500, 1000, 2000, 4000, 8000, 15000, 30000,
];

/** The CIDRs a link must let in, from its network mode. */
export function desiredCidrs(spec: LinkSpec, resolved: Resolved): string[] {
  switch (spec.network.mode) {
    case 'nat':
      return resolved.source.natIps.map((ip) => `${ip}/32`);
    case 'cidrs':
      return [...new Set(spec.network.cidrs)].sort();
    case 'none':
      return [];
  }
}

/** Where an SG allowance takes effect for this target (see the module comment). */
export function allowanceEffect(target: Resolved['target']): Record<string, unknown> {
  const publicOpen = target.endpointPublicAccess && target.publicAccessCidrs.includes('0.0.0.0/0');
  return {
    securityGroupGoverns: target.endpointPrivateAccess
      ? 'private-endpoint'
      : 'nothing-reachable (private endpoint disabled)',
    publicEndpoint: !target.endpointPublicAccess
      ? 'disabled'
      : publicOpen
        ? 'open-to-all'
        : 'restricted-by-publicAccessCidrs',
    ...(target.endpointPublicAccess && !publicOpen ? { publicAccessCidrs: target.publicAccessCidrs } : {}),
  };
}

/** What the allowance of a link is made of, per place it takes effect. */
export interface AllowancePlan {
  readonly effectiveAt: EffectiveAt;
  readonly note: string;
  /** Every CIDR the link lets in. */
  readonly cidrs: readonly string[];
  /** CIDRs for the cluster security group (sources that reach the private endpoint). */
  readonly securityGroup: readonly string[];
  /** CIDRs to merge into the cluster's `publicAccessCidrs`. */
  readonly publicAccess: readonly string[];
  /** CIDRs the public endpoint, open to all, already lets in. */
  readonly openToAll: readonly string[];
}

const PRIVATE_ONLY_ADVICE =
  'use network "none" when connectivity is provided by peering or a Transit Gateway, which Tether does not make';

/**
 * Decides, per CIDR, where the link's allowance takes effect (see the module comment).
 * Throws {@link EndpointNotReachableError} when no allowance could ever let the source in.
 *
 * @example
 * allowancePlan(spec, resolved).effectiveAt; // 'public-access-cidrs'
 */
export function allowancePlan(spec: LinkSpec, resolved: Resolved): AllowancePlan {
  const cidrs = desiredCidrs(spec, resolved);
  const t = resolved.target;
  const publicOpen = t.endpointPublicAccess && t.publicAccessCidrs.includes('0.0.0.0/0');
  const securityGroup: string[] = [];
  const publicAccess: string[] = [];
  const openToAll: string[] = [];
  for (const cidr of cidrs) {
    if (isPrivateCidr(cidr)) {
      if (!t.endpointPrivateAccess) {
        throw new EndpointNotReachableError(
          `Cluster ${spec.target.cluster} has no private endpoint, the only one ${cidr} (a private range) could reach`,
        );
      }
      securityGroup.push(cidr);
    } else if (!t.endpointPublicAccess) {
      throw new EndpointNotReachableError(
        `Cluster ${spec.target.cluster} has only a private endpoint, which the public address ${cidr} can never reach${
          spec.network.mode === 'nat' ? ' (a NAT gateway public IP of the source VPC)' : ''
        }; ${PRIVATE_ONLY_ADVICE}`,
      );
    } else if (publicOpen) openToAll.push(cidr);
    else publicAccess.push(cidr);
  }
  const places = [
    ...(openToAll.length ? ['public-endpoint-open-to-all'] : []),
    ...(publicAccess.length ? ['public-access-cidrs'] : []),
    ...(securityGroup.length ? ['cluster-security-group'] : []),
  ];
  const effectiveAt = (places.length ? places.join('+') : 'nothing-to-allow') as EffectiveAt;
  const notes = [
    ...(openToAll.length ? ['the public endpoint is open to all (0.0.0.0/0): nothing to allow there'] : []),
    ...(publicAccess.length ? [`${publicAccess.join(', ')} in the public endpoint's publicAccessCidrs`] : []),
    ...(securityGroup.length
      ? [`tcp/443 from ${securityGroup.join(', ')} on the cluster security group (private endpoint)`]
      : []),
  ];
  const note = notes.length
    ? notes.join('; ')
    : 'network "none": nothing to allow (connectivity is provided outside Tether)';
  return { effectiveAt, note, cidrs, securityGroup, publicAccess, openToAll };
}

async function ingressRules(ec2: EC2Client, groupId: string): Promise<SecurityGroupRule[]> {
  const rules: SecurityGroupRule[] = [];
  let token: string | undefined;
  do {
    const out = await ec2.send(
      new DescribeSecurityGroupRulesCommand({
        Filters: [{ Name: 'group-id', Values: [groupId] }],
        ...(token ? { NextToken: token } : {}),
      }),
    );
    rules.push(...(out.SecurityGroupRules ?? []).filter((r) => !r.IsEgress));
    token = out.NextToken;
  } while (token);
  return rules;
}

const coversPort = (r: SecurityGroupRule) =>
  (r.IpProtocol === 'tcp' && (r.FromPort ?? 0) <= EGRESS_PORT && (r.ToPort ?? 0) >= EGRESS_PORT) ||
  r.IpProtocol === '-1';

/** The entries of each prefix list a rule references, by list id. */
export type PrefixListEntries = ReadonlyMap<string, readonly string[]>;

/**
 * The entries of the prefix lists the inbound `rules` reference (GetManagedPrefixListEntries,
 * every page, once per list); no call when no rule references one. A rule someone else made
 * with such a list lets in each CIDR an entry covers.
 */
export async function referencedPrefixListEntries(
  ec2: EC2Client,
  rules: readonly SecurityGroupRule[],
): Promise<PrefixListEntries> {
  const ids = [...new Set(rules.flatMap((r) => (!r.IsEgress && r.PrefixListId ? [r.PrefixListId] : [])))];
  const out = new Map<string, string[]>();
  for (const id of ids) {
    const entries: string[] = [];
    let token: string | undefined;
    do {
      const page = await ec2.send(
        new GetManagedPrefixListEntriesCommand({ PrefixListId: id, ...(token ? { NextToken: token } : {}) }),
      );
      for (const e of page.Entries ?? []) if (e.Cidr) entries.push(e.Cidr);
      token = page.NextToken;
    } while (token);
    out.set(id, entries);
  }
  return out;
}

/** What Tether records of a CIDR that a rule it did not make already lets in. */
export const ADOPTED_RULE_NOTE = 'allowed by an existing rule, not managed';

/**
 * The rule that lets `cidr` in on tcp/443, if the group has one: Tether's own first, else one
 * someone else made (an exact tcp/443 rule, a port range that covers it, or all traffic).
 */
export function ruleAllowing(
  rules: readonly SecurityGroupRule[],
  cidr: string,
  lists: PrefixListEntries = new Map(),
): { readonly rule: SecurityGroupRule; readonly managed: boolean } | undefined {
  const mine = rules.find(
    (r) => !r.IsEgress && r.CidrIpv4 === cidr && r.FromPort === EGRESS_PORT && isManaged(r.Tags),
  );
  if (mine) return { rule: mine, managed: true };
  const theirs = unmanagedAllowing(
    rules.filter((r) => !r.IsEgress),
    cidr,
    lists,
  );
  return theirs ? { rule: theirs, managed: false } : undefined;
}

/**
 * A rule Tether did not make that lets `cidr` in on tcp/443, if the group has one: for the
 * CIDR itself, or referencing a prefix list (`lists`) with an entry that covers it.
 */
function unmanagedAllowing(
  rules: readonly SecurityGroupRule[],
  cidr: string,
  lists: PrefixListEntries = new Map(),
): SecurityGroupRule | undefined {
  return rules.find(
    (r) =>
      coversPort(r) &&
      !isManaged(r.Tags) &&
      (r.CidrIpv4 === cidr ||
        (r.PrefixListId !== undefined &&
          (lists.get(r.PrefixListId) ?? []).some((e) => cidrContains(e, cidr)))),
  );
}

export interface EnsuredIngressRules {
  /** CIDRs Tether made a rule for in this run. */
  readonly created: string[];
  /** CIDRs Tether's rule already let in. */
  readonly unchanged: string[];
  /** Tether's rule id per CIDR. */
  readonly ruleIds: Record<string, string>;
  /** CIDRs a rule Tether did not make already lets in: that rule's id per CIDR ({@link ADOPTED_RULE_NOTE}). */
  readonly adopted: Record<string, string>;
}

/** Whether a rule is one of Tether's for its CIDR on the group (the group's owner key, or the older per-CIDR one). */
function isTetherRule(r: SecurityGroupRule, groupId: string): boolean {
  const cidr = r.CidrIpv4 ?? '';
  return isOwnedBy(r.Tags, owners.egressGroup(groupId)) || isOwnedBy(r.Tags, owners.egress(groupId, cidr));
}

/**
 * Ensures each CIDR is let in on tcp/443: by Tether's own rule, made when missing (all the
 * missing ones in one call, tagged with the group's owner key), or by a rule someone else
 * made, used as it is. Never touches a rule Tether did not make. Refuses with
 * {@link QuotaExceededError} and the figures ({@link inboundRulesQuotaMessage}) when the
 * missing rules would pass the group's quota (`quota`, the applied value), before writing.
 */
export async function ensureIngressRules(
  ec2: EC2Client,
  groupId: string,
  cidrs: readonly string[],
  description: string,
  /** The group's quota, read only when a rule is to be made. */
  quota: () => Promise<QuotaLimit> = async () => ({
    value: MAX_INBOUND_RULES,
    source: 'AWS default (vpc/L-0EA8095F)',
  }),
): Promise<EnsuredIngressRules> {
  const created: string[] = [];
  const unchanged: string[] = [];
  const ruleIds: Record<string, string> = {};
  const adopted: Record<string, string> = {};
  let pending = [...cidrs];
  // A Duplicate answer fails the whole call (a concurrent link or a person made one of the
  // rules meanwhile): read again and ask only for what is still missing.
  for (let attempt = 0; pending.length > 0; attempt++) {
    const rules = await ingressRules(ec2, groupId);
    const lists = await referencedPrefixListEntries(ec2, rules);
    const missing: string[] = [];
    for (const cidr of pending) {
      const mine = rules.find(
        (r) =>
          r.CidrIpv4 === cidr &&
          r.IpProtocol === 'tcp' &&
          r.FromPort === EGRESS_PORT &&
          r.ToPort === EGRESS_PORT &&
          isManaged(r.Tags),
      );
      if (mine) {
        unchanged.push(cidr);
        ruleIds[cidr] = mine.SecurityGroupRuleId ?? '';
        continue;
      }
      const theirs = unmanagedAllowing(rules, cidr, lists);
      if (theirs) {
        adopted[cidr] = theirs.SecurityGroupRuleId ?? '';
        continue;
      }
      missing.push(cidr);
    }
    pending = [];
    if (missing.length === 0) break;
    const used = await inboundRuleWeight(ec2, rules);
    const limit = await quota();
    if (used + missing.length > limit.value) {
      throw new QuotaExceededError(inboundRulesQuotaMessage(groupId, used, missing.length, limit));
    }
    try {
      const out = await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: groupId,
          IpPermissions: [
            {
              IpProtocol: 'tcp',
              FromPort: EGRESS_PORT,
              ToPort: EGRESS_PORT,
              IpRanges: missing.map((cidr) => ({ CidrIp: cidr, Description: description.slice(0, 255) })),
            },
          ],
          TagSpecifications: [
            { ResourceType: 'security-group-rule', Tags: ownershipTags(owners.egressGroup(groupId)) },
          ],
        }),
      );
      for (const rule of out.SecurityGroupRules ?? []) {
        if (rule.CidrIpv4 && missing.includes(rule.CidrIpv4)) {
          ruleIds[rule.CidrIpv4] = rule.SecurityGroupRuleId ?? '';
          created.push(rule.CidrIpv4);
        }
      }
    } catch (err) {
      if (isAwsError(err, 'RulesPerSecurityGroupLimitExceeded')) {
        throw new QuotaExceededError((err as Error).message, { cause: err });
      }
      if (!isAwsError(err, 'InvalidPermission.Duplicate') || attempt >= 3) throw err;
      pending = missing;
    }
  }
  return { created, unchanged, ruleIds, adopted };
}

// ---- publicAccessCidrs -------------------------------------------------------------------

/** What {@link ensurePublicAccessCidrs} found and did. */
export interface EnsuredPublicAccess {
  /** CIDRs Tether merged into the list in this run. */
  readonly added: string[];
  /** CIDRs Tether had already put there. */
  readonly unchanged: string[];
  /** CIDR → the CIDR of the list, not Tether's, that already lets it in. */
  readonly adopted: Record<string, string>;
  /** The list after the run. */
  readonly publicAccessCidrs: string[];
  /** The EKS update that merged them, when one was made. */
  readonly updateId?: string;
  /** The public endpoint turned out open to all since the resolve: nothing to merge. */
  readonly openToAll?: boolean;
  /** What became of the CIDRs asked to leave in the same update (`remove`), one line each. */
  readonly removed?: Record<string, unknown>[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `change` holding the cluster's endpoint lock, so Tether's read-merge-write of
 * `publicAccessCidrs` never overwrites another link's (a lost update would drop its CIDR).
 * Another holder: {@link ConcurrentUpdateError}, retried by the ASL.
 */
async function withEndpointLock<T>(link: Link, deps: StepDeps, change: () => Promise<T>): Promise<T> {
  const { target } = link.spec;
  const key = membership.clusterEndpoint(target.accountId, target.region, target.cluster);
  await deps.memberships.acquireRemovalLock(key, link.id, deps.now().getTime(), ENDPOINT_LOCK_LEASE_MS);
  try {
    return await change();
  } finally {
    await deps.memberships.releaseRemovalLock(key, link.id);
  }
}

/**
 * Writes the cluster's `publicAccessCidrs` and follows the update until it is Successful.
 * An update already in progress (EKS allows one at a time: `ResourceInUseException`) and
 * one still in progress after {@link UPDATE_POLL_DELAYS_MS} are {@link ConcurrentUpdateError}s,
 * retried by the ASL; the re-run reads the list again and changes only what still differs.
 */
export async function updatePublicAccessCidrs(
  eks: EKSClient,
  cluster: string,
  cidrs: readonly string[],
): Promise<string> {
  let updateId: string;
  try {
    const out = await eks.send(
      new UpdateClusterConfigCommand({
        name: cluster,
        resourcesVpcConfig: { publicAccessCidrs: [...cidrs] },
      }),
    );
    updateId = out.update?.id ?? '';
  } catch (err) {
    if (isAwsError(err, 'ResourceInUseException')) {
      throw new ConcurrentUpdateError(
        `Cluster ${cluster} has another update in progress; its publicAccessCidrs are written once it is done`,
        { cause: err },
      );
    }
    throw err;
  }
  for (const delay of UPDATE_POLL_DELAYS_MS) {
    if (delay) await sleep(delay);
    const update = (await eks.send(new DescribeUpdateCommand({ name: cluster, updateId }))).update;
    if (update?.status === 'Successful') return updateId;
    if (update?.status === 'Failed' || update?.status === 'Cancelled') {
      throw new Error(
        `EKS update ${updateId} of cluster ${cluster}'s publicAccessCidrs ended ${update.status}: ${(
          update.errors ?? []
        )
          .map((e) => `${e.errorCode}: ${e.errorMessage}`)
          .join('; ')}`,
      );
    }
  }
  throw new ConcurrentUpdateError(`EKS update ${updateId} of cluster ${cluster} is still in progress`);
}

/** The CIDR of `list` that lets `cidr` in: itself or a wider block. */
const coveringCidr = (list: readonly string[], cidr: string) =>
  list.includes(cidr) ? cidr : list.find((c) => cidrContains(c, cidr));

/**
 * Merges `cidrs` into the cluster's `publicAccessCidrs`, keeping every CIDR already there
 * (someone else's are never dropped). A CIDR already let in by one Tether did not put there
 * is adopted, never removed later. Refuses with {@link QuotaExceededError} past 40 CIDRs.
 */
export async function ensurePublicAccessCidrs(
  link: Link,
  deps: StepDeps,
  cidrs: readonly string[],
  remove: readonly string[] = [],
): Promise<EnsuredPublicAccess> {
  const { target } = link.spec;
  const eks = deps.clients.eks(target.accountId, target.region);
  const inspect = async () => {
    const vpc = (await describeCluster(eks, target)).resourcesVpcConfig;
    const current = [...(vpc?.publicAccessCidrs ?? [])];
    const openToAll = vpc?.endpointPublicAccess !== false && current.includes('0.0.0.0/0');
    const added: string[] = [];
    const unchanged: string[] = [];
    const adopted: Record<string, string> = {};
    for (const cidr of openToAll ? [] : cidrs) {
      const key = membership.publicAccess(target.accountId, target.region, target.cluster, cidr);
      const covering = coveringCidr(current, cidr);
      if (covering === cidr && (await deps.memberships.isManaged(key))) unchanged.push(cidr);
      else if (covering) adopted[cidr] = covering;
      else added.push(cidr);
    }
    return { current, openToAll, added, unchanged, adopted };
  };
  // Nothing to add (the usual re-run, or another link of the same source made them): no lock;
  // one this link's crashed earlier run may still hold is let go.
  const first = await inspect();
  if (first.openToAll || (first.added.length === 0 && remove.length === 0)) {
    await deps.memberships.releaseRemovalLock(
      membership.clusterEndpoint(target.accountId, target.region, target.cluster),
      link.id,
    );
  }
  if (first.openToAll) {
    return { added: [], unchanged: [], adopted: {}, publicAccessCidrs: first.current, openToAll: true };
  }
  if (first.added.length === 0 && remove.length === 0) {
    return {
      added: [],
      unchanged: first.unchanged,
      adopted: first.adopted,
      publicAccessCidrs: first.current,
    };
  }
  return withEndpointLock(link, deps, async () => {
    // Read again under the lock: another link may have merged them meanwhile.
    const { current, openToAll, added, unchanged, adopted } = await inspect();
    if (openToAll)
      return { added: [], unchanged: [], adopted: {}, publicAccessCidrs: current, openToAll: true };
    // CIDRs leaving in the same change (a NAT IP replaced): one update with the final list.
    const leaving = await removalOf(link, deps, current, remove);
    if (added.length === 0 && leaving.remove.length === 0) {
      return { added, unchanged, adopted, publicAccessCidrs: current, removed: leaving.results };
    }
    const next = [...current.filter((c) => !leaving.remove.includes(c)), ...added];
    if (next.length > MAX_PUBLIC_ACCESS_CIDRS) {
      throw new QuotaExceededError(
        publicAccessQuotaMessage(target.cluster, current.length - leaving.remove.length, added),
      );
    }
    // Marked before the write: a crash between the two leaves a marker for a CIDR Tether
    // was about to add, which the re-run adds; never a CIDR of Tether's without its marker.
    for (const cidr of added) {
      await deps.memberships.markManaged(
        membership.publicAccess(target.accountId, target.region, target.cluster, cidr),
      );
    }
    const updateId = await updatePublicAccessCidrs(eks, target.cluster, next);
    const removed = [...leaving.results];
    for (const cidr of leaving.remove) {
      await deps.memberships.unmarkManaged(
        membership.publicAccess(target.accountId, target.region, target.cluster, cidr),
      );
      removed.push({ cidr, place: 'public-access-cidrs', action: 'removed', updateId });
    }
    return { added, unchanged, adopted, publicAccessCidrs: next, updateId, removed };
  });
}

/** The QUOTA_EXCEEDED message of a `publicAccessCidrs` that cannot take more CIDRs, with the figures. */
export function publicAccessQuotaMessage(cluster: string, held: number, needed: readonly string[]): string {
  return `The public endpoint of cluster ${cluster} allows ${held} CIDRs in publicAccessCidrs; this link needs ${
    needed.length
  } more (${needed.join(', ')}), ${held + needed.length} in all, over EKS's limit of ${MAX_PUBLIC_ACCESS_CIDRS} (not adjustable)`;
}

/**
 * Which of `cidrs` leave `current` (those Tether put there: their marker says so), and a
 * line for each that does not: `absent` (its marker goes), `left-unmanaged`.
 */
async function removalOf(
  link: Link,
  deps: StepDeps,
  current: readonly string[],
  cidrs: readonly string[],
): Promise<{ results: Record<string, unknown>[]; remove: string[] }> {
  const { target } = link.spec;
  const key = (cidr: string) =>
    membership.publicAccess(target.accountId, target.region, target.cluster, cidr);
  const results: Record<string, unknown>[] = [];
  const remove: string[] = [];
  for (const cidr of cidrs) {
    const managed = await deps.memberships.isManaged(key(cidr));
    if (!current.includes(cidr)) {
      results.push({ cidr, place: 'public-access-cidrs', action: 'absent' });
      if (managed) await deps.memberships.unmarkManaged(key(cidr));
    } else if (!managed) {
      results.push({ cidr, place: 'public-access-cidrs', action: 'left-unmanaged', note: ADOPTED_RULE_NOTE });
    } else remove.push(cidr);
  }
  return { results, remove };
}

/**
 * Takes out of the cluster's `publicAccessCidrs` those of `cidrs` Tether put there (one
 * update for all); a CIDR Tether did not put there is `left-unmanaged`. The last CIDR of a
 * restricted list is kept: an empty list would open the endpoint to all.
 */
async function removePublicAccessCidrs(link: Link, deps: StepDeps, cidrs: readonly string[]) {
  const { target } = link.spec;
  const eks = deps.clients.eks(target.accountId, target.region);
  const key = (cidr: string) =>
    membership.publicAccess(target.accountId, target.region, target.cluster, cidr);
  return withEndpointLock(link, deps, async () => {
    let current: string[];
    try {
      current = [...((await describeCluster(eks, target)).resourcesVpcConfig?.publicAccessCidrs ?? [])];
    } catch (err) {
      if ((err as Error).name !== 'ClusterNotFoundError') throw err;
      for (const cidr of cidrs) await deps.memberships.unmarkManaged(key(cidr));
      return cidrs.map((cidr) => ({ cidr, place: 'public-access-cidrs', action: 'absent' }));
    }
    const { results, remove } = await removalOf(link, deps, current, cidrs);
    const next = current.filter((c) => !remove.includes(c));
    if (remove.length > 0 && next.length === 0) {
      const last = remove.pop() ?? '';
      next.push(last);
      results.push({
        cidr: last,
        place: 'public-access-cidrs',
        action: 'kept',
        note: 'the last CIDR of a restricted public endpoint: an empty list would open it to all',
      });
    }
    if (remove.length > 0) {
      const updateId = await updatePublicAccessCidrs(eks, target.cluster, next);
      for (const cidr of remove) {
        await deps.memberships.unmarkManaged(key(cidr));
        results.push({ cidr, place: 'public-access-cidrs', action: 'removed', updateId });
      }
    }
    return results;
  });
}

// ---- the steps ---------------------------------------------------------------------------

/** What a link recorded of its allowance, per place (links recorded before places: all on the group). */
export function recordedAllowance(egress: EgressOutput | undefined): {
  readonly securityGroupId?: string;
  readonly securityGroup: readonly string[];
  readonly publicAccess: readonly string[];
} {
  if (!egress) return { securityGroup: [], publicAccess: [] };
  const securityGroup =
    egress.securityGroupCidrs ??
    (egress.effectiveAt === undefined && egress.securityGroupId ? egress.cidrs : []);
  return {
    ...(egress.securityGroupId ? { securityGroupId: egress.securityGroupId } : {}),
    securityGroup,
    publicAccess: egress.publicAccess?.cidrs ?? [],
  };
}

/** The onboard step (and the reconcile's): the allowance where it takes effect. */
export async function egressStep(link: Link, deps: StepDeps) {
  const resolved = resolvedOf(link);
  const { target, source } = link.spec;
  const plan = allowancePlan(link.spec, resolved);
  const effect = allowanceEffect(resolved.target);
  const groupId = resolved.target.clusterSecurityGroupId;
  if (plan.securityGroup.length && !groupId) {
    throw new UnsupportedClusterError(`Cluster ${target.cluster} has no cluster security group`);
  }
  const now = () => deps.now().getTime();
  // Memberships first, so a concurrent offboard of another link keeps what we need.
  for (const cidr of plan.securityGroup) {
    await joinShared(
      deps.memberships,
      membership.egress(target.accountId, target.region, groupId ?? '', cidr),
      membership.link(link.id),
      { linkId: link.id },
      now(),
    );
  }
  for (const cidr of plan.publicAccess) {
    await joinShared(
      deps.memberships,
      membership.publicAccess(target.accountId, target.region, target.cluster, cidr),
      membership.link(link.id),
      { linkId: link.id },
      now(),
    );
  }
  if (link.spec.network.mode === 'nat') {
    await deps.memberships.put(
      membership.sourceVpc(source.accountId, source.region, resolved.source.vpcId),
      membership.link(link.id),
      { linkId: link.id },
    );
  }
  const ensured = plan.securityGroup.length
    ? await ensureIngressRules(
        deps.clients.ec2(target.accountId, target.region),
        groupId ?? '',
        plan.securityGroup,
        `tether: egress of ${source.cluster} (${source.accountId})`,
        // The quota applied to the target account, not AWS's default (docs/aws-facts.md#service-quotas).
        () => appliedQuota(deps.clients, target.accountId, target.region, 'inboundRules'),
      )
    : undefined;
  // A re-run after the source's addresses changed (a NAT IP replaced): the CIDRs this link
  // recorded and no longer needs leave in the same UpdateClusterConfig that adds the new ones
  // (one update per change: EKS takes one at a time, each takes minutes).
  const recordedEarlier = recordedAllowance(link.outputs.egress);
  const stalePublic = recordedEarlier.publicAccess.filter((c) => !plan.publicAccess.includes(c));
  let ensuredPublic: EnsuredPublicAccess | undefined;
  let releasedPublic: Record<string, unknown>[] | undefined;
  if (plan.publicAccess.length && stalePublic.length) {
    releasedPublic = await releaseShared(
      link,
      deps,
      stalePublic,
      (cidr) => membership.publicAccess(target.accountId, target.region, target.cluster, cidr),
      async (unused) => {
        ensuredPublic = await ensurePublicAccessCidrs(link, deps, plan.publicAccess, unused);
        return ensuredPublic.removed ?? [];
      },
      { place: 'public-access-cidrs' },
    );
  }
  if (!ensuredPublic && plan.publicAccess.length) {
    ensuredPublic = await ensurePublicAccessCidrs(link, deps, plan.publicAccess);
  }

  // A re-run after the source's addresses (or the target's endpoint) changed: leave what this
  // link recorded and no longer needs, where it recorded it.
  const recorded = recordedAllowance(link.outputs.egress);
  const released = [
    ...(recorded.securityGroupId
      ? await releaseSecurityGroupCidrs(
          link,
          deps,
          recorded.securityGroupId,
          recorded.securityGroup.filter(
            (c) => recorded.securityGroupId !== groupId || !plan.securityGroup.includes(c),
          ),
        )
      : []),
    ...(releasedPublic ?? (await releasePublicAccessCidrs(link, deps, stalePublic))),
  ];
  const adoptedOnes = Object.keys(ensured?.adopted ?? {});
  const changed = (ensured?.created.length ?? 0) + (ensuredPublic?.added.length ?? 0) + released.length;
  const egress: EgressOutput = {
    mode: link.spec.network.mode,
    effectiveAt: plan.effectiveAt,
    note: plan.note,
    cidrs: plan.cidrs,
    ...(ensured
      ? {
          securityGroupId: groupId ?? '',
          securityGroupCidrs: plan.securityGroup,
          ruleIds: ensured.ruleIds,
          ...(adoptedOnes.length ? { adopted: ensured.adopted } : {}),
        }
      : {}),
    ...(plan.publicAccess.length
      ? {
          publicAccess: {
            cluster: target.cluster,
            cidrs: plan.publicAccess,
            ...(Object.keys(ensuredPublic?.adopted ?? {}).length
              ? { adopted: ensuredPublic?.adopted ?? {} }
              : {}),
          },
        }
      : {}),
    ...effect,
    ...(ensuredPublic ? { publicAccessCidrs: ensuredPublic.publicAccessCidrs } : {}),
  };
  const result = {
    mode: link.spec.network.mode,
    effectiveAt: plan.effectiveAt,
    note: plan.note,
    cidrs: plan.cidrs,
    ...(ensured
      ? {
          securityGroupId: groupId,
          created: ensured.created,
          unchanged: ensured.unchanged,
          ruleIds: ensured.ruleIds,
          ...(adoptedOnes.length
            ? {
                adopted: Object.fromEntries(
                  Object.entries(ensured.adopted).map(([cidr, ruleId]) => [
                    cidr,
                    { ruleId, note: ADOPTED_RULE_NOTE },
                  ]),
                ),
              }
            : {}),
        }
      : {}),
    ...(ensuredPublic ? { publicAccess: ensuredPublic } : {}),
    ...(released.length ? { released } : {}),
    action: changed ? 'updated' : 'unchanged',
    ...effect,
  };
  return { result, outputs: { egress } };
}

/** Leaves each CIDR's shared rule on the group; the rules this link was the last user of go in one call. */
async function releaseSecurityGroupCidrs(
  link: Link,
  deps: StepDeps,
  groupId: string,
  cidrs: readonly string[],
): Promise<Record<string, unknown>[]> {
  const { target } = link.spec;
  const ec2 = deps.clients.ec2(target.accountId, target.region);
  return releaseShared(
    link,
    deps,
    cidrs,
    (cidr) => membership.egress(target.accountId, target.region, groupId, cidr),
    (unused) => revokeOwnedRules(ec2, groupId, unused),
    {},
  );
}

/** Leaves each CIDR's share of `publicAccessCidrs`; those this link was the last user of go in one update. */
async function releasePublicAccessCidrs(
  link: Link,
  deps: StepDeps,
  cidrs: readonly string[],
): Promise<Record<string, unknown>[]> {
  const { target } = link.spec;
  return releaseShared(
    link,
    deps,
    cidrs,
    (cidr) => membership.publicAccess(target.accountId, target.region, target.cluster, cidr),
    (unused) => removePublicAccessCidrs(link, deps, unused),
    { place: 'public-access-cidrs' },
  );
}

/**
 * Leaves each CIDR's membership (`keyOf`) for the link; the CIDRs it was the last user of go
 * in one `remove`. Answers a `kept` line for each CIDR other links still use (with `extra`,
 * e.g. the place), then what `remove` answered.
 */
async function releaseShared(
  link: Link,
  deps: StepDeps,
  cidrs: readonly string[],
  keyOf: (cidr: string) => string,
  remove: (unusedCidrs: string[]) => Promise<Record<string, unknown>[]>,
  extra: Readonly<Record<string, unknown>>,
): Promise<Record<string, unknown>[]> {
  if (cidrs.length === 0) return [];
  const outcome = await leaveSharedAll(
    deps.memberships,
    cidrs.map(keyOf),
    membership.link(link.id),
    link.id,
    deps.now().getTime(),
    (unused) => remove(cidrs.filter((c) => unused.includes(keyOf(c)))),
  );
  return [
    ...cidrs
      .map((cidr) => ({ cidr, kept: outcome.kept.find((k) => k.resource === keyOf(cidr)) }))
      .filter((k) => k.kept)
      .map(({ cidr, kept }) => ({ cidr, ...extra, action: 'kept', remainingLinks: kept?.remaining })),
    ...(outcome.result ?? []),
  ];
}

/**
 * Revokes Tether's rules for `cidrs` on the group, in one call, if they are there; others'
 * rules are never touched. Without a Tether rule, a rule someone else made for the CIDR is
 * reported `left-unmanaged` (the allowance the link used as it was), else `absent`.
 */
export async function revokeOwnedRules(ec2: EC2Client, groupId: string, cidrs: readonly string[]) {
  const rules = await ingressRules(ec2, groupId);
  const results: Record<string, unknown>[] = [];
  const revoke: SecurityGroupRule[] = [];
  for (const cidr of cidrs) {
    const mine = rules.filter(
      (r) => r.CidrIpv4 === cidr && r.FromPort === EGRESS_PORT && isTetherRule(r, groupId),
    );
    if (mine.length === 0) {
      const theirs = unmanagedAllowing(rules, cidr);
      results.push(
        theirs
          ? { cidr, action: 'left-unmanaged', ruleId: theirs.SecurityGroupRuleId, note: ADOPTED_RULE_NOTE }
          : { cidr, action: 'absent' },
      );
      continue;
    }
    revoke.push(...mine);
    results.push({ cidr, action: 'revoked', ruleIds: mine.map((r) => r.SecurityGroupRuleId) });
  }
  if (revoke.length > 0) {
    try {
      await ec2.send(
        new RevokeSecurityGroupIngressCommand({
          GroupId: groupId,
          SecurityGroupRuleIds: revoke.map((r) => r.SecurityGroupRuleId ?? ''),
        }),
      );
    } catch (err) {
      if (!isAwsError(err, 'InvalidSecurityGroupRuleId.NotFound', 'InvalidPermission.NotFound')) throw err;
    }
  }
  return results;
}

/** Revokes Tether's rule for one CIDR on the group (see {@link revokeOwnedRules}). */
export async function revokeOwnedRule(ec2: EC2Client, groupId: string, cidr: string) {
  const [result] = await revokeOwnedRules(ec2, groupId, [cidr]);
  return result ?? { cidr, action: 'absent' };
}

/**
 * The offboard step (and the undo of a failed run): leave what the link recorded on
 * `outputs.egress`, and what its last resolve asked for (a run that failed after joining but
 * before recording), never a fresh read of the NAT IPs. A shared rule or CIDR goes with the
 * last link that needs it.
 */
export async function revokeEgressStep(
  link: Link,
  deps: StepDeps,
): Promise<{ result: { action?: string; securityGroupId?: string; rules?: Record<string, unknown>[] } }> {
  const resolved = link.outputs.resolved;
  const recorded = recordedAllowance(link.outputs.egress);
  if (!resolved && !link.outputs.egress) return { result: { action: 'nothing-to-remove' } };
  const { source } = link.spec;
  let planned: Pick<AllowancePlan, 'securityGroup' | 'publicAccess'> = {
    securityGroup: [],
    publicAccess: [],
  };
  if (resolved) {
    try {
      planned = allowancePlan(link.spec, resolved);
    } catch (err) {
      if (!(err instanceof EndpointNotReachableError)) throw err;
    }
  }
  const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])].sort();
  const groupId = recorded.securityGroupId ?? resolved?.target.clusterSecurityGroupId;
  const sgCidrs = union(
    recorded.securityGroup,
    groupId === resolved?.target.clusterSecurityGroupId ? planned.securityGroup : [],
  );
  const results = [
    ...(groupId ? await releaseSecurityGroupCidrs(link, deps, groupId, sgCidrs) : []),
    ...(await releasePublicAccessCidrs(link, deps, union(recorded.publicAccess, planned.publicAccess))),
  ];
  if (link.spec.network.mode === 'nat' && resolved) {
    await deps.memberships.delete(
      membership.sourceVpc(source.accountId, source.region, resolved.source.vpcId),
      membership.link(link.id),
    );
  }
  return { result: { ...(sgCidrs.length ? { securityGroupId: groupId } : {}), rules: results } };
}
