/**
 * The sequences of SDK calls the conformance suite runs on both sides: the calls
 * Tether's handlers make (functions/resources), in the order a link uses them,
 * plus the error paths it handles. Each step records a projection of its answer: the
 * fields AWS documents and Tether reads, with random parts reduced to their shape.
 */
import {
  AllocateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateManagedPrefixListCommand,
  CreateNatGatewayCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteManagedPrefixListCommand,
  DescribeManagedPrefixListsCommand,
  DescribeNatGatewaysCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeVpcsCommand,
  GetManagedPrefixListEntriesCommand,
  type IpPermission,
  ModifyManagedPrefixListCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  CreateClusterCommand,
  DeleteAccessEntryCommand,
  DescribeAccessEntryCommand,
  DescribeClusterCommand,
  DisassociateAccessPolicyCommand,
  ListAssociatedAccessPoliciesCommand,
} from '@aws-sdk/client-eks';
import {
  AddClientIDToOpenIDConnectProviderCommand,
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  DeleteOpenIDConnectProviderCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListOpenIDConnectProvidersCommand,
  ListRolePoliciesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { pick, type Recorder } from './compare';
import { REGION, type Side } from './sides';

export const MEMBER = '111111111111';
export const OTHER = '222222222222';
export const STRANGER = '333333333333';

/**
 * A value's shape: `label` when it matches AWS's format `re`, else the value with its
 * random-looking tokens (3+ characters with a digit or a capital) replaced by their
 * length, so a wrong format shows without making the comparison depend on randomness.
 */
export function shape(value: unknown, re: RegExp, label: string): unknown {
  if (typeof value !== 'string') return value;
  if (re.test(value)) return label;
  return value.replace(/[A-Za-z0-9]{3,}/g, (t) => (/[A-Z0-9]/.test(t) ? `<random ${t.length}>` : t));
}

/** How a policy document came back: RFC 3986 URL-encoded (as AWS documents), raw, or otherwise. */
function encodingOf(returned: string | undefined, sent: string): string {
  if (returned === encodeURIComponent(sent)) return 'URL-encoded';
  if (returned === sent) return 'raw JSON';
  return returned === undefined ? 'absent' : 'other';
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const decode = (doc: string | undefined) =>
  doc === undefined ? undefined : JSON.parse(decodeURIComponent(doc));

function doc(statement: Record<string, unknown>[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statement });
}

const trustOf = (principal: string, extra: Record<string, unknown> = {}) =>
  doc([{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole', ...extra }]);

const ROLE_FIELDS = [
  'Role.RoleName',
  'Role.Path',
  'Role.Arn',
  'Role.RoleId',
  'Role.CreateDate',
  'Role.Description',
  'Role.MaxSessionDuration',
  'Role.Tags',
];

// ---- IAM roles -------------------------------------------------------------------------

export async function iamRoles(side: Side, rec: Recorder): Promise<void> {
  side.account(OTHER);
  const { iam } = side.account(MEMBER);
  const trust = trustOf(`arn:aws:iam::${OTHER}:root`);
  const project = (o: { Role?: { AssumeRolePolicyDocument?: string } }) => ({
    ...pickRole(o),
    trustDecoded: decode(o.Role?.AssumeRolePolicyDocument),
  });
  await rec.call(
    'create role',
    'iam',
    'CreateRole',
    () =>
      iam.send(
        new CreateRoleCommand({
          RoleName: 'conf-role',
          Path: '/tether/',
          AssumeRolePolicyDocument: trust,
          Description: 'conformance',
          MaxSessionDuration: 3600,
          Tags: [{ Key: 'tether:link', Value: 'lnk-1' }],
        }),
      ),
    project,
  );
  await rec.call('create the same role again', 'iam', 'CreateRole', () =>
    iam.send(new CreateRoleCommand({ RoleName: 'conf-role', AssumeRolePolicyDocument: trust })),
  );
  await rec.call(
    'get role',
    'iam',
    'GetRole',
    () => iam.send(new GetRoleCommand({ RoleName: 'conf-role' })),
    (o) => ({
      ...project(o),
      trustEncoding: encodingOf(o.Role?.AssumeRolePolicyDocument, trust),
    }),
  );
  await rec.call('get a missing role', 'iam', 'GetRole', () =>
    iam.send(new GetRoleCommand({ RoleName: 'conf-missing' })),
  );
  const trust2 = trustOf(`arn:aws:iam::${MEMBER}:root`, {
    Condition: { StringEquals: { 'aws:PrincipalArn': `arn:aws:iam::${MEMBER}:role/x` } },
  });
  await rec.call('update trust', 'iam', 'UpdateAssumeRolePolicy', () =>
    iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'conf-role', PolicyDocument: trust2 })),
  );
  await rec.call(
    'get role after trust update',
    'iam',
    'GetRole',
    () => iam.send(new GetRoleCommand({ RoleName: 'conf-role' })),
    (o) => ({ trustDecoded: decode(o.Role?.AssumeRolePolicyDocument) }),
  );
  const policy = doc([{ Effect: 'Allow', Action: 'eks:DescribeCluster', Resource: '*' }]);
  await rec.call('put inline policy', 'iam', 'PutRolePolicy', () =>
    iam.send(
      new PutRolePolicyCommand({ RoleName: 'conf-role', PolicyName: 'access', PolicyDocument: policy }),
    ),
  );
  await rec.call(
    'get inline policy',
    'iam',
    'GetRolePolicy',
    () => iam.send(new GetRolePolicyCommand({ RoleName: 'conf-role', PolicyName: 'access' })),
    (o) => ({
      RoleName: o.RoleName,
      PolicyName: o.PolicyName,
      encoding: encodingOf(o.PolicyDocument, policy),
      decoded: decode(o.PolicyDocument),
    }),
  );
  await rec.call('get a missing inline policy', 'iam', 'GetRolePolicy', () =>
    iam.send(new GetRolePolicyCommand({ RoleName: 'conf-role', PolicyName: 'missing' })),
  );
  await rec.call(
    'list inline policies',
    'iam',
    'ListRolePolicies',
    () => iam.send(new ListRolePoliciesCommand({ RoleName: 'conf-role' })),
    (o) => pick(o, ['PolicyNames', 'IsTruncated']),
  );
  await rec.call('tag role', 'iam', 'TagRole', () =>
    iam.send(new TagRoleCommand({ RoleName: 'conf-role', Tags: [{ Key: 'tether:owner', Value: 'tether' }] })),
  );
  await rec.call(
    'list role tags',
    'iam',
    'ListRoleTags',
    () => iam.send(new ListRoleTagsCommand({ RoleName: 'conf-role' })),
    (o) => ({ Tags: sortTags(o.Tags), IsTruncated: o.IsTruncated }),
  );
  await rec.call('delete role with an inline policy', 'iam', 'DeleteRole', () =>
    iam.send(new DeleteRoleCommand({ RoleName: 'conf-role' })),
  );
  await rec.call('delete inline policy', 'iam', 'DeleteRolePolicy', () =>
    iam.send(new DeleteRolePolicyCommand({ RoleName: 'conf-role', PolicyName: 'access' })),
  );
  await rec.call('delete the inline policy again', 'iam', 'DeleteRolePolicy', () =>
    iam.send(new DeleteRolePolicyCommand({ RoleName: 'conf-role', PolicyName: 'access' })),
  );
  await rec.call('delete role', 'iam', 'DeleteRole', () =>
    iam.send(new DeleteRoleCommand({ RoleName: 'conf-role' })),
  );
  await rec.call('get the deleted role', 'iam', 'GetRole', () =>
    iam.send(new GetRoleCommand({ RoleName: 'conf-role' })),
  );
  // 2,048 characters is the default trust-policy quota (AWS-FACTS "IAM").
  const padded = trustOf(`arn:aws:iam::${OTHER}:root`, { Sid: 'x'.repeat(2100) });
  await rec.call('create role with a 2,200-character trust policy', 'iam', 'CreateRole', () =>
    iam.send(new CreateRoleCommand({ RoleName: 'conf-big-trust', AssumeRolePolicyDocument: padded })),
  );
}

function pickRole(o: unknown): Record<string, unknown> {
  const out = pick(o, ROLE_FIELDS);
  out['Role.Tags'] = sortTags(out['Role.Tags'] as { Key?: string }[] | undefined);
  return out;
}

function sortTags<T extends { Key?: string }>(tags: T[] | undefined): T[] | undefined {
  return tags ? [...tags].sort((a, b) => (a.Key ?? '').localeCompare(b.Key ?? '')) : tags;
}

// ---- IAM OIDC providers ------------------------------------------------------------------

export const ISSUER_HOST = 'oidc.eks.ap-southeast-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF';

export async function oidcProviders(side: Side, rec: Recorder): Promise<void> {
  const { iam } = side.account(MEMBER);
  const arn = `arn:aws:iam::${MEMBER}:oidc-provider/${ISSUER_HOST}`;
  const create = () =>
    iam.send(
      new CreateOpenIDConnectProviderCommand({
        Url: `https://${ISSUER_HOST}`,
        ClientIDList: ['sts.amazonaws.com'],
        ThumbprintList: ['9e99a48a9960b14926bb7f3b02e22da2b0ab7280'],
        Tags: [{ Key: 'tether:owner', Value: 'tether' }],
      }),
    );
  await rec.call('create provider', 'iam', 'CreateOpenIDConnectProvider', create, (o) => ({
    OpenIDConnectProviderArn: o.OpenIDConnectProviderArn,
    Tags: sortTags(o.Tags),
  }));
  await rec.call('create the same provider again', 'iam', 'CreateOpenIDConnectProvider', create);
  const get = () => iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
  await rec.call('get provider', 'iam', 'GetOpenIDConnectProvider', get, (o) => ({
    Url: o.Url,
    ClientIDList: o.ClientIDList,
    ThumbprintList: o.ThumbprintList,
    CreateDate: o.CreateDate,
    Tags: sortTags(o.Tags),
  }));
  await rec.call(
    'list providers',
    'iam',
    'ListOpenIDConnectProviders',
    () => iam.send(new ListOpenIDConnectProvidersCommand({})),
    (o) => o.OpenIDConnectProviderList,
  );
  await rec.call('add client id', 'iam', 'AddClientIDToOpenIDConnectProvider', () =>
    iam.send(
      new AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn, ClientID: 'tether' }),
    ),
  );
  await rec.call('get provider after adding a client id', 'iam', 'GetOpenIDConnectProvider', get, (o) => ({
    ClientIDList: o.ClientIDList,
  }));
  await rec.call('delete provider', 'iam', 'DeleteOpenIDConnectProvider', () =>
    iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })),
  );
  await rec.call('get the deleted provider', 'iam', 'GetOpenIDConnectProvider', get);
  await rec.call(
    'list providers after delete',
    'iam',
    'ListOpenIDConnectProviders',
    () => iam.send(new ListOpenIDConnectProvidersCommand({})),
    (o) => o.OpenIDConnectProviderList,
  );
}

// ---- STS ---------------------------------------------------------------------------------

export async function stsAssumeRole(side: Side, rec: Recorder): Promise<void> {
  const source = side.account(MEMBER);
  const target = side.account(OTHER);
  side.account(STRANGER);
  await target.iam.send(
    new CreateRoleCommand({
      RoleName: 'conf-target',
      AssumeRolePolicyDocument: trustOf(`arn:aws:iam::${MEMBER}:root`),
    }),
  );
  await target.iam.send(
    new PutRolePolicyCommand({
      RoleName: 'conf-target',
      PolicyName: 'read',
      PolicyDocument: doc([
        { Effect: 'Allow', Action: ['iam:GetRole', 'sts:GetCallerIdentity'], Resource: '*' },
      ]),
    }),
  );
  await target.iam.send(
    new CreateRoleCommand({
      RoleName: 'conf-untrusting',
      AssumeRolePolicyDocument: trustOf(`arn:aws:iam::${STRANGER}:root`),
    }),
  );
  const assumed = await rec.call(
    'assume a role in another account',
    'sts',
    'AssumeRole',
    () =>
      source.sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${OTHER}:role/conf-target`,
          RoleSessionName: 'tether-conf',
          DurationSeconds: 900,
        }),
      ),
    (o) => ({
      AccessKeyId: o.Credentials?.AccessKeyId,
      SecretAccessKey: typeof o.Credentials?.SecretAccessKey === 'string',
      SessionToken: typeof o.Credentials?.SessionToken === 'string',
      Expiration: o.Credentials?.Expiration,
      ExpiresInAbout15Minutes:
        Math.abs(new Date(o.Credentials?.Expiration ?? 0).getTime() - Date.now() - 900_000) < 120_000,
      AssumedRoleUser: o.AssumedRoleUser,
    }),
  );
  const c = assumed?.Credentials;
  if (c?.AccessKeyId && c.SecretAccessKey) {
    const as = side.withCredentials({
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
    });
    await rec.call('caller identity of the assumed role', 'sts', 'GetCallerIdentity', () =>
      as.sts.send(new GetCallerIdentityCommand({})),
    );
    await rec.call(
      'read IAM in the other account as the assumed role',
      'iam',
      'GetRole',
      () => as.iam.send(new GetRoleCommand({ RoleName: 'conf-target' })),
      (o) => pick(o, ['Role.Arn']),
    );
  }
  await rec.call('assume a role whose trust does not name the caller', 'sts', 'AssumeRole', () =>
    source.sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${OTHER}:role/conf-untrusting`,
        RoleSessionName: 'tether-conf',
      }),
    ),
  );
  await rec.call('assume a missing role', 'sts', 'AssumeRole', () =>
    source.sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${OTHER}:role/conf-missing`,
        RoleSessionName: 'tether-conf',
      }),
    ),
  );
}

// ---- EC2 ---------------------------------------------------------------------------------

/** The network a side starts the EC2 and EKS sequences with. */
export interface Network {
  readonly vpcId: string;
  readonly publicSubnetId: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupId: string;
}

/** Makes a VPC, two subnets and a security group with calls (moto's side). */
export async function networkByCalls(side: Side): Promise<Network> {
  const { ec2 } = side.account(MEMBER);
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }));
  const vpcId = vpc.Vpc?.VpcId ?? '';
  const subnets: string[] = [];
  for (const [i, az] of ['a', 'b'].entries()) {
    const s = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpcId,
        CidrBlock: `10.20.${i * 16}.0/20`,
        AvailabilityZone: `${REGION}${az}`,
      }),
    );
    subnets.push(s.Subnet?.SubnetId ?? '');
  }
  const sg = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'conf-cluster-sg', Description: 'cluster', VpcId: vpcId }),
  );
  return { vpcId, publicSubnetId: subnets[0] ?? '', subnetIds: subnets, securityGroupId: sg.GroupId ?? '' };
}

const sortRules = (rules: SecurityGroupRule[] | undefined) =>
  (rules ?? [])
    .filter((r) => r.FromPort === 443)
    .map((r) => ({
      SecurityGroupRuleId: r.SecurityGroupRuleId,
      GroupId: r.GroupId,
      IsEgress: r.IsEgress,
      IpProtocol: r.IpProtocol,
      FromPort: r.FromPort,
      ToPort: r.ToPort,
      CidrIpv4: r.CidrIpv4,
      Description: r.Description,
      Tags: sortTags(r.Tags),
    }))
    .sort((a, b) => (a.CidrIpv4 ?? '').localeCompare(b.CidrIpv4 ?? ''));

export async function ec2Network(side: Side, rec: Recorder, net: Network): Promise<void> {
  const { ec2 } = side.account(MEMBER);
  await rec.call(
    'describe the vpc',
    'ec2',
    'DescribeVpcs',
    () => ec2.send(new DescribeVpcsCommand({ VpcIds: [net.vpcId] })),
    (o) => ({ count: o.Vpcs?.length, VpcId: o.Vpcs?.[0]?.VpcId, State: o.Vpcs?.[0]?.State }),
  );
  const eip = await rec.call(
    'allocate an address',
    'ec2',
    'AllocateAddress',
    () =>
      ec2.send(
        new AllocateAddressCommand({
          Domain: 'vpc',
          TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: [{ Key: 'Name', Value: 'conf-nat' }] }],
        }),
      ),
    (o) => ({ AllocationId: o.AllocationId, PublicIp: shape(o.PublicIp, IPV4, '<ipv4>'), Domain: o.Domain }),
  );
  const nat = await rec.call(
    'create a NAT gateway',
    'ec2',
    'CreateNatGateway',
    () =>
      ec2.send(
        new CreateNatGatewayCommand({
          SubnetId: net.publicSubnetId,
          AllocationId: eip?.AllocationId ?? 'eipalloc-00000000',
          TagSpecifications: [{ ResourceType: 'natgateway', Tags: [{ Key: 'Name', Value: 'conf-nat' }] }],
        }),
      ),
    (o) => ({
      NatGatewayId: o.NatGateway?.NatGatewayId,
      VpcId: o.NatGateway?.VpcId === net.vpcId,
      SubnetId: o.NatGateway?.SubnetId === net.publicSubnetId,
      ConnectivityType: o.NatGateway?.ConnectivityType,
      Tags: o.NatGateway?.Tags,
    }),
  );
  // CreateNatGateway is asynchronous (AWS-FACTS "Events"): read until it settles.
  let state: string | undefined;
  for (let i = 0; i < 10 && state !== 'available'; i++) {
    const out = await ec2.send(
      new DescribeNatGatewaysCommand({ Filter: [{ Name: 'vpc-id', Values: [net.vpcId] }] }),
    );
    state = out.NatGateways?.[0]?.State;
  }
  await rec.call(
    'describe NAT gateways of the vpc',
    'ec2',
    'DescribeNatGateways',
    () => ec2.send(new DescribeNatGatewaysCommand({ Filter: [{ Name: 'vpc-id', Values: [net.vpcId] }] })),
    (o) => {
      const g = o.NatGateways?.[0];
      const a = g?.NatGatewayAddresses?.[0];
      return {
        count: o.NatGateways?.length,
        sameId: g?.NatGatewayId === nat?.NatGateway?.NatGatewayId,
        State: g?.State,
        VpcId: g?.VpcId === net.vpcId,
        addresses: g?.NatGatewayAddresses?.length,
        AllocationId: a?.AllocationId === eip?.AllocationId,
        PublicIp: a?.PublicIp === eip?.PublicIp,
        PrivateIp: shape(a?.PrivateIp, IPV4, '<ipv4>'),
        Tags: g?.Tags,
      };
    },
  );
  await rec.call(
    'describe NAT gateways of another vpc',
    'ec2',
    'DescribeNatGateways',
    () =>
      ec2.send(
        new DescribeNatGatewaysCommand({ Filter: [{ Name: 'vpc-id', Values: ['vpc-0123456789abcdef0'] }] }),
      ),
    (o) => ({ NatGateways: o.NatGateways }),
  );

  const permission = (cidr: string): IpPermission => ({
    IpProtocol: 'tcp',
    FromPort: 443,
    ToPort: 443,
    IpRanges: [{ CidrIp: cidr, Description: 'tether egress' }],
  });
  const authorize = (cidr: string) =>
    ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: net.securityGroupId,
        IpPermissions: [permission(cidr)],
        TagSpecifications: [
          { ResourceType: 'security-group-rule', Tags: [{ Key: 'tether:owner', Value: 'lnk-1' }] },
        ],
      }),
    );
  const added = await rec.call(
    'authorize an ingress rule with tags',
    'ec2',
    'AuthorizeSecurityGroupIngress',
    () => authorize('203.0.113.10/32'),
    (o) => ({
      Return: o.Return,
      SecurityGroupRules: sortRules(o.SecurityGroupRules).map((r) => ({
        ...r,
        GroupId: r.GroupId === net.securityGroupId,
      })),
    }),
  );
  await rec.call('authorize the same rule again', 'ec2', 'AuthorizeSecurityGroupIngress', () =>
    authorize('203.0.113.10/32'),
  );
  const describeRules = () =>
    ec2.send(
      new DescribeSecurityGroupRulesCommand({
        Filters: [{ Name: 'group-id', Values: [net.securityGroupId] }],
      }),
    );
  await rec.call('describe rules of the group', 'ec2', 'DescribeSecurityGroupRules', describeRules, (o) =>
    sortRules(o.SecurityGroupRules).map((r) => ({ ...r, GroupId: r.GroupId === net.securityGroupId })),
  );
  const ruleId = added?.SecurityGroupRules?.[0]?.SecurityGroupRuleId ?? 'sgr-00000000000000000';
  await rec.call('tag the rule', 'ec2', 'CreateTags', () =>
    ec2.send(new CreateTagsCommand({ Resources: [ruleId], Tags: [{ Key: 'tether:link', Value: 'lnk-1' }] })),
  );
  await rec.call(
    'describe the rule by id',
    'ec2',
    'DescribeSecurityGroupRules',
    () => ec2.send(new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: [ruleId] })),
    (o) => sortRules(o.SecurityGroupRules).map((r) => ({ Tags: r.Tags })),
  );
  await rec.call(
    'revoke the rule',
    'ec2',
    'RevokeSecurityGroupIngress',
    () =>
      ec2.send(
        new RevokeSecurityGroupIngressCommand({
          GroupId: net.securityGroupId,
          IpPermissions: [permission('203.0.113.10/32')],
        }),
      ),
    (o) => ({ Return: o.Return, UnknownIpPermissions: o.UnknownIpPermissions }),
  );
  await rec.call('describe rules after revoke', 'ec2', 'DescribeSecurityGroupRules', describeRules, (o) =>
    sortRules(o.SecurityGroupRules),
  );
  await rec.call(
    'revoke the rule again',
    'ec2',
    'RevokeSecurityGroupIngress',
    () =>
      ec2.send(
        new RevokeSecurityGroupIngressCommand({
          GroupId: net.securityGroupId,
          IpPermissions: [permission('203.0.113.10/32')],
        }),
      ),
    (o) => ({ Return: o.Return, UnknownIpPermissions: o.UnknownIpPermissions }),
  );
}

export async function prefixLists(side: Side, rec: Recorder): Promise<void> {
  const { ec2 } = side.account(MEMBER);
  const listFields = (p: Record<string, unknown> | undefined) =>
    pick(p, [
      'PrefixListId',
      'PrefixListName',
      'AddressFamily',
      'MaxEntries',
      'Version',
      'State',
      'OwnerId',
      'PrefixListArn',
    ]);
  const created = await rec.call(
    'create a prefix list',
    'ec2',
    'CreateManagedPrefixList',
    () =>
      ec2.send(
        new CreateManagedPrefixListCommand({
          PrefixListName: 'tether-conf',
          AddressFamily: 'IPv4',
          MaxEntries: 10,
          Entries: [{ Cidr: '203.0.113.10/32', Description: 'a' }],
        }),
      ),
    (o) => listFields(o.PrefixList as Record<string, unknown> | undefined),
  );
  const id = created?.PrefixList?.PrefixListId ?? 'pl-00000000000000000';
  const entries = () => ec2.send(new GetManagedPrefixListEntriesCommand({ PrefixListId: id }));
  const sortEntries = (o: { Entries?: { Cidr?: string; Description?: string }[] }) =>
    [...(o.Entries ?? [])].sort((a, b) => (a.Cidr ?? '').localeCompare(b.Cidr ?? ''));
  await rec.call('get prefix list entries', 'ec2', 'GetManagedPrefixListEntries', entries, sortEntries);
  await rec.call(
    'modify the prefix list at its current version',
    'ec2',
    'ModifyManagedPrefixList',
    () =>
      ec2.send(
        new ModifyManagedPrefixListCommand({
          PrefixListId: id,
          CurrentVersion: 1,
          AddEntries: [{ Cidr: '203.0.113.11/32', Description: 'b' }],
        }),
      ),
    (o) => pick(o.PrefixList, ['PrefixListId', 'Version']),
  );
  await rec.call(
    'modify the prefix list at a stale version',
    'ec2',
    'ModifyManagedPrefixList',
    () =>
      ec2.send(
        new ModifyManagedPrefixListCommand({
          PrefixListId: id,
          CurrentVersion: 1,
          AddEntries: [{ Cidr: '203.0.113.12/32', Description: 'c' }],
        }),
      ),
    (o) => pick(o.PrefixList, ['PrefixListId', 'Version']),
  );
  await rec.call(
    'describe the prefix list',
    'ec2',
    'DescribeManagedPrefixLists',
    () => ec2.send(new DescribeManagedPrefixListsCommand({ PrefixListIds: [id] })),
    (o) => listFields(o.PrefixLists?.[0] as Record<string, unknown> | undefined),
  );
  await rec.call(
    'get prefix list entries after modify',
    'ec2',
    'GetManagedPrefixListEntries',
    entries,
    sortEntries,
  );
  await rec.call(
    'delete the prefix list',
    'ec2',
    'DeleteManagedPrefixList',
    () => ec2.send(new DeleteManagedPrefixListCommand({ PrefixListId: id })),
    (o) => pick(o.PrefixList, ['PrefixListId', 'State']),
  );
}

// ---- S3 ----------------------------------------------------------------------------------

export async function s3Objects(side: Side, rec: Recorder): Promise<void> {
  const { s3 } = side.account(MEMBER);
  const Bucket = 'tether-conformance-oidc';
  const Key = '.well-known/openid-configuration';
  const body = JSON.stringify({ issuer: 'https://example.com', jwks_uri: 'https://example.com/keys' });
  const create = () =>
    s3.send(new CreateBucketCommand({ Bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  await rec.call('create bucket', 's3', 'CreateBucket', create, (o) => ({ Location: o.Location }));
  await rec.call('create the same bucket again', 's3', 'CreateBucket', create);
  await rec.call(
    'put object',
    's3',
    'PutObject',
    () => s3.send(new PutObjectCommand({ Bucket, Key, Body: body, ContentType: 'application/json' })),
    (o) => ({ ETag: o.ETag }),
  );
  await rec
    .call(
      'get object',
      's3',
      'GetObject',
      () => s3.send(new GetObjectCommand({ Bucket, Key })),
      () => ({}),
    )
    .then(async (o) => {
      // The body is a stream: record it apart.
      rec.note('get object body', 's3', 'GetObject', {
        body: o?.Body ? await o.Body.transformToString() : undefined,
        ContentType: o?.ContentType,
        ContentLength: o?.ContentLength,
        ETag: o?.ETag,
      });
    });
  await rec.call(
    'head object',
    's3',
    'HeadObject',
    () => s3.send(new HeadObjectCommand({ Bucket, Key })),
    (o) => ({
      ContentLength: o.ContentLength,
      ContentType: o.ContentType,
      ETag: o.ETag,
      LastModified: o.LastModified,
    }),
  );
  await rec.call('head a missing object', 's3', 'HeadObject', () =>
    s3.send(new HeadObjectCommand({ Bucket, Key: 'missing' })),
  );
  await rec.call('get a missing object', 's3', 'GetObject', () =>
    s3.send(new GetObjectCommand({ Bucket, Key: 'missing' })),
  );
  await rec.call('get from a missing bucket', 's3', 'GetObject', () =>
    s3.send(new GetObjectCommand({ Bucket: 'tether-conformance-missing', Key })),
  );
  await rec.call(
    'list objects',
    's3',
    'ListObjectsV2',
    () => s3.send(new ListObjectsV2Command({ Bucket, Prefix: '.well-known/' })),
    (o) => ({
      KeyCount: o.KeyCount,
      IsTruncated: o.IsTruncated,
      Contents: o.Contents?.map((c) => ({ Key: c.Key, Size: c.Size, ETag: c.ETag })),
    }),
  );
  await rec.call(
    'delete object',
    's3',
    'DeleteObject',
    () => s3.send(new DeleteObjectCommand({ Bucket, Key })),
    () => ({}),
  );
  await rec.call(
    'delete the object again',
    's3',
    'DeleteObject',
    () => s3.send(new DeleteObjectCommand({ Bucket, Key })),
    () => ({}),
  );
  await rec.call(
    'list objects after delete',
    's3',
    'ListObjectsV2',
    () => s3.send(new ListObjectsV2Command({ Bucket, Prefix: '.well-known/' })),
    (o) => ({ KeyCount: o.KeyCount, Contents: o.Contents }),
  );
}

// ---- EKS ---------------------------------------------------------------------------------

export const CLUSTER = 'conf-cluster';

/** Makes the cluster with CreateCluster (moto's side). */
export async function clusterByCalls(side: Side, net: Network): Promise<void> {
  const { eks, iam } = side.account(MEMBER);
  const role = await iam.send(
    new CreateRoleCommand({
      RoleName: `${CLUSTER}-cluster-role`,
      AssumeRolePolicyDocument: doc([
        { Effect: 'Allow', Principal: { Service: 'eks.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ]),
    }),
  );
  await eks.send(
    new CreateClusterCommand({
      name: CLUSTER,
      version: '1.31',
      roleArn: role.Role?.Arn,
      resourcesVpcConfig: {
        subnetIds: [...net.subnetIds],
        endpointPublicAccess: true,
        endpointPrivateAccess: true,
        publicAccessCidrs: ['0.0.0.0/0'],
      },
      accessConfig: { authenticationMode: 'API' },
    }),
  );
}

const EKS_ENDPOINT = /^https:\/\/[0-9A-F]{32}\.gr7\.ap-southeast-1\.eks\.amazonaws\.com$/;
const EKS_ISSUER = /^https:\/\/oidc\.eks\.ap-southeast-1\.amazonaws\.com\/id\/[0-9A-F]{32}$/;
// moto's formats (moto/eks/models.py: ENDPOINT_TEMPLATE, ISSUER_TEMPLATE): random tokens of
// [A-Za-z0-9]. Matched by pattern, since a short random token can be all lower case and
// would then pass for a word in `shape`.
const MOTO_EKS_ENDPOINT =
  /^https:\/\/[A-Za-z0-9]{20}\.[A-Za-z0-9]{3}\.ap-southeast-1\.eks\.amazonaws\.com\/$/;
const MOTO_EKS_ISSUER = /^https:\/\/oidc\.eks\.ap-southeast-1\.amazonaws\.com\/id\/[A-Za-z0-9]{10}$/;

export async function eksCluster(side: Side, rec: Recorder, net: Network): Promise<void> {
  const { eks, iam } = side.account(MEMBER);
  await rec.call(
    'describe the cluster',
    'eks',
    'DescribeCluster',
    () => eks.send(new DescribeClusterCommand({ name: CLUSTER })),
    (o) => {
      const c = o.cluster;
      return {
        name: c?.name,
        arn: c?.arn,
        status: c?.status,
        version: c?.version,
        createdAt: c?.createdAt,
        endpoint: MOTO_EKS_ENDPOINT.test(c?.endpoint ?? '')
          ? 'https://<random 20>.<random 3>.ap-southeast-1.eks.amazonaws.com/'
          : shape(c?.endpoint, EKS_ENDPOINT, '<eks endpoint>'),
        certificateAuthority: typeof c?.certificateAuthority?.data === 'string',
        issuer: MOTO_EKS_ISSUER.test(c?.identity?.oidc?.issuer ?? '')
          ? 'https://oidc.eks.ap-southeast-1.amazonaws.com/id/<random 10>'
          : shape(c?.identity?.oidc?.issuer, EKS_ISSUER, '<oidc issuer>'),
        roleArn: c?.roleArn,
        vpcId:
          c?.resourcesVpcConfig?.vpcId === undefined ? undefined : c.resourcesVpcConfig.vpcId === net.vpcId,
        subnetIds: (c?.resourcesVpcConfig?.subnetIds ?? []).every((id) => net.subnetIds.includes(id)),
        clusterSecurityGroupId: shape(
          c?.resourcesVpcConfig?.clusterSecurityGroupId,
          /^sg-[0-9a-f]{17}$/,
          '<sg id>',
        ),
        endpointPublicAccess: c?.resourcesVpcConfig?.endpointPublicAccess,
        endpointPrivateAccess: c?.resourcesVpcConfig?.endpointPrivateAccess,
        publicAccessCidrs: c?.resourcesVpcConfig?.publicAccessCidrs,
        authenticationMode: c?.accessConfig?.authenticationMode,
      };
    },
  );
  await rec.call('describe a missing cluster', 'eks', 'DescribeCluster', () =>
    eks.send(new DescribeClusterCommand({ name: 'conf-missing' })),
  );

  // Access entries (moto 5.2 has none).
  const role = await iam.send(
    new CreateRoleCommand({
      RoleName: 'conf-target-role',
      AssumeRolePolicyDocument: trustOf(`arn:aws:iam::${OTHER}:root`),
    }),
  );
  const principalArn = role.Role?.Arn ?? '';
  const policyArn = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
  await rec.call(
    'create an access entry',
    'eks',
    'CreateAccessEntry',
    () =>
      eks.send(
        new CreateAccessEntryCommand({
          clusterName: CLUSTER,
          principalArn,
          type: 'STANDARD',
          tags: { 'tether:owner': 'lnk-1' },
        }),
      ),
    (o) =>
      pick(o.accessEntry, ['clusterName', 'principalArn', 'type', 'username', 'kubernetesGroups', 'tags']),
  );
  await rec.call(
    'describe the access entry',
    'eks',
    'DescribeAccessEntry',
    () => eks.send(new DescribeAccessEntryCommand({ clusterName: CLUSTER, principalArn })),
    (o) => pick(o.accessEntry, ['principalArn', 'type']),
  );
  await rec.call(
    'associate an access policy',
    'eks',
    'AssociateAccessPolicy',
    () =>
      eks.send(
        new AssociateAccessPolicyCommand({
          clusterName: CLUSTER,
          principalArn,
          policyArn,
          accessScope: { type: 'namespace', namespaces: ['default'] },
        }),
      ),
    (o) =>
      pick(o, ['principalArn', 'associatedAccessPolicy.policyArn', 'associatedAccessPolicy.accessScope']),
  );
  await rec.call(
    'list associated access policies',
    'eks',
    'ListAssociatedAccessPolicies',
    () => eks.send(new ListAssociatedAccessPoliciesCommand({ clusterName: CLUSTER, principalArn })),
    (o) => o.associatedAccessPolicies?.map((a) => ({ policyArn: a.policyArn, accessScope: a.accessScope })),
  );
  await rec.call('disassociate the access policy', 'eks', 'DisassociateAccessPolicy', () =>
    eks.send(new DisassociateAccessPolicyCommand({ clusterName: CLUSTER, principalArn, policyArn })),
  );
  await rec.call('delete the access entry', 'eks', 'DeleteAccessEntry', () =>
    eks.send(new DeleteAccessEntryCommand({ clusterName: CLUSTER, principalArn })),
  );
}
