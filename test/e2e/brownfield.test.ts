/**
 * Brownfield: what a person already made by hand is adopted, not refused, when it already
 * gives what the link needs, and Tether never changes or removes it. A NAT IP someone put in
 * the public endpoint's publicAccessCidrs; a tcp/443 rule for a private CIDR (the
 * cross-account IRSA runbook's step 6 done by hand); an access entry that grants exactly the
 * asked-for access. Anything else a person made stays a conflict.
 */
import { AuthorizeSecurityGroupIngressCommand, DescribeSecurityGroupRulesCommand } from '@aws-sdk/client-ec2';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DeleteAccessEntryCommand,
  DescribeAccessEntryCommand,
  DescribeClusterCommand,
  DescribeUpdateCommand,
  UpdateClusterConfigCommand,
} from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Link } from '#link/model';
import { verifyChain } from '#resources/verify';
import { demoRequest, type Harness, startHarness } from './harness';
import { neededOwners, presentOwners, tetherResources } from './invariants';
import { byHand, workloadIdentityOnTarget } from './probe';

const TARGET = '222222222222';
const REGION = 'ap-southeast-1';
const NAT_IPS = ['18.0.35.117', '18.0.37.11', '18.0.38.139'];
const BY_HAND = '18.0.37.11/32';
const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';

async function publicAccessCidrs(h: Harness): Promise<string[]> {
  const cluster = (
    await byHand(h.rt.sandbox, TARGET, REGION).eks.send(new DescribeClusterCommand({ name: 'cluster-b' }))
  ).cluster;
  return [...(cluster?.resourcesVpcConfig?.publicAccessCidrs ?? [])];
}

async function assertNoOrphanNothingMissing(h: Harness, othersPublicCidrs: string[] = []) {
  const live = (await h.rt.links.list({}, 100)).items.filter((l) => l.status === 'ACTIVE');
  expect([...presentOwners(tetherResources(h.rt.sandbox, othersPublicCidrs))].sort()).toEqual(
    [...neededOwners(live)].sort(),
  );
}

describe('a NAT IP a person put in the public endpoint’s publicAccessCidrs before the link', () => {
  let h: Harness;
  let link: any;

  beforeAll(async () => {
    h = await startHarness();
    const eks = byHand(h.rt.sandbox, TARGET, REGION).eks;
    const { update } = await eks.send(
      new UpdateClusterConfigCommand({
        name: 'cluster-b',
        resourcesVpcConfig: { publicAccessCidrs: ['203.0.113.0/24', BY_HAND] },
      }),
    );
    for (let i = 0; i < 2; i++)
      await eks.send(new DescribeUpdateCommand({ name: 'cluster-b', updateId: update?.id }));
    expect(await publicAccessCidrs(h)).toEqual(['203.0.113.0/24', BY_HAND]);
    link = await h.settle((await h.api('POST', '/links', demoRequest())).body.links[0].id);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is adopted: the link ends ACTIVE, adds only the other NAT IPs and records that one as not managed', async () => {
    expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
    expect(link.steps.egress.result.publicAccess.adopted).toEqual({ [BY_HAND]: BY_HAND });
    expect(link.steps.egress.result.publicAccess.added.sort()).toEqual(
      NAT_IPS.map((ip) => `${ip}/32`)
        .filter((c) => c !== BY_HAND)
        .sort(),
    );
    expect(link.outputs.egress.publicAccess.adopted).toEqual({ [BY_HAND]: BY_HAND });
    const network = link.steps.verify.result.hops.find((x: any) => x.hop === 'network');
    expect(network).toMatchObject({ ok: true });
    expect(await publicAccessCidrs(h)).toEqual([
      '203.0.113.0/24',
      BY_HAND,
      ...NAT_IPS.map((ip) => `${ip}/32`).filter((c) => c !== BY_HAND),
    ]);
    await assertNoOrphanNothingMissing(h, [BY_HAND]);
  });

  it('is never removed: offboard takes out only what Tether put there and says it left that one', async () => {
    await h.api('DELETE', `/links/${link.id}`);
    const deleted = await h.settle(link.id);
    expect(deleted.status).toBe('DELETED');
    expect(deleted.steps.revokeEgress.result.rules).toContainEqual({
      cidr: BY_HAND,
      place: 'public-access-cidrs',
      action: 'left-unmanaged',
      note: 'allowed by an existing rule, not managed',
    });
    expect(await publicAccessCidrs(h)).toEqual(['203.0.113.0/24', BY_HAND]);
  });
});

describe('a tcp/443 rule a person made for a private CIDR before the link', () => {
  let h: Harness;
  let link: any;
  let groupId: string;
  let handRuleId: string;
  const PRIVATE = ['10.50.0.0/24', '10.51.0.0/24'];
  const HAND = '10.51.0.0/24';

  beforeAll(async () => {
    h = await startHarness();
    groupId =
      h.rt.sandbox.state().accounts[TARGET]?.regions[REGION]?.eks.clusters['cluster-b']
        ?.clusterSecurityGroupId ?? '';
    const out = await byHand(h.rt.sandbox, TARGET, REGION).ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: HAND }] }],
      }),
    );
    handRuleId = out.SecurityGroupRules?.[0]?.SecurityGroupRuleId ?? '';
    const body = demoRequest({ network: { mode: 'cidrs', cidrs: PRIVATE } });
    const asked = await h.api('POST', '/links', body);
    expect(asked.status, JSON.stringify(asked.body)).toBe(202);
    const waiting = asked.body.links[0];
    // Explicit CIDRs wait for an approver under the default policies: the target's owner approves.
    const approval = await h.approve(waiting, 'brownfield test');
    expect(approval.status, JSON.stringify(approval.body)).toBe(202);
    link = await h.settle(waiting.id);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is adopted, and never revoked by the offboard', async () => {
    expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
    expect(link.outputs.egress.adopted).toEqual({ [HAND]: handRuleId });
    expect(link.steps.egress.result.created).toEqual(['10.50.0.0/24']);
    await h.api('DELETE', `/links/${link.id}`);
    const deleted = await h.settle(link.id);
    expect(deleted.steps.revokeEgress.result.rules).toContainEqual({
      cidr: HAND,
      action: 'left-unmanaged',
      ruleId: handRuleId,
      note: 'allowed by an existing rule, not managed',
    });
    const rules =
      (
        await byHand(h.rt.sandbox, TARGET, REGION).ec2.send(
          new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
        )
      ).SecurityGroupRules ?? [];
    expect(rules.filter((r) => PRIVATE.includes(r.CidrIpv4 ?? '')).map((r) => r.SecurityGroupRuleId)).toEqual(
      [handRuleId],
    );
  });
});

describe('an access entry a person made for the target role', () => {
  let h: Harness;
  let link: Link;
  const principal = () => link.outputs.targetRoleArn ?? '';
  const eks = () => byHand(h.rt.sandbox, TARGET, REGION).eks;

  /** Replaces Tether's entry with one made by hand (untagged, EKS's default username), granting `policyArn`. */
  async function entryByHand(policyArn: string) {
    await eks().send(new DeleteAccessEntryCommand({ clusterName: 'cluster-b', principalArn: principal() }));
    await eks().send(new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: principal() }));
    await eks().send(
      new AssociateAccessPolicyCommand({
        clusterName: 'cluster-b',
        principalArn: principal(),
        policyArn,
        accessScope: { type: 'cluster' },
      }),
    );
    return (
      await eks().send(
        new DescribeAccessEntryCommand({ clusterName: 'cluster-b', principalArn: principal() }),
      )
    ).accessEntry!;
  }

  beforeAll(async () => {
    h = await startHarness();
    const settled = await h.settle((await h.api('POST', '/links', demoRequest())).body.links[0].id);
    link = await h.rt.links.get(settled.id);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is adopted when it grants exactly the asked-for access: the reconcile changes nothing and the link is ACTIVE', async () => {
    // Arrange
    const entry = await entryByHand(VIEW);
    h.rt.sandbox.resetCalls();
    // Act
    await h.api('POST', `/links/${link.id}/reconcile`);
    const after = await h.settle(link.id);
    // Assert
    expect(after.status, JSON.stringify(after.error)).toBe('ACTIVE');
    expect(after.steps.accessEntry.result).toMatchObject({
      action: 'uses-existing-unmanaged',
      note: 'grants exactly the requested access; made by someone else, not managed',
      accessEntryArn: entry.accessEntryArn,
    });
    expect(h.rt.sandbox.callCounts({ accountId: TARGET, service: 'eks', mutating: true })).toBe(0);
    expect((await workloadIdentityOnTarget(h.rt.sandbox, link)).username).toBe(
      `arn:aws:sts::${TARGET}:assumed-role/${principal().split('/').pop()}/kubectl`,
    );
    expect((await verifyChain(await h.rt.links.get(link.id), h.rt.clients)).every((x) => x.ok)).toBe(true);
    await assertNoOrphanNothingMissing(h);
  });

  it('stays a conflict when it grants more than asked: the reconcile leaves the link DEGRADED and the entry as it was', async () => {
    // Arrange
    const entry = await entryByHand('arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy');
    // Act
    await h.api('POST', `/links/${link.id}/reconcile`);
    const after = await h.settle(link.id);
    // Assert: a reconcile undoes nothing; it says what it cannot repair.
    expect(after.status).toBe('DEGRADED');
    expect(after.error).toMatchObject({ code: 'CONFLICT_UNMANAGED_RESOURCE', step: 'accessEntry' });
    expect(after.error.message).toContain('AmazonEKSClusterAdminPolicy');
    expect(after.steps.removeAccessEntry).toBeUndefined();
    const still = (
      await eks().send(
        new DescribeAccessEntryCommand({ clusterName: 'cluster-b', principalArn: principal() }),
      )
    ).accessEntry;
    expect(still).toEqual(entry);
  });
});

describe('an aws-auth mapping a person wrote for the target role (CONFIG_MAP cluster)', () => {
  let h: Harness;
  let link: Link;
  const person = () => h.rt.sandbox.rootCredentials('333333333333');
  const kube = (operation: string, input: Record<string, unknown>) =>
    h.rt.sandbox.invoke(
      'kubernetes',
      operation,
      { clusterName: 'cluster-c', namespace: 'kube-system', name: 'aws-auth', ...input },
      { accessKeyId: person().accessKeyId, region: 'eu-west-1' },
    ) as Promise<any>;

  beforeAll(async () => {
    h = await startHarness();
    const res = await h.api(
      'POST',
      '/links',
      demoRequest({
        targets: [
          {
            accountId: '333333333333',
            region: 'eu-west-1',
            cluster: 'cluster-c',
            access: { groups: ['readers'] },
          },
        ],
      }),
    );
    const settled = await h.settle(res.body.links[0].id);
    expect(settled.status).toBe('ACTIVE');
    link = await h.rt.links.get(settled.id);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is adopted when it maps exactly the asked-for groups, and offboard leaves it', async () => {
    // Arrange: the person rewrites Tether's mapping under their own username.
    const { configMap } = await kube('GetConfigMap', {});
    const rolearn = link.outputs.access?.rolearn as string;
    const mapRoles = (configMap.data.mapRoles as string).replace(
      /username: tether:\S+/,
      'username: chatbot-by-hand',
    );
    expect(mapRoles).toContain('username: chatbot-by-hand');
    await kube('ReplaceConfigMap', {
      data: { ...configMap.data, mapRoles },
      resourceVersion: configMap.metadata.resourceVersion,
    });
    // Act
    await h.api('POST', `/links/${link.id}/reconcile`);
    const after = await h.settle(link.id);
    // Assert
    expect(after.status, JSON.stringify(after.error)).toBe('ACTIVE');
    expect(after.steps.accessEntry.result).toMatchObject({
      kind: 'aws-auth',
      action: 'uses-existing-unmanaged',
      rolearn,
      username: 'chatbot-by-hand',
    });
    expect((await workloadIdentityOnTarget(h.rt.sandbox, link)).username).toBe('chatbot-by-hand');
    await h.api('DELETE', `/links/${link.id}`);
    const deleted = await h.settle(link.id);
    expect(deleted.steps.removeAccessEntry.result.action).toBe('left-unmanaged');
    expect((await kube('GetConfigMap', {})).configMap.data.mapRoles).toBe(mapRoles);
  });
});
