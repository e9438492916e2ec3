/**
 * The demo world of the cross-account IRSA runbook made in moto, and Tether's local runtime with every member
 * account call sent to moto through `AWS_ENDPOINT_URL` (issue 5, item 1, last paragraph).
 */
import {
  AllocateAddressCommand,
  CreateNatGatewayCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
} from '@aws-sdk/client-ec2';
import { type Cluster, CreateClusterCommand, DescribeClusterCommand } from '@aws-sdk/client-eks';
import { CreateRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import type { Pluggable } from '@smithy/types';
import { startLocalRuntime } from '#local/runtime';
import { type Harness, harnessFor } from '../e2e/harness';
import type { MotoServer } from './moto';
import { type Clients, motoSide, REGION } from './sides';

/** moto serves a request signed with keys it did not issue in its default account: the hub's. */
export const HUB = '123456789012';
export const SOURCE = '111111111111';
export const TARGET = '222222222222';

/**
 * How the clusters are made. `sdk`: CreateCluster as an EKS user sends it (moto then answers
 * DescribeCluster without vpcId, clusterSecurityGroupId and accessConfig). `eks-answers`: the
 * same call with `vpcId` and `clusterSecurityGroupId` added to the serialized
 * `resourcesVpcConfig`, which moto stores and returns as it received it — so DescribeCluster
 * answers those two fields as EKS does. Nothing can make moto return `accessConfig`.
 */
export type ClusterMaking = 'sdk' | 'eks-answers';

export interface ClusterWorld {
  readonly accountId: string;
  readonly cluster: string;
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  /** The security group made for the cluster (EKS would make it and name it in DescribeCluster). */
  readonly securityGroupId: string;
  /** Public IPs of the NAT gateways made in the VPC, sorted. */
  readonly natIps: readonly string[];
  /** What moto's DescribeCluster answers right after CreateCluster. */
  readonly described: Cluster;
}

export interface DemoWorld {
  readonly source: ClusterWorld;
  readonly target: ClusterWorld;
}

const trust = (principal: Record<string, string>) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' }],
  });

/** Adds fields to the JSON body of one request after the SDK serialized it. */
function addToVpcConfig(fields: Record<string, string>): Pluggable<any, any> {
  return {
    applyToStack: (stack) => {
      stack.add(
        (next) => async (args: any) => {
          const request = args.request as { body?: unknown; headers: Record<string, string> };
          // The serialized body: a string, bytes, or (newer SDKs) an adapter whose toString is the JSON.
          const raw = request.body;
          const text =
            raw instanceof Uint8Array
              ? Buffer.from(raw).toString('utf8')
              : raw === undefined
                ? ''
                : String(raw);
          const body = JSON.parse(text) as { resourcesVpcConfig?: Record<string, unknown> };
          body.resourcesVpcConfig = { ...body.resourcesVpcConfig, ...fields };
          request.body = JSON.stringify(body);
          request.headers['content-length'] = String(Buffer.byteLength(request.body as string));
          return next(args);
        },
        { step: 'build', name: 'motoVpcConfigFields', priority: 'high' },
      );
    },
  };
}

async function makeCluster(
  c: Clients,
  accountId: string,
  cluster: string,
  cidr: string,
  natGateways: number,
  making: ClusterMaking,
): Promise<ClusterWorld> {
  // The agent role the hub assumes (moto would issue credentials for it even if it were missing).
  await c.iam.send(
    new CreateRoleCommand({
      RoleName: 'tether-agent',
      Path: '/tether/',
      AssumeRolePolicyDocument: trust({ AWS: `arn:aws:iam::${HUB}:root` }),
    }),
  );
  const role = await c.iam.send(
    new CreateRoleCommand({
      RoleName: `${cluster}-cluster-role`,
      AssumeRolePolicyDocument: trust({ Service: 'eks.amazonaws.com' }),
    }),
  );
  const vpc = await c.ec2.send(new CreateVpcCommand({ CidrBlock: `${cidr}.0.0/16` }));
  const vpcId = vpc.Vpc?.VpcId ?? '';
  const subnetIds: string[] = [];
  for (const [i, az] of ['a', 'b'].entries()) {
    const s = await c.ec2.send(
      new CreateSubnetCommand({
        VpcId: vpcId,
        CidrBlock: `${cidr}.${i * 16}.0/20`,
        AvailabilityZone: `${REGION}${az}`,
      }),
    );
    subnetIds.push(s.Subnet?.SubnetId ?? '');
  }
  const natIps: string[] = [];
  for (const subnetId of subnetIds.slice(0, natGateways)) {
    const eip = await c.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await c.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnetId, AllocationId: eip.AllocationId }));
    natIps.push(eip.PublicIp ?? '');
  }
  const sg = await c.ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: `eks-cluster-sg-${cluster}`,
      Description: `EKS created security group for ${cluster}`,
      VpcId: vpcId,
    }),
  );
  const securityGroupId = sg.GroupId ?? '';
  const create = new CreateClusterCommand({
    name: cluster,
    version: '1.31',
    roleArn: role.Role?.Arn,
    resourcesVpcConfig: { subnetIds, endpointPublicAccess: true, endpointPrivateAccess: false },
    accessConfig: { authenticationMode: 'API' },
  });
  if (making === 'eks-answers') {
    create.middlewareStack.use(addToVpcConfig({ vpcId, clusterSecurityGroupId: securityGroupId }));
  }
  await c.eks.send(create);
  const described = (await c.eks.send(new DescribeClusterCommand({ name: cluster }))).cluster ?? {};
  return { accountId, cluster, vpcId, subnetIds, securityGroupId, natIps: natIps.sort(), described };
}

/**
 * The demo world in moto: cluster-a in 111111111111 (its VPC has two NAT gateways with
 * public IPs) and cluster-b in 222222222222, each account with the `tether-agent` role.
 */
export async function makeDemoWorld(moto: MotoServer, making: ClusterMaking): Promise<DemoWorld> {
  const side = motoSide(moto);
  const source = await makeCluster(side.account(SOURCE), SOURCE, 'cluster-a', '10.20', 2, making);
  const target = await makeCluster(side.account(TARGET), TARGET, 'cluster-b', '10.30', 0, making);
  return { source, target };
}

/**
 * Holds every CreateRole of one runtime IAM client until `ready()` answers true (or
 * `timeoutMs` passes). The runtime caches its clients per account, so holding the target
 * account's client orders the two branches of the onboard Parallel: the target branch makes
 * its role only after the source branch is done, and the step map does not depend on
 * which branch wins a race.
 */
export function holdCreateRole(client: IAMClient, ready: () => Promise<boolean>, timeoutMs = 5_000): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'CreateRoleCommand') {
        const deadline = Date.now() + timeoutMs;
        while (!(await ready()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      }
      return next(args);
    },
    { step: 'initialize', name: 'holdCreateRole', priority: 'low' },
  );
}

const ENV = [
  'AWS_ENDPOINT_URL',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
];

/**
 * Runs `fn` against Tether's local runtime whose SDK clients go to moto: the environment is
 * set before the runtime makes its clients and restored afterwards.
 */
export async function withTetherOnMoto<T>(moto: MotoServer, fn: (h: Harness) => Promise<T>): Promise<T> {
  const saved = new Map(ENV.map((k) => [k, process.env[k]]));
  process.env.AWS_ENDPOINT_URL = moto.endpoint;
  process.env.AWS_ACCESS_KEY_ID = 'AKIATETHERHUBTESTING';
  process.env.AWS_SECRET_ACCESS_KEY = 'tether-hub-testing';
  process.env.AWS_REGION = REGION;
  delete process.env.AWS_SESSION_TOKEN;
  let h: Harness | undefined;
  try {
    h = harnessFor(await startLocalRuntime({ aws: 'environment', hubAccountId: HUB, retryIntervalMs: 1 }));
    return await fn(h);
  } finally {
    await h?.close();
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
