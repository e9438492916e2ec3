/**
 * Brownfield: what a person already made by hand is adopted, not refused, when it already
 * gives what the link needs, and Tether never changes or removes it. A tcp/443 rule for a NAT
 * IP (the cross-account IRSA runbook's step 6 done by hand); an access entry that grants
 * exactly the asked-for access. Anything else a person made stays a conflict.
 */
import { AuthorizeSecurityGroupIngressCommand, DescribeSecurityGroupRulesCommand } from '@aws-sdk/client-ec2';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DeleteAccessEntryCommand,
  DescribeAccessEntryCommand,
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

function clusterBGroup(h: Harness): string {
  const cluster = h.rt.sandbox.state().accounts[TARGET]?.regions[REGION]?.eks.clusters['cluster-b'];
  return cluster?.clusterSecurityGroupId ?? '';
}

async function groupRules(h: Harness, groupId: string) {
  return (
    (
      await byHand(h.rt.sandbox, TARGET, REGION).ec2.send(
        new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
      )
    ).SecurityGroupRules ?? []
  ).filter((r) => !r.IsEgress);
}

async function assertNoOrphanNothingMissing(h: Harness) {
  const live = (await h.rt.links.list({}, 100)).items.filter((l) => l.status === 'ACTIVE');
  expect([...presentOwners(tetherResources(h.rt.sandbox))].sort()).toEqual([...neededOwners(live)].sort());
}

describe('a tcp/443 rule a person made for a NAT IP before the link', () => {
  let h: Harness;
  let link: any;
  let groupId: string;
  let handRuleId: string;
  let handRule: string;

  beforeAll(async () => {
    h = await startHarness();
    groupId = clusterBGroup(h);
    const out = await byHand(h.rt.sandbox, TARGET, REGION).ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 443,
            ToPort: 443,
            IpRanges: [{ CidrIp: BY_HAND, Description: 'cluster-a NAT, step 6 by hand' }],
          },
        ],
      }),
    );
    handRuleId = out.SecurityGroupRules?.[0]?.SecurityGroupRuleId ?? '';
    handRule = JSON.stringify(
      (await groupRules(h, groupId)).find((r) => r.SecurityGroupRuleId === handRuleId),
    );
    link = await h.settle((await h.api('POST', '/links', demoRequest())).body.links[0].id);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is adopted: the link ends ACTIVE and records the CIDR as allowed by an existing rule, not managed', async () => {
    expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
    expect(link.steps.egress.result.adopted).toEqual({
      [BY_HAND]: { ruleId: handRuleId, note: 'allowed by an existing rule, not managed' },
    });
    expect(link.steps.egress.result.created.sort()).toEqual(
      NAT_IPS.map((ip) => `${ip}/32`)
        .filter((c) => c !== BY_HAND)
        .sort(),
    );
    expect(link.outputs.egress.adopted).toEqual({ [BY_HAND]: handRuleId });
    expect(Object.keys(link.outputs.egress.ruleIds)).not.toContain(BY_HAND);
    const network = link.steps.verify.result.hops.find((x: any) => x.hop === 'network');
    expect(network).toMatchObject({ ok: true });
    expect(network.detail).toContain(`${BY_HAND} allowed by an existing rule, not managed`);
    await assertNoOrphanNothingMissing(h);
  });

  it('makes no rule of its own beside it, and leaves it exactly as it was', async () => {
    const rules = await groupRules(h, groupId);
    expect(rules.filter((r) => r.CidrIpv4 === BY_HAND)).toHaveLength(1);
    expect(JSON.stringify(rules.find((r) => r.SecurityGroupRuleId === handRuleId))).toBe(handRule);
  });

  it('is never revoked: offboard removes only Tether’s rules and says it left that one', async () => {
    await h.api('DELETE', `/links/${link.id}`);
    const deleted = await h.settle(link.id);
    expect(deleted.status).toBe('DELETED');
    expect(deleted.steps.revokeEgress.result.rules).toContainEqual({
      cidr: BY_HAND,
      action: 'left-unmanaged',
      ruleId: handRuleId,
      note: 'allowed by an existing rule, not managed',
    });
    const rules = await groupRules(h, groupId);
    expect(
      rules.filter((r) => NAT_IPS.some((ip) => r.CidrIpv4 === `${ip}/32`)).map((r) => r.SecurityGroupRuleId),
    ).toEqual([handRuleId]);
    expect(JSON.stringify(rules.find((r) => r.SecurityGroupRuleId === handRuleId))).toBe(handRule);
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

  it('stays a conflict when it grants more than asked, and is left as it was', async () => {
    // Arrange
    const entry = await entryByHand('arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy');
    // Act
    await h.api('POST', `/links/${link.id}/reconcile`);
    const after = await h.settle(link.id);
    // Assert
    expect(after.status).toBe('FAILED');
    expect(after.error).toMatchObject({ code: 'CONFLICT_UNMANAGED_RESOURCE', step: 'accessEntry' });
    expect(after.error.message).toContain('AmazonEKSClusterAdminPolicy');
    expect(after.steps.removeAccessEntry.result.action).toBe('left-unmanaged');
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
