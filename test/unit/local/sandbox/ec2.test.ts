import {
  AllocateAddressCommand,
  AssociateNatGatewayAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateManagedPrefixListCommand,
  CreateNatGatewayCommand,
  CreateTagsCommand,
  DeleteNatGatewayCommand,
  DeleteTagsCommand,
  DescribeAddressesCommand,
  DescribeManagedPrefixListsCommand,
  DescribeNatGatewaysCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  GetManagedPrefixListEntriesCommand,
  ModifyManagedPrefixListCommand,
  ReleaseAddressCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { DEMO_NAT_IPS, Sandbox } from '#local/sandbox/index';
import { agentClients, rejectionOf } from './helpers';

const https = (cidr: string, description?: string) => ({
  IpProtocol: 'tcp',
  FromPort: 443,
  ToPort: 443,
  IpRanges: [{ CidrIp: cidr, ...(description ? { Description: description } : {}) }],
});

async function target() {
  const sb = Sandbox.open();
  const { ec2 } = await agentClients(sb, '222222222222');
  const sg =
    sb.state().accounts['222222222222']!.regions['ap-southeast-1']!.eks.clusters['cluster-b']!
      .clusterSecurityGroupId;
  return { sb, ec2, sg };
}

describe('ec2', () => {
  it('describes the demo source VPC and its NAT gateways public IPs', async () => {
    const sb = Sandbox.open();
    const { ec2 } = await agentClients(sb, '111111111111');
    const vpcId =
      sb.state().accounts['111111111111']!.regions['ap-southeast-1']!.eks.clusters['cluster-a']!.vpcId;
    expect((await ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }))).Vpcs?.[0]?.VpcId).toBe(vpcId);
    const subnets = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }),
    );
    expect(subnets.Subnets).toHaveLength(6);
    const nats = await ec2.send(
      new DescribeNatGatewaysCommand({
        Filter: [
          { Name: 'vpc-id', Values: [vpcId] },
          { Name: 'state', Values: ['available'] },
        ],
      }),
    );
    expect(nats.NatGateways?.flatMap((n) => n.NatGatewayAddresses?.map((a) => a.PublicIp))).toEqual(
      DEMO_NAT_IPS,
    );
    expect(nats.NatGateways?.[0]?.NatGatewayAddresses?.[0]?.AllocationId).toMatch(/^eipalloc-/);
    const addrs = await ec2.send(new DescribeAddressesCommand({}));
    expect(addrs.Addresses?.map((a) => a.PublicIp).sort()).toEqual([...DEMO_NAT_IPS].sort());
  });

  it('shows the cluster security group with its self-referencing rule', async () => {
    const { ec2, sg } = await target();
    const { SecurityGroups } = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [sg] }));
    expect(SecurityGroups?.[0]?.IpPermissions).toEqual([
      {
        IpProtocol: '-1',
        IpRanges: [],
        Ipv6Ranges: [],
        PrefixListIds: [],
        UserIdGroupPairs: [{ GroupId: sg, UserId: '222222222222' }],
      },
    ]);
    const missing = await rejectionOf(
      ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-0123456789abcdef0'] })),
    );
    expect(missing.name).toBe('InvalidGroup.NotFound');
  });

  it('authorizes tagged ingress rules and refuses duplicates', async () => {
    const { ec2, sg } = await target();
    const out = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: sg,
        IpPermissions: [https('18.0.35.117/32', 'tether link x')],
        TagSpecifications: [
          { ResourceType: 'security-group-rule', Tags: [{ Key: 'tether:owner', Value: 'vpc-1' }] },
        ],
      }),
    );
    const rule = out.SecurityGroupRules?.[0];
    expect(rule).toMatchObject({
      GroupId: sg,
      IsEgress: false,
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      CidrIpv4: '18.0.35.117/32',
      Description: 'tether link x',
    });
    expect(rule?.SecurityGroupRuleId).toMatch(/^sgr-[0-9a-f]{17}$/);
    const tagged = await ec2.send(
      new DescribeSecurityGroupRulesCommand({
        Filters: [
          { Name: 'group-id', Values: [sg] },
          { Name: 'tag:tether:owner', Values: ['vpc-1'] },
        ],
      }),
    );
    expect(tagged.SecurityGroupRules?.map((r) => r.SecurityGroupRuleId)).toEqual([rule?.SecurityGroupRuleId]);
    expect(tagged.SecurityGroupRules?.[0]?.Tags).toEqual([{ Key: 'tether:owner', Value: 'vpc-1' }]);
    const dup = await rejectionOf(
      ec2.send(
        new AuthorizeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [https('18.0.35.117/32')] }),
      ),
    );
    expect(dup.name).toBe('InvalidPermission.Duplicate');

    await ec2.send(
      new CreateTagsCommand({
        Resources: [rule!.SecurityGroupRuleId!],
        Tags: [{ Key: 'extra', Value: '1' }],
      }),
    );
    await ec2.send(
      new DeleteTagsCommand({ Resources: [rule!.SecurityGroupRuleId!], Tags: [{ Key: 'tether:owner' }] }),
    );
    const after = await ec2.send(
      new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: [rule!.SecurityGroupRuleId!] }),
    );
    expect(after.SecurityGroupRules?.[0]?.Tags).toEqual([{ Key: 'extra', Value: '1' }]);
  });

  it('caps inbound IPv4 rules at 60 per security group', async () => {
    const { ec2, sg } = await target();
    // The self-referencing rule counts as one.
    const perms = Array.from({ length: 59 }, (_, i) => https(`10.1.${i}.0/24`));
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: perms }));
    const err = await rejectionOf(
      ec2.send(
        new AuthorizeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [https('10.2.0.0/24')] }),
      ),
    );
    expect(err.name).toBe('RulesPerSecurityGroupLimitExceeded');
  });

  it('revokes rules by id or by permission, InvalidPermission.NotFound when absent', async () => {
    const { ec2, sg } = await target();
    const out = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: sg,
        IpPermissions: [https('18.0.35.117/32'), https('18.0.37.11/32')],
      }),
    );
    await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: sg,
        SecurityGroupRuleIds: [out.SecurityGroupRules![0]!.SecurityGroupRuleId!],
      }),
    );
    await ec2.send(
      new RevokeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [https('18.0.37.11/32')] }),
    );
    const err = await rejectionOf(
      ec2.send(
        new RevokeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [https('18.0.37.11/32')] }),
      ),
    );
    expect(err.name).toBe('InvalidPermission.NotFound');
    const rules = await ec2.send(
      new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [sg] }] }),
    );
    expect(rules.SecurityGroupRules?.filter((r) => r.CidrIpv4?.startsWith('18.'))).toEqual([]);
  });

  it('versions managed prefix lists and counts their MaxEntries against the rule quota', async () => {
    const { ec2, sg } = await target();
    const { PrefixList } = await ec2.send(
      new CreateManagedPrefixListCommand({
        PrefixListName: 'tether-egress',
        AddressFamily: 'IPv4',
        MaxEntries: 10,
        Entries: [{ Cidr: '18.0.35.117/32', Description: 'a' }],
        TagSpecifications: [
          { ResourceType: 'prefix-list', Tags: [{ Key: 'tether:managed', Value: 'true' }] },
        ],
      }),
    );
    const id = PrefixList!.PrefixListId!;
    expect(id).toMatch(/^pl-/);
    const v2 = await ec2.send(
      new ModifyManagedPrefixListCommand({
        PrefixListId: id,
        CurrentVersion: 1,
        AddEntries: [{ Cidr: '18.0.37.11/32' }],
      }),
    );
    expect(v2.PrefixList?.Version).toBe(2);
    const stale = await rejectionOf(
      ec2.send(
        new ModifyManagedPrefixListCommand({
          PrefixListId: id,
          CurrentVersion: 1,
          AddEntries: [{ Cidr: '1.1.1.1/32' }],
        }),
      ),
    );
    expect(stale.name).toBe('PrefixListVersionMismatch');
    expect(
      (await ec2.send(new GetManagedPrefixListEntriesCommand({ PrefixListId: id }))).Entries?.map(
        (e) => e.Cidr,
      ),
    ).toEqual(['18.0.35.117/32', '18.0.37.11/32']);
    expect(
      (await ec2.send(new GetManagedPrefixListEntriesCommand({ PrefixListId: id, TargetVersion: 1 })))
        .Entries,
    ).toHaveLength(1);
    expect(
      (await ec2.send(new DescribeManagedPrefixListsCommand({ PrefixListIds: [id] }))).PrefixLists?.[0]?.Tags,
    ).toEqual([{ Key: 'tether:managed', Value: 'true' }]);

    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: sg,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, PrefixListIds: [{ PrefixListId: id }] },
        ],
      }),
    );
    // 1 (self) + 10 (the list's MaxEntries) + 49 CIDRs = 60.
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: sg,
        IpPermissions: Array.from({ length: 49 }, (_, i) => https(`10.3.${i}.0/24`)),
      }),
    );
    expect(
      (
        await rejectionOf(
          ec2.send(
            new AuthorizeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [https('10.4.0.0/24')] }),
          ),
        )
      ).name,
    ).toBe('RulesPerSecurityGroupLimitExceeded');
    // Growing the list needs headroom in every group that references it.
    const grow = await rejectionOf(
      ec2.send(new ModifyManagedPrefixListCommand({ PrefixListId: id, CurrentVersion: 2, MaxEntries: 11 })),
    );
    expect(grow.name).toBe('RulesPerSecurityGroupLimitExceeded');
  });

  it('creates NAT gateways asynchronously and associates up to 8 addresses', async () => {
    const sb = Sandbox.open();
    const { ec2 } = await agentClients(sb, '111111111111');
    const cluster =
      sb.state().accounts['111111111111']!.regions['ap-southeast-1']!.eks.clusters['cluster-a']!;
    const subnet = (
      await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [cluster.vpcId] }] }))
    ).Subnets![0]!.SubnetId!;
    const alloc = async () => (await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }))).AllocationId!;
    const first = await alloc();
    const created = await ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet, AllocationId: first }));
    const natId = created.NatGateway!.NatGatewayId!;
    expect(created.NatGateway?.State).toBe('pending');
    const describe = async () =>
      (await ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [natId] }))).NatGateways![0]!;
    expect((await describe()).State).toBe('pending');
    expect((await describe()).State).toBe('available');

    const inUse = await rejectionOf(ec2.send(new ReleaseAddressCommand({ AllocationId: first })));
    expect(inUse.name).toBe('InvalidIPAddress.InUse');
    const more = await Promise.all(Array.from({ length: 7 }, alloc));
    await ec2.send(new AssociateNatGatewayAddressCommand({ NatGatewayId: natId, AllocationIds: more }));
    expect((await describe()).NatGatewayAddresses).toHaveLength(8);
    const ninth = await alloc();
    const err = await rejectionOf(
      ec2.send(new AssociateNatGatewayAddressCommand({ NatGatewayId: natId, AllocationIds: [ninth] })),
    );
    expect(err.name).toBe('AddressLimitExceeded');

    await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: natId }));
    expect((await describe()).State).toBe('deleting');
    expect((await describe()).State).toBe('deleted');
    await ec2.send(new ReleaseAddressCommand({ AllocationId: first }));
  });

  it('gives a private NAT gateway private addresses only, no Elastic IP', async () => {
    const sb = Sandbox.open();
    const { ec2 } = await agentClients(sb, '111111111111');
    const cluster =
      sb.state().accounts['111111111111']!.regions['ap-southeast-1']!.eks.clusters['cluster-a']!;
    const subnet = (
      await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [cluster.vpcId] }] }))
    ).Subnets![0]!.SubnetId!;

    const created = await ec2.send(
      new CreateNatGatewayCommand({
        SubnetId: subnet,
        ConnectivityType: 'private',
        PrivateIpAddress: '10.0.1.50',
        SecondaryPrivateIpAddresses: ['10.0.1.51', '10.0.1.52'],
      }),
    );
    const nat = created.NatGateway!;
    expect(nat.ConnectivityType).toBe('private');
    expect(
      nat.NatGatewayAddresses?.map((a) => [a.PrivateIp, a.IsPrimary, a.PublicIp, a.AllocationId]),
    ).toEqual([
      ['10.0.1.50', true, undefined, undefined],
      ['10.0.1.51', false, undefined, undefined],
      ['10.0.1.52', false, undefined, undefined],
    ]);
    const tooMany = await rejectionOf(
      ec2.send(
        new CreateNatGatewayCommand({
          SubnetId: subnet,
          ConnectivityType: 'private',
          SecondaryPrivateIpAddressCount: 8,
        }),
      ),
    );
    expect(tooMany.name).toBe('InvalidParameterValue');
    await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: nat.NatGatewayId }));
  });
});
