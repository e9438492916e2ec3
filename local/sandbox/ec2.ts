/**
 * EC2 (per region): VPCs and subnets (read), Elastic IPs, NAT gateways, security groups
 * and their rules, customer-managed prefix lists, tags. Quotas and errors follow
 * AWS-FACTS "EC2 / VPC". EC2 models no error classes: every error is an unmodeled code.
 */
import { clone, mergeTags, type OpContext, type Operations, paginate, requireString } from './context';
import { SandboxError } from './errors';
import {
  type AddressState,
  type Ec2State,
  type NatGatewayState,
  type PrefixListState,
  regionOf,
  type SecurityGroupRuleState,
  type SecurityGroupState,
  type TagState,
} from './state';

/** Inbound (and, apart, outbound) rules per security group, IPv4 and IPv6 counted apart (AWS-FACTS). */
export const RULES_PER_SECURITY_GROUP = 60;
/** Elastic IPs per NAT gateway: 2 by default, adjustable to 8; the sandbox allows 8 (AWS-FACTS). */
export const ADDRESSES_PER_NAT_GATEWAY = 8;
/** NAT gateways per Availability Zone (AWS-FACTS). */
export const NAT_GATEWAYS_PER_AZ = 5;
/** Entries of one prefix list (AWS-FACTS). */
export const PREFIX_LIST_MAX_ENTRIES = 1000;
/** Entries `CreateManagedPrefixList` takes in one call (AWS-FACTS). */
export const PREFIX_LIST_ENTRIES_PER_CREATE = 100;
/** Customer-managed prefix lists per Region (AWS-FACTS). */
export const PREFIX_LISTS_PER_REGION = 100;

type Filter = { Name?: string; Values?: string[] };

function ec2Of(ctx: OpContext): Ec2State {
  return regionOf(ctx.account, ctx.region).ec2;
}

/** Applies EC2 `Filters`: `tag:<key>`, `tag-key` and the per-type fields `fields` gives. */
function applyFilters<T extends { Tags: TagState[] }>(
  items: T[],
  filters: unknown,
  fields: (item: T, name: string) => (string | undefined)[] | undefined,
): T[] {
  if (!Array.isArray(filters)) return items;
  return items.filter((item) =>
    (filters as Filter[]).every((f) => {
      const name = f.Name ?? '';
      const wanted = f.Values ?? [];
      let values: (string | undefined)[] | undefined;
      if (name.startsWith('tag:'))
        values = item.Tags.filter((t) => t.Key === name.slice(4)).map((t) => t.Value);
      else if (name === 'tag-key') values = item.Tags.map((t) => t.Key);
      else values = fields(item, name);
      if (values === undefined)
        throw new SandboxError('InvalidParameterValue', `The filter '${name}' is invalid`);
      // EC2 filter values accept * and ? wildcards.
      return wanted.some((w) => {
        const re = new RegExp(
          `^${w
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*')
            .replace(/\?/g, '.')}$`,
        );
        return values.some((v) => v !== undefined && re.test(v));
      });
    }),
  );
}

/** The tags of `TagSpecifications` for `resourceType`. */
function specTags(specs: unknown, resourceType: string): TagState[] {
  if (!Array.isArray(specs)) return [];
  const tags = (specs as { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[])
    .filter((s) => s.ResourceType === resourceType)
    .flatMap((s) => s.Tags ?? []);
  return mergeTags([], tags);
}

function ids(kind: string, ctx: OpContext, len = 17): string {
  return `${kind}-${ctx.newHex(kind).slice(0, len)}`;
}

function notFound(code: string, message: string): SandboxError {
  return new SandboxError(code, message);
}

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

/** How many rules of one direction and family a group counts (prefix lists count as MaxEntries: AWS-FACTS). */
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

function checkRuleQuota(ec2: Ec2State, groupId: string): void {
  const rules = Object.values(ec2.securityGroupRules).filter((r) => r.GroupId === groupId);
  for (const egress of [false, true]) {
    for (const fam of ['ipv4', 'ipv6'] as const) {
      if (ruleWeight(ec2, rules, egress, fam) > RULES_PER_SECURITY_GROUP) {
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
  checkRuleQuota(ec2, group.GroupId);
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

function prefixListOutput(ctx: OpContext, p: PrefixListState, state?: string): Record<string, unknown> {
  return {
    PrefixListId: p.PrefixListId,
    AddressFamily: p.AddressFamily,
    State: state ?? p.State,
    PrefixListArn: `arn:aws:ec2:${ctx.region}:${ctx.account.id}:prefix-list/${p.PrefixListId}`,
    PrefixListName: p.PrefixListName,
    MaxEntries: p.MaxEntries,
    Version: p.Version,
    Tags: clone(p.Tags),
    OwnerId: ctx.account.id,
  };
}

function prefixListOrThrow(ec2: Ec2State, id: unknown): PrefixListState {
  const p = typeof id === 'string' ? ec2.prefixLists[id] : undefined;
  if (!p) throw notFound('InvalidPrefixListID.NotFound', `The prefix list ID '${String(id)}' does not exist`);
  return p;
}

function entriesInput(entries: unknown): { Cidr: string; Description?: string }[] {
  if (entries === undefined) return [];
  if (!Array.isArray(entries)) throw new SandboxError('InvalidParameterValue', 'Entries must be a list');
  return (entries as { Cidr?: string; Description?: string }[]).map((e) => {
    if (typeof e.Cidr !== 'string' || !/^[\da-fA-F:.]+\/\d{1,3}$/.test(e.Cidr)) {
      throw new SandboxError('InvalidParameterValue', `The CIDR '${String(e.Cidr)}' is invalid.`);
    }
    return e.Description !== undefined ? { Cidr: e.Cidr, Description: e.Description } : { Cidr: e.Cidr };
  });
}

function natOrThrow(ec2: Ec2State, id: unknown): NatGatewayState {
  const n = typeof id === 'string' ? ec2.natGateways[id] : undefined;
  if (!n || n.State === 'deleted')
    throw notFound('NatGatewayNotFound', `The Nat Gateway ${String(id)} was not found`);
  return n;
}

function addressOrThrow(ec2: Ec2State, id: unknown): AddressState {
  const a = typeof id === 'string' ? ec2.addresses[id] : undefined;
  if (!a) throw notFound('InvalidAllocationID.NotFound', `The allocation ID '${String(id)}' does not exist`);
  return a;
}

function natOutput(n: NatGatewayState, addressStatus = 'succeeded'): Record<string, unknown> {
  return {
    CreateTime: new Date(n.CreateTime),
    ...(n.DeleteTime ? { DeleteTime: new Date(n.DeleteTime) } : {}),
    NatGatewayAddresses: n.addresses.map((a) => ({ ...a, Status: addressStatus })),
    NatGatewayId: n.NatGatewayId,
    State: n.State,
    SubnetId: n.SubnetId,
    VpcId: n.VpcId,
    Tags: clone(n.Tags),
    ConnectivityType: n.ConnectivityType,
  };
}

function addressOutput(ctx: OpContext, a: AddressState): Record<string, unknown> {
  return {
    AllocationId: a.AllocationId,
    PublicIp: a.PublicIp,
    Domain: 'vpc',
    ...(a.AssociationId ? { AssociationId: a.AssociationId } : {}),
    ...(a.NetworkInterfaceId
      ? { NetworkInterfaceId: a.NetworkInterfaceId, NetworkInterfaceOwnerId: ctx.account.id }
      : {}),
    ...(a.PrivateIpAddress ? { PrivateIpAddress: a.PrivateIpAddress } : {}),
    PublicIpv4Pool: 'amazon',
    NetworkBorderGroup: ctx.region,
    Tags: clone(a.Tags),
  };
}

/** A fresh public IP, unique across the whole sandbox. */
export function newPublicIp(ctx: { state: OpContext['state']; newHex(kind: string): string }): string {
  const used = new Set<string>();
  for (const acc of Object.values(ctx.state.accounts)) {
    for (const r of Object.values(acc.regions))
      for (const a of Object.values(r.ec2.addresses)) used.add(a.PublicIp);
  }
  for (;;) {
    const h = ctx.newHex('eip');
    const ip = `54.${parseInt(h.slice(0, 2), 16)}.${parseInt(h.slice(2, 4), 16)}.${(parseInt(h.slice(4, 6), 16) % 254) + 1}`;
    if (!used.has(ip)) return ip;
  }
}

/** Associates an Elastic IP with a NAT gateway (CreateNatGateway, AssociateNatGatewayAddress, seeds). */
export function attachAddress(
  ctx: { newHex(kind: string): string },
  nat: NatGatewayState,
  address: AddressState,
  isPrimary: boolean,
): NatGatewayState['addresses'][number] {
  const h = ctx.newHex('eipassoc');
  const assoc = {
    AllocationId: address.AllocationId,
    PublicIp: address.PublicIp,
    AssociationId: `eipassoc-${h.slice(0, 17)}`,
    NetworkInterfaceId: `eni-${h.slice(17, 34)}`,
    PrivateIp: `10.0.${parseInt(h.slice(34, 36), 16)}.${(parseInt(h.slice(36, 38), 16) % 250) + 4}`,
    IsPrimary: isPrimary,
  };
  nat.addresses.push(assoc);
  address.AssociationId = assoc.AssociationId;
  address.NetworkInterfaceId = assoc.NetworkInterfaceId;
  address.PrivateIpAddress = assoc.PrivateIp;
  address.natGatewayId = nat.NatGatewayId;
  return assoc;
}

function detachAddress(ec2: Ec2State, assoc: NatGatewayState['addresses'][number]): void {
  const a = ec2.addresses[assoc.AllocationId];
  if (!a) return;
  delete a.AssociationId;
  delete a.NetworkInterfaceId;
  delete a.PrivateIpAddress;
  delete a.natGatewayId;
}

function freeAddress(ec2: Ec2State, id: unknown): AddressState {
  const a = addressOrThrow(ec2, id);
  if (a.AssociationId)
    throw new SandboxError(
      'Resource.AlreadyAssociated',
      `Elastic IP address [${a.AllocationId}] is already associated`,
    );
  return a;
}

/** The taggable resource `id` names (by its prefix). */
function taggable(ec2: Ec2State, id: string): { Tags: TagState[] } {
  const [prefix] = id.split('-');
  const table: Record<string, [Record<string, { Tags: TagState[] }>, string, string]> = {
    sgr: [
      ec2.securityGroupRules,
      'InvalidSecurityGroupRuleId.NotFound',
      `The security group rule ID '${id}' does not exist`,
    ],
    sg: [ec2.securityGroups, 'InvalidGroup.NotFound', `The security group '${id}' does not exist`],
    pl: [ec2.prefixLists, 'InvalidPrefixListID.NotFound', `The prefix list ID '${id}' does not exist`],
    nat: [ec2.natGateways, 'NatGatewayNotFound', `The Nat Gateway ${id} was not found`],
    eipalloc: [ec2.addresses, 'InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`],
    vpc: [ec2.vpcs, 'InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`],
    subnet: [ec2.subnets, 'InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`],
  };
  const entry = table[prefix ?? ''];
  if (!entry) throw new SandboxError('InvalidID', `The ID '${id}' is not valid`);
  const item = entry[0][id];
  if (!item) throw notFound(entry[1], entry[2]);
  return item;
}

function byIds<T>(table: Record<string, T>, wanted: unknown, code: string, label: string): T[] {
  if (!Array.isArray(wanted) || wanted.length === 0) return Object.values(table);
  return (wanted as string[]).map((id) => {
    const item = table[id];
    if (!item) throw notFound(code, `The ${label} '${id}' does not exist`);
    return item;
  });
}

/** Moves NAT gateways along pending → available and deleting → deleted as they are described. */
function settle(ctx: OpContext, n: NatGatewayState): void {
  if (n.State !== 'pending' && n.State !== 'deleting') return;
  ctx.markDirty();
  if (n.settleAfterDescribes > 0) {
    n.settleAfterDescribes -= 1;
    return;
  }
  n.State = n.State === 'pending' ? 'available' : 'deleted';
}

/** The EC2 operations the sandbox implements. */
export const ec2Operations: Operations = {
  DescribeVpcs: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const vpcs = applyFilters(
      byIds(ec2.vpcs, input.VpcIds, 'InvalidVpcID.NotFound', 'vpc ID'),
      input.Filters,
      (v, name) =>
        ({
          'vpc-id': [v.VpcId],
          'cidr-block': [v.CidrBlock],
          cidr: [v.CidrBlock],
          'owner-id': [ctx.account.id],
          state: ['available'],
        })[name],
    );
    return {
      Vpcs: vpcs.map((v) => ({
        VpcId: v.VpcId,
        CidrBlock: v.CidrBlock,
        State: 'available',
        OwnerId: ctx.account.id,
        InstanceTenancy: 'default',
        IsDefault: false,
        Tags: clone(v.Tags),
      })),
    };
  },

  DescribeSubnets: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const subnets = applyFilters(
      byIds(ec2.subnets, input.SubnetIds, 'InvalidSubnetID.NotFound', 'subnet ID'),
      input.Filters,
      (s, name) =>
        ({
          'subnet-id': [s.SubnetId],
          'vpc-id': [s.VpcId],
          'availability-zone': [s.AvailabilityZone],
          'cidr-block': [s.CidrBlock],
          state: ['available'],
        })[name],
    );
    return {
      Subnets: subnets.map((s) => ({
        SubnetId: s.SubnetId,
        VpcId: s.VpcId,
        CidrBlock: s.CidrBlock,
        AvailabilityZone: s.AvailabilityZone,
        State: 'available',
        MapPublicIpOnLaunch: s.MapPublicIpOnLaunch,
        AvailableIpAddressCount: 4000,
        OwnerId: ctx.account.id,
        Tags: clone(s.Tags),
      })),
    };
  },

  DescribeNatGateways: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const all = byIds(ec2.natGateways, input.NatGatewayIds, 'NatGatewayNotFound', 'Nat Gateway');
    for (const n of all) settle(ctx, n);
    // DescribeNatGateways names its filter list `Filter`, not `Filters`.
    const nats = applyFilters(
      all,
      input.Filter,
      (n, name) =>
        ({
          'nat-gateway-id': [n.NatGatewayId],
          state: [n.State],
          'subnet-id': [n.SubnetId],
          'vpc-id': [n.VpcId],
        })[name],
    );
    const { page, next } = paginate(nats, input.NextToken, input.MaxResults, 1000);
    return { NatGateways: page.map((n) => natOutput(n)), ...(next ? { NextToken: next } : {}) };
  },

  CreateNatGateway: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const subnet = typeof input.SubnetId === 'string' ? ec2.subnets[input.SubnetId] : undefined;
    if (!subnet)
      throw notFound('InvalidSubnetID.NotFound', `The subnet ID '${String(input.SubnetId)}' does not exist`);
    if (typeof input.ClientToken === 'string') {
      const same = Object.values(ec2.natGateways).find((n) => n.clientToken === input.ClientToken);
      if (same) return { NatGateway: natOutput(same), ClientToken: input.ClientToken };
    }
    const type = input.ConnectivityType === 'private' ? 'private' : 'public';
    const inAz = Object.values(ec2.natGateways).filter(
      (n) => n.State !== 'deleted' && ec2.subnets[n.SubnetId]?.AvailabilityZone === subnet.AvailabilityZone,
    ).length;
    if (inAz >= NAT_GATEWAYS_PER_AZ)
      throw new SandboxError(
        'NatGatewayLimitExceeded',
        'The maximum number of NAT Gateways has been reached.',
      );
    const primary =
      type === 'public'
        ? freeAddress(ec2, requireString(input.AllocationId, 'allocationId', 'MissingParameter'))
        : undefined;
    const secondary = Array.isArray(input.SecondaryAllocationIds)
      ? (input.SecondaryAllocationIds as string[]).map((id) => freeAddress(ec2, id))
      : [];
    if (1 + secondary.length > ADDRESSES_PER_NAT_GATEWAY) {
      throw new SandboxError(
        'AddressLimitExceeded',
        `A NAT gateway can have at most ${ADDRESSES_PER_NAT_GATEWAY} Elastic IP addresses`,
      );
    }
    const nat: NatGatewayState = {
      NatGatewayId: ids('nat', ctx),
      VpcId: subnet.VpcId,
      SubnetId: subnet.SubnetId,
      // CreateNatGateway is asynchronous (AWS-FACTS "Events"): pending until described once more.
      State: 'pending',
      ConnectivityType: type,
      CreateTime: ctx.now(),
      addresses: [],
      Tags: specTags(input.TagSpecifications, 'natgateway'),
      settleAfterDescribes: 1,
      ...(typeof input.ClientToken === 'string' ? { clientToken: input.ClientToken } : {}),
    };
    if (primary) attachAddress(ctx, nat, primary, true);
    for (const a of secondary) attachAddress(ctx, nat, a, false);
    ec2.natGateways[nat.NatGatewayId] = nat;
    return {
      NatGateway: natOutput(nat, 'associating'),
      ...(typeof input.ClientToken === 'string' ? { ClientToken: input.ClientToken } : {}),
    };
  },

  DeleteNatGateway: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const nat = natOrThrow(ec2, input.NatGatewayId);
    if (nat.State !== 'deleting') {
      for (const a of nat.addresses) detachAddress(ec2, a);
      nat.State = 'deleting';
      nat.DeleteTime = ctx.now();
      nat.settleAfterDescribes = 1;
    }
    return { NatGatewayId: nat.NatGatewayId };
  },

  AssociateNatGatewayAddress: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const nat = natOrThrow(ec2, input.NatGatewayId);
    if (nat.State === 'deleting')
      throw new SandboxError('InvalidParameterValue', `NAT gateway ${nat.NatGatewayId} is being deleted`);
    const wanted = Array.isArray(input.AllocationIds) ? (input.AllocationIds as string[]) : [];
    if (wanted.length === 0)
      throw new SandboxError('MissingParameter', 'The request must contain the parameter AllocationIds');
    const addrs = wanted.map((id) => freeAddress(ec2, id));
    // 2 Elastic IPs by default, adjustable to 8 (AWS-FACTS "EC2 / VPC"); the error code is unconfirmed.
    if (nat.addresses.length + addrs.length > ADDRESSES_PER_NAT_GATEWAY) {
      throw new SandboxError(
        'AddressLimitExceeded',
        `A NAT gateway can have at most ${ADDRESSES_PER_NAT_GATEWAY} Elastic IP addresses`,
      );
    }
    const added = addrs.map((a) => attachAddress(ctx, nat, a, false));
    return {
      NatGatewayId: nat.NatGatewayId,
      NatGatewayAddresses: added.map((a) => ({ ...a, Status: 'associating' })),
    };
  },

  DisassociateNatGatewayAddress: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const nat = natOrThrow(ec2, input.NatGatewayId);
    const wanted = Array.isArray(input.AssociationIds) ? (input.AssociationIds as string[]) : [];
    const victims = wanted.map((id) => {
      const a = nat.addresses.find((x) => x.AssociationId === id);
      if (!a) throw notFound('InvalidAssociationID.NotFound', `The association ID '${id}' does not exist`);
      if (a.IsPrimary)
        throw new SandboxError(
          'InvalidParameterValue',
          'You cannot disassociate the primary address of a NAT gateway',
        );
      return a;
    });
    for (const v of victims) detachAddress(ec2, v);
    nat.addresses = nat.addresses.filter((a) => !victims.includes(a));
    return {
      NatGatewayId: nat.NatGatewayId,
      NatGatewayAddresses: victims.map((a) => ({ ...a, Status: 'disassociating' })),
    };
  },

  AllocateAddress: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const a: AddressState = {
      AllocationId: ids('eipalloc', ctx),
      PublicIp: newPublicIp(ctx),
      Tags: specTags(input.TagSpecifications, 'elastic-ip'),
    };
    ec2.addresses[a.AllocationId] = a;
    return {
      PublicIp: a.PublicIp,
      AllocationId: a.AllocationId,
      Domain: 'vpc',
      PublicIpv4Pool: 'amazon',
      NetworkBorderGroup: ctx.region,
    };
  },

  ReleaseAddress: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const a = addressOrThrow(ec2, input.AllocationId);
    if (a.AssociationId) throw new SandboxError('InvalidIPAddress.InUse', `Address ${a.PublicIp} is in use.`);
    delete ec2.addresses[a.AllocationId];
    return {};
  },

  DescribeAddresses: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    let all = byIds(ec2.addresses, input.AllocationIds, 'InvalidAllocationID.NotFound', 'allocation ID');
    if (Array.isArray(input.PublicIps) && input.PublicIps.length > 0) {
      all = (input.PublicIps as string[]).map((ip) => {
        const a = all.find((x) => x.PublicIp === ip);
        if (!a) throw notFound('InvalidAddress.NotFound', `Address '${ip}' not found.`);
        return a;
      });
    }
    const addrs = applyFilters(
      all,
      input.Filters,
      (a, name) =>
        ({
          'allocation-id': [a.AllocationId],
          'association-id': [a.AssociationId],
          domain: ['vpc'],
          'public-ip': [a.PublicIp],
          'network-interface-id': [a.NetworkInterfaceId],
          'private-ip-address': [a.PrivateIpAddress],
        })[name],
    );
    return { Addresses: addrs.map((a) => addressOutput(ctx, a)) };
  },

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

  CreateTags: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const resources = Array.isArray(input.Resources) ? (input.Resources as string[]) : [];
    const items = resources.map((id) => taggable(ec2, id));
    for (const item of items) item.Tags = mergeTags(item.Tags, input.Tags);
    if (items.some((i) => i.Tags.length > 50))
      throw new SandboxError(
        'TagLimitExceeded',
        'The maximum number of tags for a resource (50) has been reached.',
      );
    return {};
  },

  DeleteTags: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const resources = Array.isArray(input.Resources) ? (input.Resources as string[]) : [];
    const spec = Array.isArray(input.Tags) ? (input.Tags as { Key?: string; Value?: string }[]) : undefined;
    for (const id of resources) {
      const item = taggable(ec2, id);
      if (!spec) item.Tags = [];
      else {
        // A tag given with a value is deleted only if the value matches.
        item.Tags = item.Tags.filter(
          (t) => !spec.some((s) => s.Key === t.Key && (s.Value === undefined || s.Value === t.Value)),
        );
      }
    }
    return {};
  },

  DescribeTags: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const rows: { Key: string; Value: string; ResourceId: string; ResourceType: string; Tags: TagState[] }[] =
      [];
    const add = (table: Record<string, { Tags: TagState[] }>, type: string) => {
      for (const [id, item] of Object.entries(table))
        for (const t of item.Tags) rows.push({ ...t, ResourceId: id, ResourceType: type, Tags: [] });
    };
    add(ec2.securityGroups, 'security-group');
    add(ec2.securityGroupRules, 'security-group-rule');
    add(ec2.prefixLists, 'prefix-list');
    add(ec2.natGateways, 'natgateway');
    add(ec2.addresses, 'elastic-ip');
    add(ec2.vpcs, 'vpc');
    add(ec2.subnets, 'subnet');
    const out = applyFilters(
      rows,
      input.Filters,
      (r, name) =>
        ({
          'resource-id': [r.ResourceId],
          'resource-type': [r.ResourceType],
          key: [r.Key],
          value: [r.Value],
        })[name],
    );
    return {
      Tags: out.map(({ Key, Value, ResourceId, ResourceType }) => ({ Key, Value, ResourceId, ResourceType })),
    };
  },

  CreateManagedPrefixList: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const name = requireString(input.PrefixListName, 'PrefixListName', 'MissingParameter');
    const max = Number(input.MaxEntries);
    if (!Number.isInteger(max) || max < 1 || max > PREFIX_LIST_MAX_ENTRIES) {
      throw new SandboxError(
        'InvalidParameterValue',
        `MaxEntries must be between 1 and ${PREFIX_LIST_MAX_ENTRIES}`,
      );
    }
    const family =
      input.AddressFamily === 'IPv6' ? 'IPv6' : input.AddressFamily === 'IPv4' ? 'IPv4' : undefined;
    if (!family) throw new SandboxError('InvalidParameterValue', 'AddressFamily must be IPv4 or IPv6');
    const entries = entriesInput(input.Entries);
    if (entries.length > PREFIX_LIST_ENTRIES_PER_CREATE) {
      throw new SandboxError(
        'InvalidParameterValue',
        `You can specify at most ${PREFIX_LIST_ENTRIES_PER_CREATE} entries when creating a prefix list.`,
      );
    }
    if (entries.length > max)
      throw new SandboxError('InvalidParameterValue', 'The number of entries exceeds MaxEntries.');
    if (Object.keys(ec2.prefixLists).length >= PREFIX_LISTS_PER_REGION) {
      throw new SandboxError(
        'PrefixListLimitExceeded',
        'The maximum number of prefix lists has been reached.',
      );
    }
    const p: PrefixListState = {
      PrefixListId: ids('pl', ctx),
      PrefixListName: name,
      AddressFamily: family,
      MaxEntries: max,
      Version: 1,
      State: 'create-complete',
      Tags: specTags(input.TagSpecifications, 'prefix-list'),
      versions: { '1': entries },
    };
    ec2.prefixLists[p.PrefixListId] = p;
    return { PrefixList: prefixListOutput(ctx, p, 'create-in-progress') };
  },

  ModifyManagedPrefixList: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const p = prefixListOrThrow(ec2, input.PrefixListId);
    // Optimistic concurrency: a stale CurrentVersion means another change came first (AWS-FACTS).
    if (input.CurrentVersion !== undefined && Number(input.CurrentVersion) !== p.Version) {
      throw new SandboxError(
        'PrefixListVersionMismatch',
        'The prefix list has the incorrect version number.',
      );
    }
    const current = p.versions[String(p.Version)] ?? [];
    const remove = new Set(
      (Array.isArray(input.RemoveEntries) ? (input.RemoveEntries as { Cidr?: string }[]) : []).map((e) =>
        String(e.Cidr),
      ),
    );
    for (const c of remove) {
      if (!current.some((e) => e.Cidr === c))
        throw new SandboxError(
          'InvalidPrefixListModification',
          `The prefix list does not contain the CIDR ${c}.`,
        );
    }
    const next = current.filter((e) => !remove.has(e.Cidr));
    for (const e of entriesInput(input.AddEntries)) {
      const same = next.find((x) => x.Cidr === e.Cidr);
      if (same)
        throw new SandboxError(
          'InvalidPrefixListModification',
          `The prefix list already contains the CIDR ${e.Cidr}.`,
        );
      next.push(e);
    }
    const max = input.MaxEntries === undefined ? p.MaxEntries : Number(input.MaxEntries);
    if (!Number.isInteger(max) || max < 1 || max > PREFIX_LIST_MAX_ENTRIES) {
      throw new SandboxError(
        'InvalidParameterValue',
        `MaxEntries must be between 1 and ${PREFIX_LIST_MAX_ENTRIES}`,
      );
    }
    if (next.length > max)
      throw new SandboxError('InvalidParameterValue', 'The number of entries exceeds MaxEntries.');
    const changedEntries =
      remove.size > 0 || (Array.isArray(input.AddEntries) && input.AddEntries.length > 0);
    p.MaxEntries = max;
    // A resize counts against every group whose rules reference the list (AWS-FACTS).
    for (const gid of new Set(
      Object.values(ec2.securityGroupRules)
        .filter((r) => r.PrefixListId === p.PrefixListId)
        .map((r) => r.GroupId),
    )) {
      checkRuleQuota(ec2, gid);
    }
    if (changedEntries) {
      p.Version += 1;
      p.versions[String(p.Version)] = next;
    }
    p.State = 'modify-complete';
    return { PrefixList: prefixListOutput(ctx, p, 'modify-in-progress') };
  },

  GetManagedPrefixListEntries: (ctx, input) => {
    const p = prefixListOrThrow(ec2Of(ctx), input.PrefixListId);
    const v = input.TargetVersion === undefined ? p.Version : Number(input.TargetVersion);
    const entries = p.versions[String(v)];
    if (!entries)
      throw new SandboxError('InvalidParameterValue', `The prefix list version ${v} does not exist.`);
    const { page, next } = paginate(entries, input.NextToken, input.MaxResults, 100);
    return { Entries: clone(page), ...(next ? { NextToken: next } : {}) };
  },

  DescribeManagedPrefixLists: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const all = byIds(ec2.prefixLists, input.PrefixListIds, 'InvalidPrefixListID.NotFound', 'prefix list ID');
    const lists = applyFilters(
      all,
      input.Filters,
      (p, name) =>
        ({
          'prefix-list-id': [p.PrefixListId],
          'prefix-list-name': [p.PrefixListName],
          'owner-id': [ctx.account.id],
        })[name],
    );
    return { PrefixLists: lists.map((p) => prefixListOutput(ctx, p)) };
  },

  DeleteManagedPrefixList: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const p = prefixListOrThrow(ec2, input.PrefixListId);
    if (Object.values(ec2.securityGroupRules).some((r) => r.PrefixListId === p.PrefixListId)) {
      throw new SandboxError(
        'PrefixListInUse',
        `The prefix list ${p.PrefixListId} is referenced by a security group rule.`,
      );
    }
    delete ec2.prefixLists[p.PrefixListId];
    return { PrefixList: prefixListOutput(ctx, p, 'delete-in-progress') };
  },
};
