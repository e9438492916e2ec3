/**
 * POST /links/{id}/reconcile after the source's NAT IPs changed: the new IP is let in where
 * it takes effect (cluster-b's restricted public endpoint: its publicAccessCidrs), the IP
 * that went away is taken out, and nothing else changes.
 */
import {
  AllocateAddressCommand,
  CreateNatGatewayCommand,
  DeleteNatGatewayCommand,
  DescribeNatGatewaysCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { DescribeClusterCommand } from '@aws-sdk/client-eks';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { reconcileInput } from '#link/workflow-input';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxPlugin } from '#local/adapters/sdk-plugin';
import { demoRequest, type Harness, startHarness } from './harness';

let h: Harness;
let link: any;
let sourceEc2: EC2Client;

beforeAll(async () => {
  // The API path alone: the sandbox's CloudTrail is kept off the bus (events.test.ts has the event path).
  h = await startHarness({ cloudTrailEvents: false });
  link = await h.settle((await h.api('POST', '/links', demoRequest())).body.links[0].id);
  // The platform team's own hands on the source account: root credentials, not Tether's.
  sourceEc2 = new EC2Client({
    region: 'ap-southeast-1',
    credentials: h.rt.sandbox.rootCredentials('111111111111'),
  });
  sourceEc2.middlewareStack.use(sandboxPlugin(h.rt.sandbox, 'ec2', sourceEc2.config as never));
});
afterAll(async () => {
  await h?.close();
});

async function publicAccessCidrs(): Promise<string[]> {
  const cluster = (
    await h.rt.clients
      .eks('222222222222', 'ap-southeast-1')
      .send(new DescribeClusterCommand({ name: 'cluster-b' }))
  ).cluster;
  return [...(cluster?.resourcesVpcConfig?.publicAccessCidrs ?? [])];
}

describe('POST /links/{id}/reconcile', () => {
  it('adds the new NAT IP and revokes the one that went away', async () => {
    const gateways = (await sourceEc2.send(new DescribeNatGatewaysCommand({}))).NatGateways ?? [];
    const gone = gateways.find((g) => g.NatGatewayAddresses?.some((a) => a.PublicIp === '18.0.38.139'))!;
    await sourceEc2.send(new DeleteNatGatewayCommand({ NatGatewayId: gone.NatGatewayId }));
    const eip = await sourceEc2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await sourceEc2.send(
      new CreateNatGatewayCommand({ SubnetId: gone.SubnetId, AllocationId: eip.AllocationId }),
    );
    // CreateNatGateway is asynchronous (docs/aws-facts.md#nat-gateway-change-events): the
    // gateway is pending, and the reconcile waits for it to settle before it reads its IPs.

    h.rt.sandbox.resetCalls();
    const res = await h.api('POST', `/links/${link.id}/reconcile`);
    expect(res.status).toBe(202);
    const after = await h.settle(link.id);
    expect(after.status).toBe('ACTIVE');
    // The other team's CIDR stays; the new /32 is added and the old one taken out in one update
    // with the final list (EKS takes one update at a time, each takes minutes).
    expect((await publicAccessCidrs()).sort()).toEqual(
      ['203.0.113.0/24', '18.0.35.117/32', '18.0.37.11/32', `${eip.PublicIp}/32`].sort(),
    );
    const updates = h.rt.sandbox.calls().filter((c) => c.mutating && c.ok);
    expect(updates.map((c) => c.operation)).toEqual(['UpdateClusterConfig']);
    const written = updates[0]?.input.resourcesVpcConfig as { publicAccessCidrs?: string[] } | undefined;
    expect([...(written?.publicAccessCidrs ?? [])].sort()).toEqual((await publicAccessCidrs()).sort());
    expect(after.steps.egress.result.released).toEqual([
      expect.objectContaining({ cidr: '18.0.38.139/32', action: 'removed' }),
    ]);
    // The reconcile workflow drove it: it waited for the pending gateway, and says what it changed.
    expect(after.lastExecution.workflow).toBe('reconcile');
    const history = h.rt.stepFunctions.history(after.lastExecution.arn);
    expect(history.filter((e) => e.type === 'StateRetried').map((e) => e.state)).toContain(
      'Wait for source NAT gateways',
    );
    expect(after.steps.reconcile.result).toEqual({
      action: 'repaired',
      changed: [{ step: 'egress', action: 'updated' }],
    });
    expect(after.outputs.egress.cidrs).toEqual(
      ['18.0.35.117/32', '18.0.37.11/32', `${eip.PublicIp}/32`].sort(),
    );
  });

  it('makes no mutating call and changes nothing when there is nothing to do', async () => {
    h.rt.sandbox.resetCalls();
    expect((await h.api('POST', `/links/${link.id}/reconcile`)).status).toBe(202);
    const after = await h.settle(link.id);
    expect(after.status).toBe('ACTIVE');
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(0);
    expect(after.steps.reconcile.result).toEqual({ action: 'unchanged', changed: [] });
  });

  it('takes over a link a reconcile run left RECONCILING when it stopped (a crash), and ends ACTIVE', async () => {
    // Arrange: a run that took the link and died with its process.
    const current = await h.rt.links.get(link.id);
    const dead = {
      name: 'reconcile-dead',
      arn: 'arn:aws:states:ap-southeast-1:000000000000:execution:tether-reconcile:reconcile-dead',
      workflow: 'reconcile',
    };
    expect(await h.rt.links.takeForReconcile(current, dead, new Date().toISOString())).toBeDefined();
    expect((await h.api('POST', `/links/${link.id}/reconcile`)).status).toBe(409);

    // Act: the next reconcile (here started as the restart re-drive does).
    await h.rt.clients.sfn().send(
      new StartExecutionCommand({
        stateMachineArn: h.rt.runtime.stateMachines.reconcile,
        name: 'redrive-reconcile-test',
        input: reconcileInput([link.id], { reason: 'redrive', time: new Date().toISOString() }),
      }),
    );
    const after = await h.settle(link.id);

    // Assert
    expect(after.status).toBe('ACTIVE');
    expect(after.lastExecution.name).toBe('redrive-reconcile-test');
  });

  it('answers 404 for an unknown link', async () => {
    const res = await h.api('POST', '/links/lnk_01M87H2QQVWBJYXZXTDDNSMTNM/reconcile');
    expect([res.status, res.body.code]).toEqual([404, 'LINK_NOT_FOUND']);
  });
});
