/**
 * Reachable, and kept reachable (issue 13, "How it is checked"), end to end through the HTTP
 * API, the local bus and the reconcile workflow, asserted on the sandbox:
 *
 * - three links from one source VPC to two targets (cluster-b: public endpoint restricted by
 *   publicAccessCidrs that already hold another team's CIDR; cluster-d: public endpoint open
 *   to all, private endpoint too), and a link from another VPC; one NAT IP of the source VPC
 *   is replaced (the sandbox's admin call); the CloudTrail events drive a reconcile that adds
 *   the new /32 where it takes effect, takes the old one out, touches no other VPC's link,
 *   and leaves the links ACTIVE;
 * - at 40 CIDRs the plan refuses with the figures; a private-only target fails a NAT link
 *   with its code, and takes a link with network `none`;
 * - a reconcile that cannot repair (the 40-CIDR limit reached since) leaves the link
 *   DEGRADED with its code, nothing undone.
 */
import {
  DescribeClusterCommand,
  DescribeUpdateCommand,
  UpdateClusterConfigCommand,
} from '@aws-sdk/client-eks';
import { AllocateAddressCommand, CreateNatGatewayCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRequest, type Harness, startHarness } from './harness';
import { byHand } from './probe';

const SOURCE = '111111111111';
const REGION = 'ap-southeast-1';
const OLD_IP = '18.0.38.139';
const KEPT = ['18.0.35.117/32', '18.0.37.11/32'];
const OTHER_TEAM = '203.0.113.0/24';
const OTHER_VPC_IP = '18.0.50.7';

const clusterD = {
  accountId: '333333333333',
  region: 'eu-west-1',
  cluster: 'cluster-d',
  access: { groups: ['readers'] },
};

async function publicAccessCidrs(h: Harness, accountId: string, region: string, name: string) {
  const cluster = (
    await byHand(h.rt.sandbox, accountId, region).eks.send(new DescribeClusterCommand({ name }))
  ).cluster;
  return [...(cluster?.resourcesVpcConfig?.publicAccessCidrs ?? [])];
}

/** Sets a cluster's publicAccessCidrs as its owner would, and waits for the update. */
async function setPublicAccessCidrs(
  h: Harness,
  accountId: string,
  region: string,
  name: string,
  cidrs: string[],
) {
  const eks = byHand(h.rt.sandbox, accountId, region).eks;
  const { update } = await eks.send(
    new UpdateClusterConfigCommand({ name, resourcesVpcConfig: { publicAccessCidrs: cidrs } }),
  );
  for (let i = 0; i < 3; i++) await eks.send(new DescribeUpdateCommand({ name, updateId: update?.id }));
}

async function onboard(h: Harness, body: Record<string, unknown>) {
  const res = await h.api('POST', '/links', body);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return Promise.all((res.body.links as { id: string }[]).map((l) => h.settle(l.id)));
}

describe('a NAT IP of a source VPC replaced: the event-driven reconcile', () => {
  let h: Harness;
  let links: any[];
  let other: any;
  let replaced: any;
  let before: Map<string, any>;

  beforeAll(async () => {
    h = await startHarness();
    // Another VPC of the source account, with its own NAT IP and a link to cluster-b.
    h.rt.sandbox.addEksCluster({
      accountId: SOURCE,
      region: REGION,
      name: 'cluster-e',
      authenticationMode: 'API',
      vpc: { natIps: [OTHER_VPC_IP] },
    });
    const w1 = await onboard(h, demoRequest({ targets: [demoRequest().targets[0], clusterD] }));
    const w2 = await onboard(
      h,
      demoRequest({ source: { ...demoRequest().source, namespace: 'billing', serviceAccount: 'billing' } }),
    );
    [other] = await onboard(
      h,
      demoRequest({
        source: { ...demoRequest().source, cluster: 'cluster-e', namespace: 'ops', serviceAccount: 'ops' },
      }),
    );
    links = [...w1, ...w2];
    before = new Map([...links, other].map((l) => [l.id, l]));
    // Act: the platform team replaces the NAT gateway of one IP (the sandbox's admin call).
    h.rt.sandbox.resetCalls();
    const res = await h.api('POST', '/_sandbox/nat-gateways/replace', {
      accountId: SOURCE,
      region: REGION,
      publicIp: OLD_IP,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    replaced = res.body;
    await h.rt.eventBus.idle();
    links = await Promise.all(links.map((l) => h.settle(l.id)));
    other = await h.settle(other.id);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('starts with three ACTIVE links from one source VPC to two targets, and one from another VPC', () => {
    expect(
      [...before.values()].map((l) => [l.spec.target.cluster, l.status, l.outputs.egress.effectiveAt]),
    ).toEqual([
      ['cluster-b', 'ACTIVE', 'public-access-cidrs'],
      ['cluster-d', 'ACTIVE', 'public-endpoint-open-to-all'],
      ['cluster-b', 'ACTIVE', 'public-access-cidrs'],
      ['cluster-b', 'ACTIVE', 'public-access-cidrs'],
    ]);
  });

  it('puts CreateNatGateway and DeleteNatGateway on the bus, each starting a reconcile', () => {
    const deliveries = h.rt.eventBus.deliveries().filter((d) => d.rule === 'tether-nat-gateway-changes');
    expect(deliveries.map((d) => [d.eventName, d.ok])).toEqual(
      expect.arrayContaining([
        ['CreateNatGateway', true],
        ['DeleteNatGateway', true],
      ]),
    );
  });

  it('adds the new /32 where it takes effect and takes the old one out, keeping the others', async () => {
    expect(replaced.replaced.publicIp).toBe(OLD_IP);
    expect((await publicAccessCidrs(h, '222222222222', REGION, 'cluster-b')).sort()).toEqual(
      [OTHER_TEAM, ...KEPT, `${OTHER_VPC_IP}/32`, `${replaced.by.publicIp}/32`].sort(),
    );
    // cluster-d's public endpoint is open to all: nothing to allow there, before or after.
    expect(await publicAccessCidrs(h, '333333333333', 'eu-west-1', 'cluster-d')).toEqual(['0.0.0.0/0']);
  });

  it('leaves the three links ACTIVE, each recording the new IP and what the reconcile changed', () => {
    for (const link of links) {
      expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
      expect(link.lastExecution.workflow).toBe('reconcile');
      expect(link.outputs.egress.cidrs).toEqual([...KEPT, `${replaced.by.publicIp}/32`].sort());
      expect(link.steps.verify.result.hops.every((x: { ok: boolean }) => x.ok)).toBe(true);
    }
    const changed = links.map((l) => l.steps.reconcile.result.changed);
    // Shared /32s: one link's reconcile adds and removes them, the others find them done.
    expect(changed.filter((c) => c.length > 0).length).toBeGreaterThanOrEqual(1);
    expect(links.find((l) => l.spec.target.cluster === 'cluster-d').steps.reconcile.result).toEqual({
      action: 'unchanged',
      changed: [],
    });
  });

  it('touches no link of another VPC', () => {
    expect(other.version).toBe(before.get(other.id).version);
    expect(other.lastExecution).toEqual(before.get(other.id).lastExecution);
  });

  it('makes only the publicAccessCidrs updates as Tether, one at a time', () => {
    const tether = h.rt.sandbox
      .calls()
      .filter((c) => c.mutating && c.ok && c.principalArn.includes(':role/tether/'));
    expect(new Set(tether.map((c) => `${c.accountId}:${c.operation}`))).toEqual(
      new Set(['222222222222:UpdateClusterConfig']),
    );
    expect(tether.length).toBeLessThanOrEqual(2);
  });
});

describe('what cannot take effect is said, not hidden', () => {
  let h: Harness;
  /** The link whose NAT IP was swapped at 40 CIDRs. */
  let swapped: any;

  beforeAll(async () => {
    h = await startHarness({ cloudTrailEvents: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses at the plan a link that would pass 40 publicAccessCidrs, with the figures', async () => {
    h.rt.sandbox.addEksCluster({
      accountId: '222222222222',
      region: REGION,
      name: 'crowded',
      authenticationMode: 'API',
      publicAccessCidrs: Array.from({ length: 38 }, (_, i) => `198.51.${i}.0/24`),
    });
    const body = demoRequest({ targets: [{ ...demoRequest().targets[0], cluster: 'crowded' }] });
    const plan = await h.api('POST', '/plans', body);
    expect([plan.status, plan.body.code]).toEqual([422, 'QUOTA_EXCEEDED']);
    expect(plan.body.detail).toContain('allows 38 CIDRs');
    expect(plan.body.detail).toContain('needs 3 more');
    expect(plan.body.detail).toContain("41 in all, over EKS's limit of 40");
    const post = await h.api('POST', '/links', body);
    expect([post.status, post.body.code]).toEqual([422, 'QUOTA_EXCEEDED']);
  });

  it('fails a NAT link to a private-only target with ENDPOINT_NOT_REACHABLE, and takes one with network none', async () => {
    h.rt.sandbox.addEksCluster({
      accountId: '222222222222',
      region: REGION,
      name: 'private-only',
      authenticationMode: 'API',
      endpointPublicAccess: false,
    });
    const target = { ...demoRequest().targets[0], cluster: 'private-only' };
    const [nat] = await onboard(h, demoRequest({ targets: [target] }));
    expect(nat.status).toBe('FAILED');
    expect(nat.error).toMatchObject({ code: 'ENDPOINT_NOT_REACHABLE', step: 'egress' });
    expect(nat.error.message).toContain('only a private endpoint');
    await h.api('DELETE', `/links/${nat.id}`);
    await h.settle(nat.id);
    const [none] = await onboard(h, demoRequest({ targets: [target], network: { mode: 'none' } }));
    expect(none.status).toBe('ACTIVE');
    expect(none.outputs.egress.effectiveAt).toBe('nothing-to-allow');
  });

  it('swaps a replaced NAT IP at 40 CIDRs in one update: the list stays at 40, the link ACTIVE', async () => {
    // Arrange: the demo link, then the owner fills cluster-b's list to 40, then a NAT IP changes.
    const [link] = await onboard(h, demoRequest());
    expect(link.status).toBe('ACTIVE');
    swapped = link;
    const full = await publicAccessCidrs(h, '222222222222', REGION, 'cluster-b');
    await setPublicAccessCidrs(h, '222222222222', REGION, 'cluster-b', [
      ...full,
      ...Array.from({ length: 40 - full.length }, (_, i) => `192.0.2.${i}/32`),
    ]);
    const replaced = await h.api('POST', '/_sandbox/nat-gateways/replace', {
      accountId: SOURCE,
      region: REGION,
      publicIp: OLD_IP,
    });
    h.rt.sandbox.resetCalls();

    // Act
    expect((await h.api('POST', `/links/${link.id}/reconcile`)).status).toBe(202);
    const after = await h.settle(link.id);

    // Assert: the old /32 leaves in the update that adds the new one, so 40 is never passed.
    expect(after.status, JSON.stringify(after.error)).toBe('ACTIVE');
    const list = await publicAccessCidrs(h, '222222222222', REGION, 'cluster-b');
    expect(list).toHaveLength(40);
    expect(list).toContain(`${replaced.body.by.publicIp}/32`);
    expect(list).not.toContain(`${OLD_IP}/32`);
    const updates = h.rt.sandbox
      .calls()
      .filter(
        (c) => c.ok && c.operation === 'UpdateClusterConfig' && c.principalArn.includes(':role/tether/'),
      );
    expect(updates).toHaveLength(1);
  });

  it('leaves a link it cannot repair DEGRADED with its code, undoing nothing', async () => {
    // Arrange: cluster-b's list is at 40 (the test above); the source VPC gains a NAT gateway.
    const link = swapped;
    const { ec2, eks } = byHand(h.rt.sandbox, SOURCE, REGION);
    const vpcId = (await eks.send(new DescribeClusterCommand({ name: 'cluster-a' }))).cluster
      ?.resourcesVpcConfig?.vpcId;
    const subnet = (
      await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId ?? ''] }] }))
    ).Subnets?.[0]?.SubnetId;
    const eip = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet, AllocationId: eip.AllocationId }));

    // Act
    expect((await h.api('POST', `/links/${link.id}/reconcile`)).status).toBe(202);
    const after = await h.settle(link.id);

    // Assert
    expect(after.status).toBe('DEGRADED');
    expect(after.error).toMatchObject({ code: 'QUOTA_EXCEEDED', step: 'egress' });
    expect((await h.api('GET', `/links/${link.id}/kubeconfig`)).status).toBe(200);
    expect(await publicAccessCidrs(h, '222222222222', REGION, 'cluster-b')).toHaveLength(40);
    expect(await publicAccessCidrs(h, '222222222222', REGION, 'cluster-b')).not.toContain(
      `${eip.PublicIp}/32`,
    );
  });
});
