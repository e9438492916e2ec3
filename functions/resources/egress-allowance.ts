/**
 * Egress allowance (target account): tcp/443 from each source NAT public IP /32 (or each
 * explicit CIDR) on the target's cluster security group (the cross-account IRSA runbook, step 6.2: docs/runbooks.md#the-cross-account-irsa-runbook). A rule is
 * shared by every link from the same egress IP to the same cluster (membership `EGRESS#…`),
 * tagged with its owner key, and made once.
 *
 * Where it takes effect: the cluster security group governs the ENIs EKS puts in the
 * cluster's subnets, so the private endpoint; the public endpoint is governed by
 * `publicAccessCidrs` (docs/aws-facts.md#cluster-security-group-and-public-endpoint). The result says which applies.
 *
 * Brownfield: a rule someone else made on the group that already lets a CIDR in on tcp/443
 * (the runbook's step 6 done by hand, or a wider rule for that CIDR) is used as it is:
 * recorded as "allowed by an existing rule, not managed", never changed, counted or revoked.
 * The link still joins that CIDR's membership, so should the person's rule go and a later
 * run make Tether's own rule, every link that relies on the CIDR keeps it alive.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  type EC2Client,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { QuotaExceededError, UnsupportedClusterError } from '#link/errors';
import { isAwsError } from '#aws/errors';
import type { Link, LinkSpec } from '#link/model';
import { owners } from '#link/names';
import { membership } from '#store/table';
import type { StepDeps } from './deps';
import { joinShared, leaveShared } from '#store/memberships';
import { isManaged, isOwnedBy, ownershipTags } from '#link/tags';
import { type Resolved, resolvedOf } from './resolve';

export const EGRESS_PORT = 443;
/** Inbound rules per security group (docs/aws-facts.md#security-group-and-prefix-list-quotas). */
export const MAX_INBOUND_RULES = 60;

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

/** What Tether records of a CIDR that a rule it did not make already lets in. */
export const ADOPTED_RULE_NOTE = 'allowed by an existing rule, not managed';

/**
 * The rule that lets `cidr` in on tcp/443, if the group has one: Tether's own first, else one
 * someone else made (an exact tcp/443 rule, a port range that covers it, or all traffic).
 */
export function ruleAllowing(
  rules: readonly SecurityGroupRule[],
  cidr: string,
): { readonly rule: SecurityGroupRule; readonly managed: boolean } | undefined {
  const mine = rules.find(
    (r) => !r.IsEgress && r.CidrIpv4 === cidr && r.FromPort === EGRESS_PORT && isManaged(r.Tags),
  );
  if (mine) return { rule: mine, managed: true };
  const theirs = unmanagedAllowing(
    rules.filter((r) => !r.IsEgress),
    cidr,
  );
  return theirs ? { rule: theirs, managed: false } : undefined;
}

/** A rule Tether did not make that lets `cidr` in on tcp/443, if the group has one. */
function unmanagedAllowing(rules: readonly SecurityGroupRule[], cidr: string): SecurityGroupRule | undefined {
  return rules.find((r) => r.CidrIpv4 === cidr && coversPort(r) && !isManaged(r.Tags));
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

/**
 * Ensures each CIDR is let in on tcp/443: by Tether's own rule, made when missing, or by a
 * rule someone else made, used as it is. Never touches a rule Tether did not make.
 */
export async function ensureIngressRules(
  ec2: EC2Client,
  groupId: string,
  cidrs: readonly string[],
  description: string,
): Promise<EnsuredIngressRules> {
  const rules = await ingressRules(ec2, groupId);
  const created: string[] = [];
  const unchanged: string[] = [];
  const ruleIds: Record<string, string> = {};
  const adopted: Record<string, string> = {};
  const missing: string[] = [];
  for (const cidr of cidrs) {
    const same = rules.filter(
      (r) =>
        r.CidrIpv4 === cidr &&
        r.IpProtocol === 'tcp' &&
        r.FromPort === EGRESS_PORT &&
        r.ToPort === EGRESS_PORT,
    );
    const mine = same.find((r) => isManaged(r.Tags));
    if (mine) {
      unchanged.push(cidr);
      ruleIds[cidr] = mine.SecurityGroupRuleId ?? '';
      continue;
    }
    const theirs = unmanagedAllowing(rules, cidr);
    if (theirs) {
      adopted[cidr] = theirs.SecurityGroupRuleId ?? '';
      continue;
    }
    missing.push(cidr);
  }
  if (missing.length > 0) {
    const inboundIpv4 = rules.filter(
      (r) => r.CidrIpv4 !== undefined || r.ReferencedGroupInfo !== undefined,
    ).length;
    if (inboundIpv4 + missing.length > MAX_INBOUND_RULES) {
      throw new QuotaExceededError(
        `Security group ${groupId} has ${inboundIpv4} inbound rules; ${missing.length} more would pass the quota of ${MAX_INBOUND_RULES}`,
      );
    }
    // One rule per CIDR, each tagged with its own owner key: one call per CIDR, as the runbook does.
    for (const cidr of missing) {
      try {
        const out = await ec2.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: groupId,
            IpPermissions: [
              {
                IpProtocol: 'tcp',
                FromPort: EGRESS_PORT,
                ToPort: EGRESS_PORT,
                IpRanges: [{ CidrIp: cidr, Description: description.slice(0, 255) }],
              },
            ],
            TagSpecifications: [
              { ResourceType: 'security-group-rule', Tags: ownershipTags(owners.egress(groupId, cidr)) },
            ],
          }),
        );
        ruleIds[cidr] = out.SecurityGroupRules?.[0]?.SecurityGroupRuleId ?? '';
        created.push(cidr);
      } catch (err) {
        if (isAwsError(err, 'RulesPerSecurityGroupLimitExceeded')) {
          throw new QuotaExceededError((err as Error).message, { cause: err });
        }
        if (!isAwsError(err, 'InvalidPermission.Duplicate')) throw err;
        // A concurrent link made it first, or a person did meanwhile.
        const now = await ingressRules(ec2, groupId);
        const again = now.find((r) => r.CidrIpv4 === cidr && r.FromPort === EGRESS_PORT && isManaged(r.Tags));
        if (again) {
          ruleIds[cidr] = again.SecurityGroupRuleId ?? '';
          unchanged.push(cidr);
          continue;
        }
        const theirs = unmanagedAllowing(now, cidr);
        if (!theirs) throw err;
        adopted[cidr] = theirs.SecurityGroupRuleId ?? '';
      }
    }
  }
  return { created, unchanged, ruleIds, adopted };
}

/** The onboard step. */
export async function egressStep(link: Link, deps: StepDeps) {
  const resolved = resolvedOf(link);
  const cidrs = desiredCidrs(link.spec, resolved);
  const { target, source } = link.spec;
  const effect = allowanceEffect(resolved.target);
  if (cidrs.length === 0) {
    const result = { mode: link.spec.network.mode, cidrs, ...effect };
    return { result, outputs: { egress: result } };
  }
  const groupId = resolved.target.clusterSecurityGroupId;
  if (!groupId) throw new UnsupportedClusterError(`Cluster ${target.cluster} has no cluster security group`);
  // Memberships first, so a concurrent offboard of another link keeps the rules we need.
  for (const cidr of cidrs) {
    await joinShared(
      deps.memberships,
      membership.egress(target.accountId, target.region, groupId, cidr),
      membership.link(link.id),
      { linkId: link.id },
      deps.now().getTime(),
    );
  }
  if (link.spec.network.mode === 'nat') {
    await deps.memberships.put(
      membership.sourceVpc(source.accountId, source.region, resolved.source.vpcId),
      membership.link(link.id),
      { linkId: link.id },
    );
  }
  const ec2 = deps.clients.ec2(target.accountId, target.region);
  const ensured = await ensureIngressRules(
    ec2,
    groupId,
    cidrs,
    `tether: egress of ${source.cluster} (${source.accountId})`,
  );
  // A re-run after the source's NAT IPs changed: leave the CIDRs this link no longer needs.
  const previous = link.outputs.egress;
  const stale =
    previous?.securityGroupId === groupId ? (previous.cidrs ?? []).filter((c) => !cidrs.includes(c)) : [];
  const released = await releaseCidrs(link, deps, groupId, stale);
  const { adopted, ...made } = ensured;
  const adoptedOnes = Object.keys(adopted);
  const result = {
    mode: link.spec.network.mode,
    securityGroupId: groupId,
    cidrs,
    ...made,
    ...(adoptedOnes.length
      ? {
          adopted: Object.fromEntries(
            Object.entries(adopted).map(([cidr, ruleId]) => [cidr, { ruleId, note: ADOPTED_RULE_NOTE }]),
          ),
        }
      : {}),
    ...(released.length ? { released } : {}),
    action: ensured.created.length || released.length ? 'updated' : 'unchanged',
    ...effect,
  };
  return {
    result,
    outputs: {
      egress: {
        securityGroupId: groupId,
        cidrs,
        ruleIds: ensured.ruleIds,
        ...(adoptedOnes.length ? { adopted } : {}),
        ...effect,
      },
    },
  };
}

/** Leaves each CIDR's shared rule on the group; a rule goes with the last link that needs it. */
async function releaseCidrs(
  link: Link,
  deps: StepDeps,
  groupId: string,
  cidrs: readonly string[],
): Promise<Record<string, unknown>[]> {
  const { target } = link.spec;
  const ec2 = deps.clients.ec2(target.accountId, target.region);
  const results: Record<string, unknown>[] = [];
  for (const cidr of cidrs) {
    const outcome = await leaveShared(
      deps.memberships,
      membership.egress(target.accountId, target.region, groupId, cidr),
      membership.link(link.id),
      link.id,
      deps.now().getTime(),
      () => revokeOwnedRule(ec2, groupId, cidr),
    );
    results.push(
      outcome.removed ? { ...outcome.result } : { cidr, action: 'kept', remainingLinks: outcome.remaining },
    );
  }
  return results;
}

/**
 * Revokes Tether's rule for one CIDR on the group, if it is there; others' rules are never
 * touched. Without a Tether rule, a rule someone else made for the CIDR is reported
 * `left-unmanaged` (the allowance the link used as it was), else `absent`.
 */
export async function revokeOwnedRule(ec2: EC2Client, groupId: string, cidr: string) {
  const rules = await ingressRules(ec2, groupId);
  const mine = rules.filter(
    (r) =>
      r.CidrIpv4 === cidr && r.FromPort === EGRESS_PORT && isOwnedBy(r.Tags, owners.egress(groupId, cidr)),
  );
  if (mine.length === 0) {
    const theirs = unmanagedAllowing(rules, cidr);
    return theirs
      ? { cidr, action: 'left-unmanaged', ruleId: theirs.SecurityGroupRuleId, note: ADOPTED_RULE_NOTE }
      : { cidr, action: 'absent' };
  }
  try {
    await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: groupId,
        SecurityGroupRuleIds: mine.map((r) => r.SecurityGroupRuleId ?? ''),
      }),
    );
  } catch (err) {
    if (!isAwsError(err, 'InvalidSecurityGroupRuleId.NotFound', 'InvalidPermission.NotFound')) throw err;
  }
  return { cidr, action: 'revoked', ruleIds: mine.map((r) => r.SecurityGroupRuleId) };
}

/** The offboard step: leave each CIDR's rule; a rule goes with the last link that needs it. */
export async function revokeEgressStep(link: Link, deps: StepDeps) {
  const resolved = link.outputs.resolved;
  if (!resolved) return { result: { action: 'nothing-to-remove' } };
  const { source } = link.spec;
  const groupId = resolved.target.clusterSecurityGroupId;
  const cidrs = desiredCidrs(link.spec, resolved);
  const results = groupId ? await releaseCidrs(link, deps, groupId, cidrs) : [];
  if (link.spec.network.mode === 'nat') {
    await deps.memberships.delete(
      membership.sourceVpc(source.accountId, source.region, resolved.source.vpcId),
      membership.link(link.id),
    );
  }
  return { result: { securityGroupId: groupId, rules: results } };
}
