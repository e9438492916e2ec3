/**
 * Seeds: accounts (each member with the `tether-agent` role), EKS clusters with their
 * VPC, subnets, cluster security group, NAT gateways and Elastic IPs, and the demo world
 * of the cross-account IRSA runbook. Seeded ids derive from names through a hash, so snapshots are stable.
 * Seeded resources carry no Tether tags: Tether did not make them.
 */
import type { Caller, OpContext } from './context';
import {
  ADDRESSES_PER_NAT_GATEWAY,
  attachAddress,
  attachPrivateAddress,
} from '#local/sandbox/ec2/nat-gateways';
import { createRole } from '#local/sandbox/iam/roles';
import { putConfigMap } from './kubernetes';
import {
  type AccountState,
  type ClusterState,
  emptyAccount,
  type NatGatewayState,
  regionOf,
  type SandboxState,
  sha256Hex,
} from './state';
import { HUB_ACCOUNT_ID, HUB_ROLE_ARN, issueSession, type SandboxCredentials } from './sts';

/** Name and path of the agent role in every member account. */
export const AGENT_ROLE_NAME = 'tether-agent';
/** Path of the agent role. */
export const AGENT_ROLE_PATH = '/tether/';
/** A fixed creation time for seeded resources, so snapshots do not move. */
const SEED_TIME = '2024-01-01T00:00:00.000Z';

/** What {@link addEksCluster} needs. */
export interface EksClusterSpec {
  readonly accountId: string;
  readonly region: string;
  readonly name: string;
  readonly authenticationMode: 'API' | 'API_AND_CONFIG_MAP' | 'CONFIG_MAP';
  /** Give the cluster an OIDC issuer. @default true */
  readonly oidc?: boolean;
  /** @default true */
  readonly endpointPublicAccess?: boolean;
  /** @default true */
  readonly endpointPrivateAccess?: boolean;
  /** @default ['0.0.0.0/0'] */
  readonly publicAccessCidrs?: readonly string[];
  /** Public IPs of the VPC's NAT gateways, one gateway each. @default one gateway with a generated IP */
  readonly vpc?: {
    readonly natIps: readonly string[];
    /**
     * Private IPv4 addresses of private NAT gateways (ConnectivityType private) in the private
     * subnets, up to 8 per gateway: the sources that reach a peered or Transit Gateway
     * attached network with private addresses. @default none
     */
    readonly privateNatIps?: readonly string[];
  };
  /** Kubernetes version. @default '1.31' */
  readonly version?: string;
}

/** The ids of what {@link addEksCluster} made. */
export interface EksClusterIds {
  readonly accountId: string;
  readonly region: string;
  readonly name: string;
  readonly arn: string;
  readonly endpoint: string;
  readonly oidcIssuer?: string;
  readonly vpcId: string;
  readonly privateSubnetIds: readonly string[];
  readonly publicSubnetIds: readonly string[];
  readonly clusterSecurityGroupId: string;
  readonly natGatewayIds: readonly string[];
  readonly allocationIds: readonly string[];
  readonly natIps: readonly string[];
}

/** An {@link OpContext} for seeding as the account root, with ids hashed from `seedKey`. */
export function adminContext(
  state: SandboxState,
  accountId: string,
  region: string,
  seedKey: string,
): OpContext {
  const account = state.accounts[accountId];
  if (!account) throw new Error(`Unknown sandbox account ${accountId}`);
  const root = `arn:aws:iam::${accountId}:root`;
  const caller: Caller = {
    accountId,
    arn: root,
    principalArn: root,
    userId: accountId,
    kind: 'root',
    chained: false,
  };
  let n = 0;
  return {
    state,
    account,
    caller,
    region,
    // Seeded resources exist "long ago": IAM propagation delays never apply to them.
    clock: -1_000_000_000,
    notYetPropagated: () => false,
    newHex: (kind) => sha256Hex(`${seedKey}:${kind}:${n++}`),
    now: () => SEED_TIME,
    markDirty: () => undefined,
  };
}

function trust(principal: Record<string, string>, action: string | string[] = 'sts:AssumeRole'): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: principal, Action: action }],
  });
}

/** Adds an account (no-op if present); member accounts get the agent role. */
export function addAccount(state: SandboxState, id: string): AccountState {
  if (!/^\d{12}$/.test(id)) throw new Error(`Account ids have 12 digits: ${id}`);
  const existing = state.accounts[id];
  if (existing) return existing;
  // The agent role's trust names the hub role, which must exist first.
  if (id !== HUB_ACCOUNT_ID) addAccount(state, HUB_ACCOUNT_ID);
  const account = emptyAccount(id);
  state.accounts[id] = account;
  const ctx = adminContext(state, id, 'us-east-1', `account:${id}`);
  if (id === HUB_ACCOUNT_ID) {
    createRole(ctx, {
      RoleName: 'tether-hub',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: ['lambda.amazonaws.com', 'states.amazonaws.com'] },
            Action: 'sts:AssumeRole',
          },
        ],
      }),
    });
  } else {
    // The member-account stack's agent role, trusting only the hub (DESIGN "Runtimes"), which
    // names the caller of each change as the session's source identity (sts:SetSourceIdentity).
    const role = createRole(ctx, {
      RoleName: AGENT_ROLE_NAME,
      Path: AGENT_ROLE_PATH,
      AssumeRolePolicyDocument: trust({ AWS: HUB_ROLE_ARN }, ['sts:AssumeRole', 'sts:SetSourceIdentity']),
    });
    role.inlinePolicies['tether-agent'] = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['iam:*', 'eks:*', 'ec2:*', 's3:*'], Resource: '*' }],
    });
  }
  return account;
}

/**
 * Brings a saved world up to the member-account stack of today, as a redeploy would: an
 * agent role that still trusts the hub for `sts:AssumeRole` only (a data directory from
 * before sessions carried a source identity) is given `sts:SetSourceIdentity` too. Returns
 * whether anything changed.
 */
export function upgradeWorld(state: SandboxState): boolean {
  const before = trust({ AWS: HUB_ROLE_ARN });
  let changed = false;
  for (const [id, account] of Object.entries(state.accounts)) {
    const agent = account.iam.roles[AGENT_ROLE_NAME];
    if (id === HUB_ACCOUNT_ID || !agent || agent.AssumeRolePolicyDocument !== before) continue;
    agent.AssumeRolePolicyDocument = trust({ AWS: HUB_ROLE_ARN }, [
      'sts:AssumeRole',
      'sts:SetSourceIdentity',
    ]);
    changed = true;
  }
  return changed;
}

/** Static credentials of the hub principal (a session of `tether-hub` that never expires). */
export function hubCredentials(state: SandboxState): SandboxCredentials {
  addAccount(state, HUB_ACCOUNT_ID);
  const role = state.accounts[HUB_ACCOUNT_ID]?.iam.roles['tether-hub'];
  if (!role) throw new Error('The sandbox hub role tether-hub is missing');
  const existing = Object.entries(state.credentials).find(
    ([, c]) => c.roleArn === HUB_ROLE_ARN && c.sessionName === 'tether-hub' && !c.expiration,
  );
  if (existing) {
    const [accessKeyId, c] = existing;
    return {
      accessKeyId,
      secretAccessKey: c.secretAccessKey,
      ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
    };
  }
  return issueSession(state, role, 'tether-hub', { expires: false, seedKey: 'hub' });
}

/** Static credentials of an account's root user. */
export function rootCredentials(state: SandboxState, accountId: string): SandboxCredentials {
  if (!state.accounts[accountId]) throw new Error(`Unknown sandbox account ${accountId}`);
  const accessKeyId = `AKIA${sha256Hex(`root:${accountId}`).slice(0, 16).toUpperCase()}`;
  const secretAccessKey = Buffer.from(sha256Hex(`root-secret:${accountId}`), 'hex')
    .toString('base64')
    .slice(0, 40);
  state.credentials[accessKeyId] = { secretAccessKey, accountId, kind: 'root' };
  return { accessKeyId, secretAccessKey };
}

const upperHex = (seed: string, n: number): string => sha256Hex(seed).slice(0, n).toUpperCase();

/** Adds an EKS cluster with its network (VPC, subnets, cluster SG, NAT gateways + EIPs). */
export function addEksCluster(state: SandboxState, spec: EksClusterSpec): EksClusterIds {
  addAccount(state, spec.accountId);
  const key = `${spec.accountId}/${spec.region}/${spec.name}`;
  const ctx = adminContext(state, spec.accountId, spec.region, `cluster:${key}`);
  const region = regionOf(ctx.account, spec.region);
  if (region.eks.clusters[spec.name]) throw new Error(`Cluster ${key} already exists`);
  const ec2 = region.ec2;
  const hex = (kind: string, n = 17) => ctx.newHex(kind).slice(0, n);

  const octet = Object.keys(ec2.vpcs).length % 200;
  const vpcId = `vpc-${hex('vpc')}`;
  ec2.vpcs[vpcId] = {
    VpcId: vpcId,
    CidrBlock: `10.${octet}.0.0/16`,
    Tags: [{ Key: 'Name', Value: `${spec.name}-vpc` }],
  };
  const azs = ['a', 'b', 'c'].map((s) => `${spec.region}${s}`);
  const privateSubnetIds: string[] = [];
  const publicSubnetIds: string[] = [];
  azs.forEach((az, i) => {
    const priv = `subnet-${hex('subnet')}`;
    ec2.subnets[priv] = {
      SubnetId: priv,
      VpcId: vpcId,
      CidrBlock: `10.${octet}.${i * 32}.0/19`,
      AvailabilityZone: az,
      MapPublicIpOnLaunch: false,
      Tags: [
        { Key: 'Name', Value: `${spec.name}-private-${az}` },
        { Key: 'kubernetes.io/role/internal-elb', Value: '1' },
      ],
    };
    privateSubnetIds.push(priv);
    const pub = `subnet-${hex('subnet')}`;
    ec2.subnets[pub] = {
      SubnetId: pub,
      VpcId: vpcId,
      CidrBlock: `10.${octet}.${96 + i * 4}.0/22`,
      AvailabilityZone: az,
      MapPublicIpOnLaunch: true,
      Tags: [
        { Key: 'Name', Value: `${spec.name}-public-${az}` },
        { Key: 'kubernetes.io/role/elb', Value: '1' },
      ],
    };
    publicSubnetIds.push(pub);
  });

  const natIps = spec.vpc?.natIps ?? [
    `3.${parseInt(hex('ip', 2), 16)}.${parseInt(hex('ip', 2), 16)}.${(parseInt(hex('ip', 2), 16) % 250) + 1}`,
  ];
  const natGatewayIds: string[] = [];
  const allocationIds: string[] = [];
  natIps.forEach((ip, i) => {
    const allocationId = `eipalloc-${hex('eipalloc')}`;
    const address = {
      AllocationId: allocationId,
      PublicIp: ip,
      Tags: [{ Key: 'Name', Value: `${spec.name}-nat-${i}` }],
    };
    ec2.addresses[allocationId] = address;
    const nat: NatGatewayState = {
      NatGatewayId: `nat-${hex('nat')}`,
      VpcId: vpcId,
      SubnetId: publicSubnetIds[i % publicSubnetIds.length] ?? '',
      State: 'available',
      ConnectivityType: 'public',
      CreateTime: SEED_TIME,
      addresses: [],
      Tags: [{ Key: 'Name', Value: `${spec.name}-nat-${i}` }],
      settleAfterDescribes: 0,
    };
    attachAddress(ctx, nat, address, true);
    ec2.natGateways[nat.NatGatewayId] = nat;
    natGatewayIds.push(nat.NatGatewayId);
    allocationIds.push(allocationId);
  });

  const privateNatIps = spec.vpc?.privateNatIps ?? [];
  for (let g = 0; g * ADDRESSES_PER_NAT_GATEWAY < privateNatIps.length; g++) {
    const ips = privateNatIps.slice(g * ADDRESSES_PER_NAT_GATEWAY, (g + 1) * ADDRESSES_PER_NAT_GATEWAY);
    const nat: NatGatewayState = {
      NatGatewayId: `nat-${hex('nat')}`,
      VpcId: vpcId,
      SubnetId: privateSubnetIds[g % privateSubnetIds.length] ?? '',
      State: 'available',
      ConnectivityType: 'private',
      CreateTime: SEED_TIME,
      addresses: [],
      Tags: [{ Key: 'Name', Value: `${spec.name}-private-nat-${g}` }],
      settleAfterDescribes: 0,
    };
    ips.forEach((ip, i) => {
      attachPrivateAddress(ctx, nat, ip, i === 0);
    });
    ec2.natGateways[nat.NatGatewayId] = nat;
    natGatewayIds.push(nat.NatGatewayId);
  }

  // The cluster security group EKS makes, with its usual rules: all traffic from itself
  // in, all traffic out.
  const sgId = `sg-${hex('sg')}`;
  ec2.securityGroups[sgId] = {
    GroupId: sgId,
    GroupName: `eks-cluster-sg-${spec.name}-${parseInt(hex('sgname', 8), 16)}`,
    Description:
      'EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads.',
    VpcId: vpcId,
    Tags: [
      { Key: 'Name', Value: `eks-cluster-sg-${spec.name}` },
      { Key: 'aws:eks:cluster-name', Value: spec.name },
      { Key: `kubernetes.io/cluster/${spec.name}`, Value: 'owned' },
    ],
  };
  const rule = (isEgress: boolean) => {
    const id = `sgr-${hex('sgr')}`;
    ec2.securityGroupRules[id] = {
      SecurityGroupRuleId: id,
      GroupId: sgId,
      IsEgress: isEgress,
      IpProtocol: '-1',
      FromPort: -1,
      ToPort: -1,
      ...(isEgress ? { CidrIpv4: '0.0.0.0/0' } : { ReferencedGroupId: sgId }),
      Tags: [],
    };
  };
  rule(false);
  rule(true);

  const clusterRole = createRole(adminContext(state, spec.accountId, spec.region, `cluster-role:${key}`), {
    RoleName: `${spec.name}-cluster-role`.slice(0, 64),
    AssumeRolePolicyDocument: trust({ Service: 'eks.amazonaws.com' }),
  });
  clusterRole.attachedPolicyArns.push('arn:aws:iam::aws:policy/AmazonEKSClusterPolicy');

  const cluster: ClusterState = {
    name: spec.name,
    arn: `arn:aws:eks:${spec.region}:${spec.accountId}:cluster/${spec.name}`,
    version: spec.version ?? '1.31',
    status: 'ACTIVE',
    createdAt: SEED_TIME,
    endpoint: `https://${upperHex(`endpoint:${key}`, 32)}.gr7.${spec.region}.eks.amazonaws.com`,
    certificateAuthorityData: Buffer.from(
      `-----BEGIN CERTIFICATE-----\n${Buffer.from(sha256Hex(`ca:${key}`).repeat(8), 'hex').toString('base64')}\n-----END CERTIFICATE-----\n`,
    ).toString('base64'),
    ...(spec.oidc === false
      ? {}
      : { oidcIssuer: `https://oidc.eks.${spec.region}.amazonaws.com/id/${upperHex(`oidc:${key}`, 32)}` }),
    authenticationMode: spec.authenticationMode,
    roleArn: clusterRole.Arn,
    vpcId,
    subnetIds: [...privateSubnetIds],
    clusterSecurityGroupId: sgId,
    securityGroupIds: [],
    endpointPublicAccess: spec.endpointPublicAccess ?? true,
    endpointPrivateAccess: spec.endpointPrivateAccess ?? true,
    publicAccessCidrs: [...(spec.publicAccessCidrs ?? ['0.0.0.0/0'])],
    tags: {},
    accessEntries: {},
    configMaps: {},
    resourceVersionSeq: 1000,
    updates: {},
  };
  region.eks.clusters[spec.name] = cluster;

  return {
    accountId: spec.accountId,
    region: spec.region,
    name: spec.name,
    arn: cluster.arn,
    endpoint: cluster.endpoint,
    ...(cluster.oidcIssuer ? { oidcIssuer: cluster.oidcIssuer } : {}),
    vpcId,
    privateSubnetIds,
    publicSubnetIds,
    clusterSecurityGroupId: sgId,
    natGatewayIds,
    allocationIds,
    natIps: [...natIps],
  };
}

/** The NAT public IPs of the demo source cluster (the cross-account IRSA runbook). */
export const DEMO_NAT_IPS: readonly string[] = ['18.0.35.117', '18.0.37.11', '18.0.38.139'];

/** The CIDR the demo target cluster-b's public endpoint already allows (someone else's). */
export const DEMO_TARGET_PUBLIC_ACCESS_CIDR = '203.0.113.0/24';

/** Seeds a world: `empty` has only the hub account; `demo` adds the clusters of the cross-account IRSA runbook. */
export function seedWorld(state: SandboxState, world: 'demo' | 'empty'): void {
  addAccount(state, HUB_ACCOUNT_ID);
  hubCredentials(state);
  if (world === 'empty') return;
  addEksCluster(state, {
    accountId: '111111111111',
    region: 'ap-southeast-1',
    name: 'cluster-a',
    authenticationMode: 'API_AND_CONFIG_MAP',
    vpc: { natIps: DEMO_NAT_IPS },
  });
  addEksCluster(state, {
    accountId: '222222222222',
    region: 'ap-southeast-1',
    name: 'cluster-b',
    authenticationMode: 'API_AND_CONFIG_MAP',
    endpointPublicAccess: true,
    endpointPrivateAccess: true,
    // Restricted, as a platform team would: another team's office block is already there.
    publicAccessCidrs: [DEMO_TARGET_PUBLIC_ACCESS_CIDR],
  });
  addEksCluster(state, {
    accountId: '333333333333',
    region: 'eu-west-1',
    name: 'cluster-c',
    authenticationMode: 'CONFIG_MAP',
  });
  addEksCluster(state, {
    accountId: '333333333333',
    region: 'eu-west-1',
    name: 'cluster-d',
    authenticationMode: 'API',
  });

  // cluster-c authenticates through aws-auth only: its nodes' role is mapped there.
  const ctx = adminContext(state, '333333333333', 'eu-west-1', 'node-role:cluster-c');
  const nodeRole = createRole(ctx, {
    RoleName: 'cluster-c-node-role',
    AssumeRolePolicyDocument: trust({ Service: 'ec2.amazonaws.com' }),
  });
  const clusterC = state.accounts['333333333333']?.regions['eu-west-1']?.eks.clusters['cluster-c'];
  if (clusterC) {
    putConfigMap(clusterC, 'kube-system', 'aws-auth', {
      mapRoles: `- rolearn: ${nodeRole.Arn}\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n    - system:bootstrappers\n    - system:nodes\n`,
    });
  }
}
