/**
 * Resolve: read both clusters and the source's NAT egress IPs (the cross-account IRSA runbook, steps 1.2 and 6.1: docs/runbooks.md#the-cross-account-irsa-runbook).
 * Read-only; the result is what every later step builds on.
 */
import { DescribeNatGatewaysCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import type { AwsClients } from '#aws/clients';
import { ClusterNotFoundError, UnsupportedClusterError } from '#link/errors';
import { isAwsError } from '#aws/errors';
import type { ClusterRef, LinkOutputs, LinkSpec, Resolved, ResolvedTarget } from '#link/model';
import { eksClusterArn } from '#link/names';

export type { Resolved, ResolvedSource, ResolvedTarget } from '#link/model';

/** DescribeCluster, with a missing cluster as a clear error. */
export async function describeCluster(eks: EKSClient, ref: ClusterRef) {
  try {
    const out = await eks.send(new DescribeClusterCommand({ name: ref.cluster }));
    if (!out.cluster)
      throw new ClusterNotFoundError(`EKS cluster ${eksClusterArn(ref)} returned no description`);
    return out.cluster;
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) {
      throw new ClusterNotFoundError(
        `EKS cluster ${ref.cluster} does not exist in account ${ref.accountId}, region ${ref.region}`,
        { cause: err },
      );
    }
    throw err;
  }
}

/**
 * The egress addresses of the NAT gateways of a VPC (the cross-account IRSA runbook, step 6.1:
 * docs/runbooks.md#the-cross-account-irsa-runbook): the public IPs of public NAT gateways, and
 * the private IPs of private ones (ConnectivityType private), which are what a peered or
 * Transit Gateway attached network sees: those take effect on the target's private endpoint
 * (docs/aws-facts.md#nat-gateway-addresses).
 */
export async function natGatewayIps(ec2: EC2Client, vpcId: string): Promise<string[]> {
  const ips = new Set<string>();
  let token: string | undefined;
  do {
    const out = await ec2.send(
      new DescribeNatGatewaysCommand({
        Filter: [
          { Name: 'vpc-id', Values: [vpcId] },
          { Name: 'state', Values: ['available'] },
        ],
        ...(token ? { NextToken: token } : {}),
      }),
    );
    for (const gw of out.NatGateways ?? []) {
      for (const address of gw.NatGatewayAddresses ?? []) {
        const ip = gw.ConnectivityType === 'private' ? address.PrivateIp : address.PublicIp;
        if (ip) ips.add(ip);
      }
    }
    token = out.NextToken;
  } while (token);
  return [...ips].sort();
}

/**
 * What a self-managed source can have: no VPC in AWS to read NAT gateways from, so its egress
 * is given (`cidrs`) or there is none; and no EKS Pod Identity. Throws
 * {@link UnsupportedClusterError} for network `nat` and mode `pod-identity`.
 */
export function assertSelfManagedNetwork(spec: Pick<LinkSpec, 'network' | 'source' | 'identity'>): void {
  // EKS Pod Identity is an EKS feature: its association and agent live in an EKS cluster.
  if (spec.identity.mode === 'pod-identity') {
    throw new UnsupportedClusterError(
      `Source cluster ${spec.source.accountId}/${spec.source.region}/${spec.source.cluster} is self-managed: EKS Pod Identity runs only in EKS clusters; use irsa (its OIDC discovery is published by Tether) or roles-anywhere`,
    );
  }
  if (spec.network.mode === 'nat') {
    throw new UnsupportedClusterError(
      `Source cluster ${spec.source.accountId}/${spec.source.region}/${spec.source.cluster} is self-managed: it has no VPC in AWS to read NAT gateways from; give its egress IPs with network mode "cidrs" (or "none")`,
    );
  }
}

/**
 * Resolves both clusters of a link and, for `nat` networking, the source egress IPs. A source
 * registered as self-managed (`registered`) is not read from EKS: its issuer is the one Tether
 * serves, and it has no VPC.
 */
export async function resolveLink(
  clients: AwsClients,
  spec: LinkSpec,
  registered?: { readonly issuer: string },
): Promise<Resolved> {
  // A `principal` source is an IAM role: its cluster is not read (it need not be EKS), and
  // its egress is given (cidrs or none), never read from a VPC.
  const principal = spec.identity.mode === 'principal';
  const selfManaged = !principal && registered !== undefined;
  if (selfManaged) assertSelfManagedNetwork(spec);
  const [source, target] = await Promise.all([
    principal || selfManaged
      ? Promise.resolve(undefined)
      : describeCluster(clients.eks(spec.source.accountId, spec.source.region), spec.source),
    describeCluster(clients.eks(spec.target.accountId, spec.target.region), spec.target),
  ]);
  const issuer = selfManaged ? registered.issuer : source?.identity?.oidc?.issuer;
  if (spec.identity.mode === 'irsa' && !issuer) {
    throw new UnsupportedClusterError(
      `Cluster ${spec.source.cluster} has no OIDC issuer; irsa needs one (or publish OIDC discovery for a self-managed cluster)`,
    );
  }
  const vpcId = source?.resourcesVpcConfig?.vpcId ?? '';
  const natIps =
    spec.network.mode === 'nat'
      ? await natGatewayIps(clients.ec2(spec.source.accountId, spec.source.region), vpcId)
      : [];
  if (spec.network.mode === 'nat' && natIps.length === 0) {
    throw new UnsupportedClusterError(
      `The VPC ${vpcId} of cluster ${spec.source.cluster} has no available NAT gateway with an address; use network mode "cidrs" or "none"`,
    );
  }
  const vpc = target.resourcesVpcConfig;
  const mode = target.accessConfig?.authenticationMode ?? 'CONFIG_MAP';
  return {
    source: {
      clusterArn: source?.arn ?? eksClusterArn(spec.source),
      ...(selfManaged ? { kind: 'self-managed' as const } : {}),
      ...(issuer ? { issuer } : {}),
      vpcId,
      natIps,
    },
    target: {
      clusterArn: target.arn ?? eksClusterArn(spec.target),
      endpoint: target.endpoint ?? '',
      certificateAuthority: target.certificateAuthority?.data ?? '',
      authenticationMode: mode as ResolvedTarget['authenticationMode'],
      ...(vpc?.clusterSecurityGroupId ? { clusterSecurityGroupId: vpc.clusterSecurityGroupId } : {}),
      vpcId: vpc?.vpcId ?? '',
      endpointPublicAccess: vpc?.endpointPublicAccess ?? true,
      endpointPrivateAccess: vpc?.endpointPrivateAccess ?? false,
      publicAccessCidrs: vpc?.publicAccessCidrs ?? [],
    },
  };
}

/** The resolution a previous step recorded on the link. */
export function resolvedOf(link: { outputs: LinkOutputs }): Resolved {
  const resolved = link.outputs.resolved;
  if (!resolved) throw new Error('The link has no resolution yet: the resolve step must run first');
  return resolved;
}
