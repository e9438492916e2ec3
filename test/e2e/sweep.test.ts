/**
 * The drift sweep (docs/architecture.md#the-sweep-and-its-cost), through the local runtime's
 * admin call `POST /_sandbox/sweep?wait=true`: every live link is verified against what is
 * in place now; only links with drift go to the reconcile workflow, which repairs the
 * difference and says per link what it changed. People's rules are left alone, and a sweep
 * with nothing to repair makes no mutating call and starts no reconcile.
 *
 * The sandbox's CloudTrail is kept off the bus: the sweep must find what the events missed.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  DeleteNatGatewayCommand,
  DescribeNatGatewaysCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import {
  DescribeClusterCommand,
  DescribeUpdateCommand,
  EKSClient,
  UpdateClusterConfigCommand,
} from '@aws-sdk/client-eks';
import { AttachRolePolicyCommand, DetachRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxPlugin } from '#local/adapters/sdk-plugin';
import { demoRequest, type Harness, startHarness } from './harness';

const SOURCE = '111111111111';
const TARGET = '222222222222';
const REGION = 'ap-southeast-1';
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';

let h: Harness;
/** The demo link: the source's NAT IPs in cluster-b's publicAccessCidrs. */
let natLink: any;
/** Another workload's link to cluster-b with a private CIDR: a tcp/443 rule on the cluster security group. */
let ruleLink: any;
let sourceEc2: EC2Client;
let targetEc2: EC2Client;
let targetEks: EKSClient;

/** The platform team's own hands on an account: root credentials, not Tether's. */
function asRoot<T extends EC2Client | EKSClient>(
  make: (c: object) => T,
  accountId: string,
  service: 'ec2' | 'eks',
): T {
  const client = make({ region: REGION, credentials: h.rt.sandbox.rootCredentials(accountId) });
  client.middlewareStack.use(sandboxPlugin(h.rt.sandbox, service, client.config as never) as never);
  return client;
}

beforeAll(async () => {
  h = await startHarness({ cloudTrailEvents: false });
  natLink = await h.settle((await h.api('POST', '/links', demoRequest())).body.links[0].id);
  const body = demoRequest({
    source: { ...demoRequest().source, namespace: 'batch', serviceAccount: 'reporter' },
    network: { mode: 'cidrs', cidrs: ['10.30.1.0/24'] },
  });
  const waiting = (await h.api('POST', '/links', body)).body.links[0];
  expect((await h.approve(waiting, 'private CIDR of the reporting VPC')).status).toBe(202);
  ruleLink = await h.settle(waiting.id);
  expect([natLink.status, ruleLink.status]).toEqual(['ACTIVE', 'ACTIVE']);
  sourceEc2 = asRoot((c) => new EC2Client(c), SOURCE, 'ec2');
  targetEc2 = asRoot((c) => new EC2Client(c), TARGET, 'ec2');
  targetEks = asRoot((c) => new EKSClient(c), TARGET, 'eks');
});
afterAll(async () => {
  await h?.close();
});

async function publicAccessCidrs(): Promise<string[]> {
  const cluster = (await targetEks.send(new DescribeClusterCommand({ name: 'cluster-b' }))).cluster;
  return [...(cluster?.resourcesVpcConfig?.publicAccessCidrs ?? [])].sort();
}

async function setPublicAccessCidrs(cidrs: string[]) {
  const { update } = await targetEks.send(
    new UpdateClusterConfigCommand({ name: 'cluster-b', resourcesVpcConfig: { publicAccessCidrs: cidrs } }),
  );
  for (let i = 0; i < 3; i++)
    await targetEks.send(new DescribeUpdateCommand({ name: 'cluster-b', updateId: update?.id }));
}

async function ingressRules(): Promise<SecurityGroupRule[]> {
  const groupId = ruleLink.outputs.egress.securityGroupId as string;
  const rules =
    (
      await targetEc2.send(
        new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
      )
    ).SecurityGroupRules ?? [];
  return rules.filter((r) => !r.IsEgress);
}

const sweep = async () => {
  const res = await h.api('POST', '/_sandbox/sweep?wait=true');
  expect(res.status).toBe(200);
  return res.body;
};

describe('the drift sweep', () => {
  it('makes no mutating call and starts no reconcile when nothing drifted, and writes a verification only when it changed', async () => {
    // Arrange: a first sweep records each link's verification (they had none).
    const first = await sweep();
    expect(first.verificationsWritten).toBe(2);
    h.rt.sandbox.resetCalls();
    const executions = h.rt.stepFunctions.listExecutions({}).executions.length;

    // Act
    const report = await sweep();

    // Assert
    expect(report).toMatchObject({
      checked: 2,
      drifted: [],
      reconciles: [],
      errors: [],
      verificationsWritten: 0,
    });
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(0);
    expect(h.rt.stepFunctions.listExecutions({}).executions.length).toBe(executions);
    const stored = (await h.api('GET', `/links/${natLink.id}`)).body.verification;
    expect(stored).toMatchObject({ ok: true, by: 'tether:drift-sweep' });
    expect(stored.hops.map((x: any) => x.hop)).toContain('kubernetes-verb');
  });

  it("puts back a NAT IP taken out of the target's publicAccessCidrs, leaving the other team's CIDR alone", async () => {
    // Arrange: someone removes one of Tether's /32s from cluster-b's public endpoint.
    const before = await publicAccessCidrs();
    await setPublicAccessCidrs(before.filter((c) => c !== '18.0.37.11/32'));

    // Act
    const report = await sweep();

    // Assert
    expect(report.drifted).toEqual([
      expect.objectContaining({
        linkId: natLink.id,
        reconcile: true,
        failed: [
          expect.objectContaining({ hop: 'network', detail: expect.stringContaining('18.0.37.11/32') }),
        ],
      }),
    ]);
    expect(report.outcomes).toEqual([
      { linkId: natLink.id, status: 'ACTIVE', changed: [{ step: 'egress', action: 'updated' }] },
    ]);
    expect(await publicAccessCidrs()).toEqual(before);
    expect(before).toContain('203.0.113.0/24');
    const after = await h.api('GET', `/links/${natLink.id}`);
    expect(after.body.lastExecution.workflow).toBe('reconcile');
    expect(after.body.verification.ok).toBe(false); // what the sweep found; the next sweep records it holds again
    expect((await sweep()).drifted).toEqual([]);
    expect((await h.api('GET', `/links/${natLink.id}`)).body.verification.ok).toBe(true);
  });

  it('makes again a deleted Tether security-group rule, and leaves a rule people made alone', async () => {
    // Arrange: the Tether rule for 10.30.1.0/24 is revoked by hand; someone adds their own rule.
    const groupId = ruleLink.outputs.egress.securityGroupId as string;
    const tether = (await ingressRules()).find((r) => r.CidrIpv4 === '10.30.1.0/24');
    expect(tether).toBeDefined();
    await targetEc2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: groupId,
        SecurityGroupRuleIds: [tether?.SecurityGroupRuleId ?? ''],
      }),
    );
    await targetEc2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '192.168.7.0/24' }] },
        ],
      }),
    );
    const theirs = (await ingressRules()).find((r) => r.CidrIpv4 === '192.168.7.0/24');

    // Act
    const report = await sweep();

    // Assert
    expect(report.drifted.map((d: any) => d.linkId)).toEqual([ruleLink.id]);
    expect(report.drifted[0].failed[0].detail).toContain('no tcp/443 rule');
    expect(report.outcomes).toEqual([
      {
        linkId: ruleLink.id,
        status: 'ACTIVE',
        changed: [{ step: 'egress', action: expect.stringMatching(/^(updated|created)/) }],
      },
    ]);
    const rules = await ingressRules();
    expect(rules.filter((r) => r.CidrIpv4 === '10.30.1.0/24' && r.FromPort === 443)).toHaveLength(1);
    expect(rules.find((r) => r.CidrIpv4 === '192.168.7.0/24')).toEqual(theirs);
  });

  it('takes out the allowance of a NAT IP the source no longer uses', async () => {
    // Arrange: the source's platform team deletes a NAT gateway; no event reaches Tether.
    const gateways = (await sourceEc2.send(new DescribeNatGatewaysCommand({}))).NatGateways ?? [];
    const gone = gateways.find((g) => g.NatGatewayAddresses?.some((a) => a.PublicIp === '18.0.38.139'));
    await sourceEc2.send(new DeleteNatGatewayCommand({ NatGatewayId: gone?.NatGatewayId }));
    await sourceEc2.send(new DescribeNatGatewaysCommand({})); // deleting → deleted

    // Act
    const report = await sweep();

    // Assert
    expect(report.drifted).toEqual([
      expect.objectContaining({
        linkId: natLink.id,
        failed: [
          expect.objectContaining({
            hop: 'network-stale-allowance',
            detail: expect.stringMatching(/^18\.0\.38\.139\/32 still let in/),
          }),
        ],
      }),
    ]);
    expect(report.outcomes).toEqual([
      { linkId: natLink.id, status: 'ACTIVE', changed: [{ step: 'egress', action: 'updated' }] },
    ]);
    expect(await publicAccessCidrs()).toEqual(['18.0.35.117/32', '18.0.37.11/32', '203.0.113.0/24']);
    expect((await h.api('GET', `/links/${natLink.id}`)).body.outputs.egress.cidrs).toEqual([
      '18.0.35.117/32',
      '18.0.37.11/32',
    ]);
  });

  it('sends a DEGRADED link again only when what fails changes, and brings it back once its chain holds', async () => {
    // Arrange: someone attaches AdministratorAccess to the demo link's target role; the reconcile cannot undo that.
    const iam = h.rt.clients.iam(TARGET);
    const roleName = String(natLink.outputs.targetRoleArn).split('/').at(-1);
    await iam.send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: ADMIN }));
    const found = await sweep();
    expect(found.drifted).toEqual([
      expect.objectContaining({
        linkId: natLink.id,
        why: 'drift',
        reconcile: true,
        failed: [expect.objectContaining({ hop: 'target-role-extras' })],
      }),
    ]);
    expect(found.outcomes).toEqual([{ linkId: natLink.id, status: 'DEGRADED', changed: [] }]);

    // Act 1: the same failure an hour later.
    h.rt.sandbox.resetCalls();
    const again = await sweep();

    // Assert 1: reported, not sent again, nothing written, nothing changed.
    expect(again.drifted).toEqual([
      expect.objectContaining({ linkId: natLink.id, status: 'DEGRADED', reconcile: false }),
    ]);
    expect(again).toMatchObject({ reconciles: [], verificationsWritten: 0 });
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(0);

    // Act 2: the extra is taken away by hand.
    await iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: ADMIN }));
    const back = await sweep();

    // Assert 2
    expect(back.drifted).toEqual([
      expect.objectContaining({
        linkId: natLink.id,
        why: 'degraded-holds-again',
        reconcile: true,
        failed: [],
      }),
    ]);
    expect(back.outcomes).toEqual([{ linkId: natLink.id, status: 'ACTIVE', changed: [] }]);
  });
});

describe('the drift sweep on a timer (TETHER_SWEEP_MINUTES for npm start)', () => {
  it('sweeps by itself when the runtime is started with an interval, and records what it verified', async () => {
    // Arrange
    const timed = await startHarness({ cloudTrailEvents: false, sweepIntervalMs: 20 });
    try {
      const link = await timed.settle((await timed.api('POST', '/links', demoRequest())).body.links[0].id);
      expect(link.status).toBe('ACTIVE');

      // Act: wait for a sweep of its own.
      const deadline = Date.now() + 20_000;
      let verification: any;
      while (!verification && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        verification = (await timed.api('GET', `/links/${link.id}`)).body.verification;
      }

      // Assert
      expect(verification).toMatchObject({ ok: true, by: 'tether:drift-sweep' });
    } finally {
      await timed.close();
    }
  });
});
