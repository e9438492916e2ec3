/**
 * Many sources on one cluster security group, end to end through the HTTP API (issue 13 item 1):
 * a source VPC whose private NAT gateways (ConnectivityType private: what a peered or Transit
 * Gateway attached network sees) hold 70 addresses, toward a target whose private endpoint
 * the cluster security group governs and whose group already holds other teams' rules.
 *
 * - At the default quota (60 inbound rules), the plan names `security-group-inbound-rules`
 *   with its figures and source, `POST /links` refuses with 422 and changes nothing.
 * - Once the account's quota is raised in Service Quotas (vpc/L-0EA8095F), the same request
 *   makes one tcp/443 rule per address, in one call, and the link is ACTIVE; the others'
 *   rules are kept; offboarding takes exactly Tether's rules away.
 * - A prefix list is never used: AWS counts a referenced list as its MaxEntries, so it could
 *   not fit what plain rules do not (docs/aws-facts.md#security-group-and-prefix-list-quotas).
 */
import { AuthorizeSecurityGroupIngressCommand, DescribeSecurityGroupRulesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRequest, type Harness, startHarness } from './harness';
import { byHand } from './probe';

const SOURCE = '111111111111';
const TARGET = '222222222222';
const REGION = 'ap-southeast-1';
const PRIVATE_NAT_IPS = Array.from({ length: 70 }, (_, i) => `10.61.${Math.floor(i / 10)}.${10 + (i % 10)}`);
const OTHERS = Array.from({ length: 5 }, (_, i) => `172.20.${i}.0/24`);

let h: Harness;
let groupId: string;
let body: Record<string, unknown>;

async function inboundRules() {
  const out = await byHand(h.rt.sandbox, TARGET, REGION).ec2.send(
    new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
  );
  return (out.SecurityGroupRules ?? []).filter((r) => !r.IsEgress);
}

beforeAll(async () => {
  h = await startHarness({ cloudTrailEvents: false });
  h.rt.sandbox.addEksCluster({
    accountId: SOURCE,
    region: REGION,
    name: 'private-nat-src',
    authenticationMode: 'API',
    vpc: { natIps: [], privateNatIps: PRIVATE_NAT_IPS },
  });
  const target = h.rt.sandbox.addEksCluster({
    accountId: TARGET,
    region: REGION,
    name: 'private-target',
    authenticationMode: 'API',
    endpointPublicAccess: false,
  });
  groupId = target.clusterSecurityGroupId;
  // Other teams' rules on the group, made by hand.
  await byHand(h.rt.sandbox, TARGET, REGION).ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: groupId,
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: OTHERS.map((CidrIp) => ({ CidrIp })) },
      ],
    }),
  );
  body = demoRequest({
    source: {
      ...demoRequest().source,
      cluster: 'private-nat-src',
      namespace: 'batch',
      serviceAccount: 'batch',
    },
    targets: [{ ...demoRequest().targets[0], cluster: 'private-target' }],
  });
}, 60_000);
afterAll(async () => {
  await h?.close();
});

describe('70 private NAT addresses toward one cluster security group', () => {
  it('plans the rules on the group and refuses them at the default quota, with the figures, changing nothing', async () => {
    // Arrange
    const before = (await inboundRules()).length;
    h.rt.sandbox.resetCalls();

    // Act
    const plan = await h.api('POST', '/plans', body);
    const post = await h.api('POST', '/links', body);

    // Assert
    expect(plan.status, JSON.stringify(plan.body)).toBe(200);
    const check = plan.body.targets[0].checks.find(
      (c: { check: string }) => c.check === 'security-group-inbound-rules',
    );
    expect(check).toMatchObject({
      scope: groupId,
      ok: false,
      used: before,
      after: before + 70,
      limit: 60,
      limitSource: 'Service Quotas applied value (vpc/L-0EA8095F)',
    });
    expect(check.detail).toContain('a prefix list would count as its MaxEntries and not help');
    expect([post.status, post.body.code]).toEqual([422, 'QUOTA_EXCEEDED']);
    expect(post.body.plan.targets[0].checks).toContainEqual(
      expect.objectContaining({ check: check.check, ok: false }),
    );
    expect(h.rt.sandbox.calls().filter((c) => c.mutating)).toEqual([]);
    const listed = await h.api('GET', '/links');
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([]);
  });

  it('makes one rule per address once the quota is raised in Service Quotas, keeping the others’ rules', async () => {
    // Arrange
    h.rt.sandbox.setServiceQuota(TARGET, REGION, 'vpc', 'L-0EA8095F', 120);
    h.rt.sandbox.resetCalls();

    // Act
    const res = await h.api('POST', '/links', body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const link = await h.settle(res.body.links[0].id);

    // Assert
    expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
    expect(link.outputs.egress.effectiveAt).toBe('cluster-security-group');
    expect(link.outputs.egress.securityGroupCidrs).toEqual(PRIVATE_NAT_IPS.map((ip) => `${ip}/32`).sort());
    const rules = await inboundRules();
    const tether = rules.filter((r) => r.Tags?.some((t) => t.Key === 'tether:managed' && t.Value === 'true'));
    expect(tether.map((r) => r.CidrIpv4).sort()).toEqual(PRIVATE_NAT_IPS.map((ip) => `${ip}/32`).sort());
    expect(tether.every((r) => r.IpProtocol === 'tcp' && r.FromPort === 443 && r.ToPort === 443)).toBe(true);
    expect(rules.filter((r) => OTHERS.includes(r.CidrIpv4 ?? ''))).toHaveLength(OTHERS.length);
    expect(rules.some((r) => r.PrefixListId)).toBe(false);
    const authorizes = h.rt.sandbox
      .calls()
      .filter((c) => c.ok && c.operation === 'AuthorizeSecurityGroupIngress' && c.accountId === TARGET);
    expect(authorizes).toHaveLength(1);

    // Offboard: exactly Tether's rules go.
    expect((await h.api('DELETE', `/links/${link.id}`)).status).toBe(202);
    expect((await h.settle(link.id)).status).toBe('DELETED');
    const left = await inboundRules();
    expect(left.filter((r) => r.Tags?.some((t) => t.Key === 'tether:managed'))).toEqual([]);
    expect(left.filter((r) => OTHERS.includes(r.CidrIpv4 ?? ''))).toHaveLength(OTHERS.length);
  });
});
