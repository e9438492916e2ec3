/**
 * Security groups and their rules: DescribeSecurityGroups and DescribeSecurityGroupRules,
 * Authorize and Revoke (ingress and egress, by permission or by rule id), rule
 * descriptions, and the rules-per-group quota, where a referenced prefix list counts as its
 * MaxEntries (docs/aws-facts.md#ec2-and-vpc).
 */
import { clone, type OpContext, type Operations, paginate, requireString } from '#local/sandbox/context';
import { SandboxError } from '#local/sandbox/errors';
import { appliedQuota } from '#local/sandbox/service-quotas';
import type { Ec2State, SecurityGroupRuleState, SecurityGroupState } from '#local/sandbox/state';
import { applyFilters, byIds, ec2Of, ids, notFound } from './resources';
import { specTags } from './tags';

/** Inbound (and, apart, outbound) rules per security group by default (adjustable: `vpc/L-0EA8095F`), IPv4 and IPv6 counted apart (docs/aws-facts.md#security-group-and-prefix-list-quotas). */
export const RULES_PER_SECURITY_GROUP = 60;

/** The security group `id` in the caller's account and region, or InvalidGroup.NotFound. */
export function groupOrThrow(ec2: Ec2State, id: unknown): SecurityGroupState {
  const g = typeof id === 'string' ? ec2.securityGroups[id] : undefined;
  if (!g) throw notFound('InvalidGroup.NotFound', `The security group '${String(id)}' does not exist`);
  return g;
}

function normalizeProtocol(p: unknown): string {
  const s = String(p ?? '').toLowerCase();
  const map: Record<string, string> = {
    '6': 'tcp',
    '17': 'udp',
    '1': 'icmp',
    all: '-1',
    '-1': '-1',
    tcp: 'tcp',
    udp: 'udp',
    icmp: 'icmp',
    icmpv6: 'icmpv6',
    '58': 'icmpv6',
  };
  const out = map[s];
  if (!out)
    throw new SandboxError(
      'InvalidParameterValue',
      `Invalid value '${String(p)}' for IP protocol. Unknown protocol.`,
    );
  return out;
}

/** The source of a rule as the Duplicate message spells it. */
function peerOf(r: SecurityGroupRuleState): string {
  return r.CidrIpv4 ?? r.CidrIpv6 ?? r.PrefixListId ?? r.ReferencedGroupId ?? '';
}

function sameRule(a: SecurityGroupRuleState, b: SecurityGroupRuleState): boolean {
  return (
    a.GroupId === b.GroupId &&
    a.IsEgress === b.IsEgress &&
    a.IpProtocol === b.IpProtocol &&
    a.FromPort === b.FromPort &&
    a.ToPort === b.ToPort &&
    peerOf(a) === peerOf(b)
  );
}

/** Expands `IpPermissions` into one rule per source, as EC2 stores them. */
function rulesFromPermissions(
  groupId: string,
  isEgress: boolean,
  permissions: unknown,
): Omit<SecurityGroupRuleState, 'SecurityGroupRuleId' | 'Tags'>[] {
  if (!Array.isArray(permissions) || permissions.length === 0) {
    throw new SandboxError('MissingParameter', 'The request must contain the parameter ipPermissions');
  }
  const out: Omit<SecurityGroupRuleState, 'SecurityGroupRuleId' | 'Tags'>[] = [];
  for (const p of permissions as Record<string, any>[]) {
    const IpProtocol = normalizeProtocol(p.IpProtocol);
    const all = IpProtocol === '-1';
    const FromPort = all ? -1 : Number(p.FromPort ?? -1);
    const ToPort = all ? -1 : Number(p.ToPort ?? -1);
    if (
      (IpProtocol === 'tcp' || IpProtocol === 'udp') &&
      (!(FromPort >= 0) || !(ToPort >= FromPort) || ToPort > 65535)
    ) {
      throw new SandboxError('InvalidParameterValue', `Invalid TCP/UDP port range: ${FromPort}-${ToPort}`);
    }
    const base = { GroupId: groupId, IsEgress: isEgress, IpProtocol, FromPort, ToPort };
    const desc = (d: unknown): { Description?: string } => (typeof d === 'string' ? { Description: d } : {});
    for (const r of p.IpRanges ?? []) {
      if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(String(r.CidrIp))) {
        throw new SandboxError('InvalidParameterValue', `CIDR block ${String(r.CidrIp)} is malformed`);
      }
      out.push({ ...base, CidrIpv4: r.CidrIp, ...desc(r.Description) });
    }
    for (const r of p.Ipv6Ranges ?? []) out.push({ ...base, CidrIpv6: r.CidrIpv6, ...desc(r.Description) });
    for (const r of p.PrefixListIds ?? [])
      out.push({ ...base, PrefixListId: r.PrefixListId, ...desc(r.Description) });
    for (const r of p.UserIdGroupPairs ?? [])
      out.push({ ...base, ReferencedGroupId: r.GroupId, ...desc(r.Description) });
  }
  return out;
}

/** How many rules of one direction and family a group counts (prefix lists count as MaxEntries: docs/aws-facts.md#security-group-and-prefix-list-quotas). */
function ruleWeight(
  ec2: Ec2State,
  rules: readonly SecurityGroupRuleState[],
  isEgress: boolean,
  family: 'ipv4' | 'ipv6',
): number {
  let n = 0;
  for (const r of rules) {
    if (r.IsEgress !== isEgress) continue;
    if (r.PrefixListId) {
      const pl = ec2.prefixLists[r.PrefixListId];
      if ((pl?.AddressFamily === 'IPv6' ? 'ipv6' : 'ipv4') === family) n += pl?.MaxEntries ?? 1;
    } else if (r.ReferencedGroupId) n += 1;
    else if (family === 'ipv4' && r.CidrIpv4) n += 1;
    else if (family === 'ipv6' && r.CidrIpv6) n += 1;
  }
  return n;
}

/** The rules-per-group quota in force for the caller: the Service Quotas applied value of `vpc/L-0EA8095F`. */
export function rulesPerGroup(ctx: OpContext): number {
  return appliedQuota(ctx.account, ctx.region, 'vpc', 'L-0EA8095F');
}

/** RulesPerSecurityGroupLimitExceeded if a direction and family of the group counts more than `limit` rules. */
export function checkRuleQuota(ec2: Ec2State, groupId: string, limit = RULES_PER_SECURITY_GROUP): void {
  const rules = Object.values(ec2.securityGroupRules).filter((r) => r.GroupId === groupId);
  for (const egress of [false, true]) {
    for (const fam of ['ipv4', 'ipv6'] as const) {
      if (ruleWeight(ec2, rules, egress, fam) > limit) {
        throw new SandboxError(
          'RulesPerSecurityGroupLimitExceeded',
          'The maximum number of rules per security group has been reached.',
        );
      }
    }
  }
}

function protoName(p: string): string {
  return p === '-1' ? 'ALL' : p.toUpperCase();
}

function ruleOutput(ctx: OpContext, r: SecurityGroupRuleState): Record<string, unknown> {
  return {
    SecurityGroupRuleId: r.SecurityGroupRuleId,
    GroupId: r.GroupId,
    GroupOwnerId: ctx.account.id,
    IsEgress: r.IsEgress,
    IpProtocol: r.IpProtocol,
    FromPort: r.FromPort,
    ToPort: r.ToPort,
    ...(r.CidrIpv4 ? { CidrIpv4: r.CidrIpv4 } : {}),
    ...(r.CidrIpv6 ? { CidrIpv6: r.CidrIpv6 } : {}),
    ...(r.PrefixListId ? { PrefixListId: r.PrefixListId } : {}),
    ...(r.ReferencedGroupId
      ? { ReferencedGroupInfo: { GroupId: r.ReferencedGroupId, UserId: ctx.account.id } }
      : {}),
    ...(r.Description !== undefined ? { Description: r.Description } : {}),
    Tags: clone(r.Tags),
    SecurityGroupRuleArn: `arn:aws:ec2:${ctx.region}:${ctx.account.id}:security-group-rule/${r.SecurityGroupRuleId}`,
  };
}

/** Folds rules back into `IpPermissions`, as DescribeSecurityGroups shows them. */
function permissionsOf(ctx: OpContext, rules: SecurityGroupRuleState[]): Record<string, unknown>[] {
  const byKey = new Map<string, Record<string, any>>();
  for (const r of rules) {
    const key = `${r.IpProtocol}|${r.FromPort}|${r.ToPort}`;
    let p = byKey.get(key);
    if (!p) {
      p = {
        IpProtocol: r.IpProtocol,
        ...(r.IpProtocol === '-1' ? {} : { FromPort: r.FromPort, ToPort: r.ToPort }),
        IpRanges: [],
        Ipv6Ranges: [],
        PrefixListIds: [],
        UserIdGroupPairs: [],
      };
      byKey.set(key, p);
    }
    const d = r.Description !== undefined ? { Description: r.Description } : {};
    if (r.CidrIpv4) p.IpRanges.push({ CidrIp: r.CidrIpv4, ...d });
    if (r.CidrIpv6) p.Ipv6Ranges.push({ CidrIpv6: r.CidrIpv6, ...d });
    if (r.PrefixListId) p.PrefixListIds.push({ PrefixListId: r.PrefixListId, ...d });
    if (r.ReferencedGroupId)
      p.UserIdGroupPairs.push({ GroupId: r.ReferencedGroupId, UserId: ctx.account.id, ...d });
  }
  return [...byKey.values()];
}

function groupOutput(ctx: OpContext, g: SecurityGroupState): Record<string, unknown> {
  const rules = Object.values(ec2Of(ctx).securityGroupRules).filter((r) => r.GroupId === g.GroupId);
  return {
    GroupId: g.GroupId,
    GroupName: g.GroupName,
    Description: g.Description,
    VpcId: g.VpcId,
    OwnerId: ctx.account.id,
    IpPermissions: permissionsOf(
      ctx,
      rules.filter((r) => !r.IsEgress),
    ),
    IpPermissionsEgress: permissionsOf(
      ctx,
      rules.filter((r) => r.IsEgress),
    ),
    Tags: clone(g.Tags),
    SecurityGroupArn: `arn:aws:ec2:${ctx.region}:${ctx.account.id}:security-group/${g.GroupId}`,
  };
}

/** Finds the rules an `IpPermissions` revoke names; InvalidPermission.NotFound for any missing (non-default VPC). */
function matchRules(
  ec2: Ec2State,
  groupId: string,
  isEgress: boolean,
  permissions: unknown,
): SecurityGroupRuleState[] {
  const wanted = rulesFromPermissions(groupId, isEgress, permissions);
  const existing = Object.values(ec2.securityGroupRules);
  return wanted.map((w) => {
    const hit = existing.find((e) => sameRule(e, { ...w, SecurityGroupRuleId: '', Tags: [] }));
    if (!hit)
      throw new SandboxError(
        'InvalidPermission.NotFound',
        'The specified rule does not exist in this security group.',
      );
    return hit;
  });
}

function authorize(ctx: OpContext, input: Record<string, any>, isEgress: boolean): Record<string, unknown> {
  const ec2 = ec2Of(ctx);
  const group = groupOrThrow(ec2, requireString(input.GroupId, 'groupId', 'MissingParameter'));
  const wanted = rulesFromPermissions(group.GroupId, isEgress, input.IpPermissions);
  const tags = specTags(input.TagSpecifications, 'security-group-rule');
  const added: SecurityGroupRuleState[] = [];
  for (const w of wanted) {
    const rule: SecurityGroupRuleState = { ...w, SecurityGroupRuleId: ids('sgr', ctx), Tags: clone(tags) };
    if (rule.PrefixListId && !ec2.prefixLists[rule.PrefixListId]) {
      throw notFound(
        'InvalidPrefixListID.NotFound',
        `The prefix list ID '${rule.PrefixListId}' does not exist`,
      );
    }
    if (rule.ReferencedGroupId && !ec2.securityGroups[rule.ReferencedGroupId]) {
      throw notFound(
        'InvalidGroup.NotFound',
        `The security group '${rule.ReferencedGroupId}' does not exist`,
      );
    }
    const dup = [...Object.values(ec2.securityGroupRules), ...added].find((e) => sameRule(e, rule));
    if (dup) {
      const ports = rule.IpProtocol === '-1' ? 'ALL' : `from port: ${rule.FromPort}, to port: ${rule.ToPort}`;
      throw new SandboxError(
        'InvalidPermission.Duplicate',
        `the specified rule "peer: ${peerOf(rule)}, ${protoName(rule.IpProtocol)}, ${ports}, ALLOW" already exists`,
      );
    }
    added.push(rule);
  }
  for (const r of added) ec2.securityGroupRules[r.SecurityGroupRuleId] = r;
  checkRuleQuota(ec2, group.GroupId, rulesPerGroup(ctx));
  return { Return: true, SecurityGroupRules: added.map((r) => ruleOutput(ctx, r)) };
}

function revoke(ctx: OpContext, input: Record<string, any>, isEgress: boolean): Record<string, unknown> {
  const ec2 = ec2Of(ctx);
  const group = groupOrThrow(ec2, requireString(input.GroupId, 'groupId', 'MissingParameter'));
  let victims: SecurityGroupRuleState[];
  if (Array.isArray(input.SecurityGroupRuleIds)) {
    victims = (input.SecurityGroupRuleIds as string[]).map((id) => {
      const r = ec2.securityGroupRules[id];
      if (!r || r.GroupId !== group.GroupId || r.IsEgress !== isEgress) {
        throw notFound(
          'InvalidSecurityGroupRuleId.NotFound',
          `The security group rule ID '${id}' does not exist`,
        );
      }
      return r;
    });
  } else {
    victims = matchRules(ec2, group.GroupId, isEgress, input.IpPermissions);
  }
  for (const v of victims) delete ec2.securityGroupRules[v.SecurityGroupRuleId];
  return {
    Return: true,
    RevokedSecurityGroupRules: victims.map((v) => ({
      SecurityGroupRuleId: v.SecurityGroupRuleId,
      GroupId: v.GroupId,
      IsEgress: v.IsEgress,
      IpProtocol: v.IpProtocol,
      FromPort: v.FromPort,
      ToPort: v.ToPort,
      ...(v.CidrIpv4 ? { CidrIpv4: v.CidrIpv4 } : {}),
      ...(v.PrefixListId ? { PrefixListId: v.PrefixListId } : {}),
      ...(v.Description !== undefined ? { Description: v.Description } : {}),
    })),
  };
}

/** The security group and rule operations. */
export const securityGroupOperations: Operations = {
  DescribeSecurityGroups: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    let groups = byIds(ec2.securityGroups, input.GroupIds, 'InvalidGroup.NotFound', 'security group');
    if (Array.isArray(input.GroupNames) && input.GroupNames.length > 0) {
      groups = (input.GroupNames as string[]).map((n) => {
        const g = groups.find((x) => x.GroupName === n);
        if (!g) throw notFound('InvalidGroup.NotFound', `The security group '${n}' does not exist`);
        return g;
      });
    }
    const out = applyFilters(
      groups,
      input.Filters,
      (g, name) =>
        ({
          'group-id': [g.GroupId],
          'group-name': [g.GroupName],
          'vpc-id': [g.VpcId],
          description: [g.Description],
          'owner-id': [ctx.account.id],
        })[name],
    );
    return { SecurityGroups: out.map((g) => groupOutput(ctx, g)) };
  },

  DescribeSecurityGroupRules: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const all = byIds(
      ec2.securityGroupRules,
      input.SecurityGroupRuleIds,
      'InvalidSecurityGroupRuleId.NotFound',
      'security group rule ID',
    );
    const rules = applyFilters(
      all,
      input.Filters,
      (r, name) => ({ 'group-id': [r.GroupId], 'security-group-rule-id': [r.SecurityGroupRuleId] })[name],
    );
    const { page, next } = paginate(rules, input.NextToken, input.MaxResults, 1000);
    return { SecurityGroupRules: page.map((r) => ruleOutput(ctx, r)), ...(next ? { NextToken: next } : {}) };
  },

  AuthorizeSecurityGroupIngress: (ctx, input) => authorize(ctx, input, false),
  AuthorizeSecurityGroupEgress: (ctx, input) => authorize(ctx, input, true),
  RevokeSecurityGroupIngress: (ctx, input) => revoke(ctx, input, false),
  RevokeSecurityGroupEgress: (ctx, input) => revoke(ctx, input, true),

  ModifySecurityGroupRules: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    groupOrThrow(ec2, input.GroupId);
    for (const u of (input.SecurityGroupRules ?? []) as {
      SecurityGroupRuleId?: string;
      SecurityGroupRule?: { Description?: string };
    }[]) {
      const r = u.SecurityGroupRuleId ? ec2.securityGroupRules[u.SecurityGroupRuleId] : undefined;
      if (!r)
        throw notFound(
          'InvalidSecurityGroupRuleId.NotFound',
          `The security group rule ID '${String(u.SecurityGroupRuleId)}' does not exist`,
        );
      if (u.SecurityGroupRule?.Description !== undefined) r.Description = u.SecurityGroupRule.Description;
    }
    return { Return: true };
  },
};
