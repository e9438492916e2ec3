/**
 * Resolve (`#resources/resolve`), against the sandbox: both clusters and the source's NAT
 * egress IPs, read-only, with a missing cluster, a source without an OIDC issuer and a VPC
 * without NAT gateways as clear errors.
 */
import { DeleteNatGatewayCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterNotFoundError, UnsupportedClusterError } from '#link/errors';
import type { ClusterRef } from '#link/model';
import { describeCluster, natGatewayIps, resolvedOf, resolveLink } from '#resources/resolve';
import {
  clusterIn,
  linkOf,
  newCluster,
  newSpec,
  newWorkload,
  OTHER_TARGET_ACCOUNT,
  observe,
  REGION,
  rootClients,
  SOURCE_ACCOUNT,
  startSandboxRuntime,
  TARGET_ACCOUNT,
  type SandboxRuntime,
} from './support';

let rt: SandboxRuntime;

beforeAll(async () => {
  rt = await startSandboxRuntime();
});
afterAll(async () => {
  await rt?.close();
});

const CLUSTER_A: ClusterRef = { accountId: SOURCE_ACCOUNT, region: REGION, cluster: 'cluster-a' };
const CLUSTER_B: ClusterRef = { accountId: TARGET_ACCOUNT, region: REGION, cluster: 'cluster-b' };
const CLUSTER_C: ClusterRef = { accountId: OTHER_TARGET_ACCOUNT, region: 'eu-west-1', cluster: 'cluster-c' };

describe('describeCluster', () => {
  it('describes a cluster of the account and region', async () => {
    // Act
    const cluster = await describeCluster(rt.clients.eks(TARGET_ACCOUNT, REGION), CLUSTER_B);

    // Assert
    expect(cluster.arn).toBe('arn:aws:eks:ap-southeast-1:222222222222:cluster/cluster-b');
  });

  it('answers ClusterNotFoundError, naming the account and region, for a cluster that does not exist', async () => {
    // Act
    const describing = describeCluster(rt.clients.eks(TARGET_ACCOUNT, REGION), {
      ...CLUSTER_B,
      cluster: 'nope',
    });

    // Assert
    await expect(describing).rejects.toBeInstanceOf(ClusterNotFoundError);
    await expect(describing).rejects.toThrow(
      'EKS cluster nope does not exist in account 222222222222, region ap-southeast-1',
    );
  });
});

describe('natGatewayIps', () => {
  it('gives the public IPs of the VPC’s NAT gateways, sorted', async () => {
    // Arrange
    const { ids } = newCluster(rt.sandbox, {
      accountId: SOURCE_ACCOUNT,
      vpc: { natIps: ['3.3.3.3', '1.1.1.1'] },
    });

    // Act
    const ips = await natGatewayIps(rt.clients.ec2(SOURCE_ACCOUNT, REGION), ids.vpcId);

    // Assert
    expect(ips).toEqual(['1.1.1.1', '3.3.3.3']);
  });

  it('leaves out a NAT gateway that is being deleted', async () => {
    // Arrange
    const { ids } = newCluster(rt.sandbox, {
      accountId: SOURCE_ACCOUNT,
      vpc: { natIps: ['5.5.5.5', '6.6.6.6'] },
    });
    await rootClients(rt.sandbox, SOURCE_ACCOUNT).ec2.send(
      new DeleteNatGatewayCommand({ NatGatewayId: ids.natGatewayIds[0] }),
    );

    // Act
    const ips = await natGatewayIps(rt.clients.ec2(SOURCE_ACCOUNT, REGION), ids.vpcId);

    // Assert
    expect(ips).toEqual(['6.6.6.6']);
  });
});

describe('resolveLink', () => {
  it('reads both clusters of the demo link and the source’s NAT IPs, with no mutating call', async () => {
    // Arrange
    const spec = newSpec();
    const a = clusterIn(rt.sandbox, CLUSTER_A);
    const b = clusterIn(rt.sandbox, CLUSTER_B);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => resolveLink(rt.clients, spec));

    // Assert
    expect(value).toEqual({
      source: {
        clusterArn: a.arn,
        issuer: a.oidcIssuer,
        vpcId: a.vpcId,
        natIps: ['18.0.35.117', '18.0.37.11', '18.0.38.139'],
      },
      target: {
        clusterArn: b.arn,
        endpoint: b.endpoint,
        certificateAuthority: b.certificateAuthorityData,
        authenticationMode: 'API_AND_CONFIG_MAP',
        clusterSecurityGroupId: b.clusterSecurityGroupId,
        vpcId: b.vpcId,
        endpointPublicAccess: true,
        endpointPrivateAccess: true,
        publicAccessCidrs: ['0.0.0.0/0'],
      },
    });
    expect(mutations).toEqual([]);
  });

  it('reads the authentication mode and endpoint access of the target', async () => {
    // Arrange
    const { ref } = newCluster(rt.sandbox, {
      accountId: TARGET_ACCOUNT,
      authenticationMode: 'API',
      endpointPrivateAccess: false,
      publicAccessCidrs: ['203.0.113.0/24'],
    });

    // Act
    const [toC, toRestricted] = [
      await resolveLink(rt.clients, newSpec({ target: CLUSTER_C })),
      await resolveLink(rt.clients, newSpec({ target: ref })),
    ];

    // Assert
    expect(toC.target.authenticationMode).toBe('CONFIG_MAP');
    expect(toRestricted.target).toMatchObject({
      authenticationMode: 'API',
      endpointPublicAccess: true,
      endpointPrivateAccess: false,
      publicAccessCidrs: ['203.0.113.0/24'],
    });
  });

  it('reads no NAT gateway for a link with explicit CIDRs', async () => {
    // Arrange
    const spec = newSpec({ network: { mode: 'cidrs', cidrs: ['198.51.100.0/24'] } });

    // Act
    const { value } = await observe(rt.sandbox, () => resolveLink(rt.clients, spec));

    // Assert
    expect(value?.source.natIps).toEqual([]);
    expect(rt.sandbox.callCounts({ operation: 'DescribeNatGateways' })).toBe(0);
  });

  it('answers UnsupportedClusterError for an irsa link from a cluster without an OIDC issuer', async () => {
    // Arrange
    const { ref } = newCluster(rt.sandbox, { accountId: SOURCE_ACCOUNT, oidc: false });
    const spec = newSpec({ source: newWorkload(ref) });

    // Act
    const resolving = resolveLink(rt.clients, spec);

    // Assert
    await expect(resolving).rejects.toBeInstanceOf(UnsupportedClusterError);
    await expect(resolving).rejects.toThrow(/has no OIDC issuer/);
  });

  it('answers UnsupportedClusterError for a NAT link from a VPC without a NAT gateway', async () => {
    // Arrange
    const { ids, ref } = newCluster(rt.sandbox, { accountId: SOURCE_ACCOUNT, vpc: { natIps: [] } });
    const spec = newSpec({ source: newWorkload(ref) });

    // Act
    const resolving = resolveLink(rt.clients, spec);

    // Assert
    await expect(resolving).rejects.toBeInstanceOf(UnsupportedClusterError);
    await expect(resolving).rejects.toThrow(
      `The VPC ${ids.vpcId} of cluster ${ids.name} has no available NAT gateway`,
    );
  });

  it('answers ClusterNotFoundError when the target cluster does not exist', async () => {
    // Arrange
    const spec = newSpec({ target: { ...CLUSTER_B, cluster: 'cluster-z' } });

    // Act
    const resolving = resolveLink(rt.clients, spec);

    // Assert
    await expect(resolving).rejects.toBeInstanceOf(ClusterNotFoundError);
  });
});

describe('resolvedOf', () => {
  it('gives the resolution a previous step recorded, and refuses a link without one', async () => {
    // Arrange
    const resolved = await resolveLink(rt.clients, newSpec());

    // Act
    const found = resolvedOf(linkOf(newSpec(), { resolved }));
    const missing = () => resolvedOf(linkOf(newSpec()));

    // Assert
    expect(found).toEqual(resolved);
    expect(missing).toThrow('the resolve step must run first');
  });
});
