/**
 * The egress allowance (`#resources/egress-allowance`), against the sandbox and the
 * embedded table: one tcp/443 rule per source CIDR on the target's cluster security group,
 * tagged with its own owner key, shared by the links that need it (membership `EGRESS#…`),
 * revoked with the last of them; a rule Tether did not make is never changed or counted.
 */
import { AuthorizeSecurityGroupIngressCommand, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrentUpdateError, QuotaExceededError, UnsupportedClusterError } from '#link/errors';
import type { ClusterRef, Link, Network } from '#link/model';
import {
  allowanceEffect,
  desiredCidrs,
  EGRESS_PORT,
  egressStep,
  revokeEgressStep,
  revokeOwnedRule,
} from '#resources/egress-allowance';
import { type Resolved, resolvedOf } from '#resources/resolve';
import { REMOVAL_LEASE_MS } from '#store/memberships';
import { membership } from '#store/table';
import {
  DEMO_NAT_CIDRS,
  ingressRulesOf,
  linkOf,
  newCluster,
  newSpec,
  observe,
  REGION,
  resolvedLink,
  rootClients,
  SOURCE_ACCOUNT,
  startSandboxRuntime,
  TARGET_ACCOUNT,
  tagMap,
  withOutputs,
  type SandboxRuntime,
} from './support';

let rt: SandboxRuntime;

beforeAll(async () => {
  rt = await startSandboxRuntime();
});
afterAll(async () => {
  await rt?.close();
});

const [NAT_A, NAT_B, NAT_C] = DEMO_NAT_CIDRS as [string, string, string];
const NEW_NAT = '18.0.40.1/32';

/** A new target cluster, so a security group no other test uses. */
function newTarget() {
  const { ids, ref } = newCluster(rt.sandbox, { accountId: TARGET_ACCOUNT });
  return { ref, groupId: ids.clusterSecurityGroupId };
}

/** A resolved link of a new workload of cluster-a to `target`. */
const linkTo = (target: ClusterRef, network: Network = { mode: 'nat' }) =>
  resolvedLink(rt.runtime, newSpec({ target, network }));

/** The link as the workflow passes it on: with the outputs the step recorded. */
async function egressOf(link: Link): Promise<Link> {
  return withOutputs(link, (await egressStep(link, rt.runtime)).outputs ?? {});
}

/** The link after a later resolve found other NAT IPs in the source VPC. */
function withNatIps(link: Link, natCidrs: string[]): Link {
  const resolved = resolvedOf(link);
  const natIps = natCidrs.map((c) => c.replace('/32', ''));
  return withOutputs(link, { resolved: { ...resolved, source: { ...resolved.source, natIps } } });
}

/** The rule of each CIDR, as the egress step recorded them on the link. */
const ruleIdsOf = (link: Link) => (link.outputs.egress as { ruleIds: Record<string, string> }).ruleIds;
const rulesOf = (groupId: string) => ingressRulesOf(rt.sandbox, TARGET_ACCOUNT, REGION, groupId);
const tetherCidrsOf = (groupId: string) =>
  rulesOf(groupId)
    .filter((r) => tagMap(r.Tags)['tether:managed'] === 'true')
    .map((r) => r.CidrIpv4)
    .sort();
const membersOf = async (groupId: string, cidr: string) =>
  (await rt.runtime.memberships.members(membership.egress(TARGET_ACCOUNT, REGION, groupId, cidr))).map(
    (m) => m.linkId,
  );
const ec2 = () => rootClients(rt.sandbox, TARGET_ACCOUNT).ec2;

/** Adds a tcp rule to the group as someone other than Tether. */
async function unmanagedRule(groupId: string, cidrs: string[], protocol = 'tcp', port = EGRESS_PORT) {
  await ec2().send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: groupId,
      IpPermissions: [
        {
          IpProtocol: protocol,
          ...(protocol === '-1' ? {} : { FromPort: port, ToPort: port }),
          IpRanges: cidrs.map((CidrIp) => ({ CidrIp })),
        },
      ],
    }),
  );
}

const TARGET_VIEW: Resolved['target'] = {
  clusterArn: 'arn:aws:eks:ap-southeast-1:222222222222:cluster/c',
  endpoint: 'https://c',
  certificateAuthority: 'ca',
  authenticationMode: 'API',
  vpcId: 'vpc-1',
  endpointPublicAccess: true,
  endpointPrivateAccess: true,
  publicAccessCidrs: ['0.0.0.0/0'],
};

describe('desiredCidrs', () => {
  it.each([
    [{ mode: 'nat' }, [NAT_A, NAT_B]],
    [{ mode: 'cidrs', cidrs: ['10.1.0.0/16', '10.0.0.0/16', '10.1.0.0/16'] }, ['10.0.0.0/16', '10.1.0.0/16']],
    [{ mode: 'none' }, []],
  ] as [Network, string[]][])('gives for network %j the CIDRs %j', (network, expected) => {
    // Arrange
    const resolved = { source: { natIps: ['18.0.35.117', '18.0.37.11'] } } as unknown as Resolved;

    // Act
    const cidrs = desiredCidrs(newSpec({ network }), resolved);

    // Assert
    expect(cidrs).toEqual(expected);
  });
});

describe('allowanceEffect', () => {
  it.each([
    ['open to all', {}, { securityGroupGoverns: 'private-endpoint', publicEndpoint: 'open-to-all' }],
    [
      'restricted by publicAccessCidrs',
      { publicAccessCidrs: ['203.0.113.0/24'] },
      {
        securityGroupGoverns: 'private-endpoint',
        publicEndpoint: 'restricted-by-publicAccessCidrs',
        publicAccessCidrs: ['203.0.113.0/24'],
      },
    ],
    [
      'disabled',
      { endpointPublicAccess: false },
      { securityGroupGoverns: 'private-endpoint', publicEndpoint: 'disabled' },
    ],
    [
      'public only',
      { endpointPrivateAccess: false },
      {
        securityGroupGoverns: 'nothing-reachable (private endpoint disabled)',
        publicEndpoint: 'open-to-all',
      },
    ],
  ])('says where the rule takes effect when the public endpoint is %s', (_case, overrides, expected) => {
    // Act
    const effect = allowanceEffect({ ...TARGET_VIEW, ...overrides });

    // Assert
    expect(effect).toEqual(expected);
  });
});

describe('egressStep', () => {
  it('lets each NAT IP in on tcp/443, one rule per CIDR, each tagged with its own owner key', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const link = await linkTo(ref);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    const mine = rulesOf(groupId).filter((r) => r.CidrIpv4);
    expect(mine.map((r) => [r.CidrIpv4, r.IpProtocol, r.FromPort, r.ToPort]).sort()).toEqual(
      DEMO_NAT_CIDRS.map((c) => [c, 'tcp', 443, 443]),
    );
    for (const rule of mine) {
      expect(tagMap(rule.Tags)).toEqual({
        'tether:managed': 'true',
        'tether:owner': `egress:${groupId}/${rule.CidrIpv4}`,
      });
    }
    expect(value?.result).toMatchObject({
      securityGroupId: groupId,
      cidrs: DEMO_NAT_CIDRS,
      created: DEMO_NAT_CIDRS,
      unchanged: [],
    });
    expect(value?.outputs).toEqual({
      egress: {
        securityGroupId: groupId,
        cidrs: DEMO_NAT_CIDRS,
        ruleIds: Object.fromEntries(mine.map((r) => [r.CidrIpv4, r.SecurityGroupRuleId])),
        securityGroupGoverns: 'private-endpoint',
        publicEndpoint: 'open-to-all',
      },
    });
    expect(mutations).toEqual(DEMO_NAT_CIDRS.map(() => 'ec2:AuthorizeSecurityGroupIngress'));
    for (const cidr of DEMO_NAT_CIDRS) expect(await membersOf(groupId, cidr)).toEqual([link.id]);
    const vpcId = resolvedOf(link).source.vpcId;
    const vpcMembers = await rt.runtime.memberships.members(
      membership.sourceVpc(SOURCE_ACCOUNT, REGION, vpcId),
    );
    expect(vpcMembers.map((m) => m.linkId)).toContain(link.id);
  });

  it('makes no mutating call when run again', async () => {
    // Arrange
    const { ref } = newTarget();
    const link = await egressOf(await linkTo(ref));

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'unchanged', created: [], unchanged: DEMO_NAT_CIDRS });
    expect(mutations).toEqual([]);
  });

  it('lets a CIDR in again when someone revoked its rule', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const link = await egressOf(await linkTo(ref));
    const victim = rulesOf(groupId).find((r) => r.CidrIpv4 === NAT_B)!;
    await ec2().send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: groupId,
        SecurityGroupRuleIds: [victim.SecurityGroupRuleId],
      }),
    );

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'updated', created: [NAT_B] });
    expect(mutations).toEqual(['ec2:AuthorizeSecurityGroupIngress']);
    expect(tetherCidrsOf(groupId)).toEqual(DEMO_NAT_CIDRS);
  });

  it('revokes the stale NAT IP and lets the new one in when the source’s NAT IPs change', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const before = await egressOf(await linkTo(ref));
    const staleRuleId = ruleIdsOf(before)[NAT_C];
    const after = withNatIps(before, [NAT_A, NAT_B, NEW_NAT]);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(after, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({
      action: 'updated',
      created: [NEW_NAT],
      released: [{ cidr: NAT_C, action: 'revoked', ruleIds: [staleRuleId] }],
    });
    expect(mutations).toEqual(['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress']);
    expect(tetherCidrsOf(groupId)).toEqual([NAT_A, NAT_B, NEW_NAT].sort());
    expect(await membersOf(groupId, NAT_C)).toEqual([]);
  });

  it('keeps a stale CIDR’s rule that another link still needs', async () => {
    // Arrange: two workloads of cluster-a share its NAT IPs on one target.
    const { ref, groupId } = newTarget();
    const first = await egressOf(await linkTo(ref));
    const second = await egressOf(await linkTo(ref));

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      egressStep(withNatIps(first, [NAT_A, NAT_B]), rt.runtime),
    );

    // Assert
    expect(value?.result).toMatchObject({ released: [{ cidr: NAT_C, action: 'kept', remainingLinks: 1 }] });
    expect(mutations).toEqual([]);
    expect(tetherCidrsOf(groupId)).toEqual(DEMO_NAT_CIDRS);
    expect(await membersOf(groupId, NAT_C)).toEqual([second.id]);
  });

  it('shares one rule per CIDR among the links that need it', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const first = await egressOf(await linkTo(ref));
    const second = await linkTo(ref);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(second, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ created: [], unchanged: DEMO_NAT_CIDRS });
    expect(value?.outputs?.egress).toMatchObject({ ruleIds: ruleIdsOf(first) });
    expect(mutations).toEqual([]);
    expect(tetherCidrsOf(groupId)).toEqual(DEMO_NAT_CIDRS);
  });

  it.each([
    ['a tcp/443 rule', 'tcp'],
    ['an all-traffic rule', '-1'],
  ])(
    'adopts %s someone else made for one of its CIDRs: recorded, never changed, no rule of its own for it',
    async (_case, protocol) => {
      // Arrange
      const { ref, groupId } = newTarget();
      const link = await linkTo(ref);
      await unmanagedRule(groupId, [NAT_B], protocol);
      const unmanaged = rulesOf(groupId).filter((r) => r.CidrIpv4 === NAT_B);

      // Act
      const { value, error } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

      // Assert
      expect(error).toBeUndefined();
      expect(JSON.stringify(value?.result)).toContain(NAT_B);
      expect(tetherCidrsOf(groupId)).not.toContain(NAT_B);
      expect(rulesOf(groupId).filter((r) => r.CidrIpv4 === NAT_B)).toEqual(unmanaged);
    },
  );

  it('lets in a CIDR that someone else allows on another port only', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const link = await linkTo(ref);
    await unmanagedRule(groupId, [NAT_A], 'tcp', 22);

    // Act
    const { value } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ created: DEMO_NAT_CIDRS });
    expect(rulesOf(groupId).filter((r) => r.CidrIpv4 === NAT_A)).toHaveLength(2);
  });

  it('checks the 60-rule quota before it makes any rule', async () => {
    // Arrange: the group's own rule plus 57 others leave room for 2 rules, not 3.
    const { ref, groupId } = newTarget();
    const link = await linkTo(ref);
    await unmanagedRule(
      groupId,
      Array.from({ length: 57 }, (_, i) => `10.9.${i}.0/24`),
      'tcp',
      8443,
    );

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(mutations).toEqual([]);
    expect(tetherCidrsOf(groupId)).toEqual([]);
  });

  it('lets in the explicit CIDRs of a cidrs network, and records no source VPC', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const link = await linkTo(ref, { mode: 'cidrs', cidrs: ['198.51.100.0/24'] });

    // Act
    const { value } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ mode: 'cidrs', created: ['198.51.100.0/24'] });
    expect(tetherCidrsOf(groupId)).toEqual(['198.51.100.0/24']);
    const vpcId = resolvedOf(link).source.vpcId;
    const vpcMembers = await rt.runtime.memberships.members(
      membership.sourceVpc(SOURCE_ACCOUNT, REGION, vpcId),
    );
    expect(vpcMembers.map((m) => m.linkId)).not.toContain(link.id);
  });

  it('makes nothing for a link with no network rule', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const link = await linkTo(ref, { mode: 'none' });

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(value?.result).toEqual({
      mode: 'none',
      cidrs: [],
      securityGroupGoverns: 'private-endpoint',
      publicEndpoint: 'open-to-all',
    });
    expect(mutations).toEqual([]);
    expect(tetherCidrsOf(groupId)).toEqual([]);
  });

  it('answers UnsupportedClusterError for a target without a cluster security group', async () => {
    // Arrange
    const link = await linkTo(newTarget().ref);
    const { clusterSecurityGroupId: _sg, ...target } = resolvedOf(link).target;
    const withoutGroup = withOutputs(link, { resolved: { ...resolvedOf(link), target } });

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => egressStep(withoutGroup, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(UnsupportedClusterError);
    expect(mutations).toEqual([]);
  });

  it('waits while another link removes the rule of one of its CIDRs', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const link = await linkTo(ref);
    await rt.runtime.memberships.acquireRemovalLock(
      membership.egress(TARGET_ACCOUNT, REGION, groupId, NAT_B),
      'lnk_leaving',
      Date.now(),
      REMOVAL_LEASE_MS,
    );

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(ConcurrentUpdateError);
    expect(mutations).toEqual([]);
  });
});

describe('revokeEgressStep', () => {
  it('revokes the link’s rules when it is their last user, and nothing else on the group', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const link = await egressOf(await linkTo(ref));
    await unmanagedRule(groupId, [NAT_A], 'tcp', 22);
    const others = rulesOf(groupId).filter((r) => tagMap(r.Tags)['tether:managed'] !== 'true');

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => revokeEgressStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({
      securityGroupId: groupId,
      rules: DEMO_NAT_CIDRS.map((cidr) => ({ cidr, action: 'revoked' })),
    });
    expect(mutations).toEqual(DEMO_NAT_CIDRS.map(() => 'ec2:RevokeSecurityGroupIngress'));
    expect(rulesOf(groupId)).toEqual(others);
    for (const cidr of DEMO_NAT_CIDRS) expect(await membersOf(groupId, cidr)).toEqual([]);
    const vpcId = resolvedOf(link).source.vpcId;
    const vpcMembers = await rt.runtime.memberships.members(
      membership.sourceVpc(SOURCE_ACCOUNT, REGION, vpcId),
    );
    expect(vpcMembers.map((m) => m.linkId)).not.toContain(link.id);
  });

  it('keeps the rules another link still needs, and revokes them with that link', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const first = await egressOf(await linkTo(ref));
    const second = await egressOf(await linkTo(ref));

    // Act
    const kept = await observe(rt.sandbox, () => revokeEgressStep(first, rt.runtime));
    const keptCidrs = tetherCidrsOf(groupId);
    const revoked = await observe(rt.sandbox, () => revokeEgressStep(second, rt.runtime));

    // Assert
    expect(kept.value?.result.rules).toEqual(
      DEMO_NAT_CIDRS.map((cidr) => ({ cidr, action: 'kept', remainingLinks: 1 })),
    );
    expect(kept.mutations).toEqual([]);
    expect(keptCidrs).toEqual(DEMO_NAT_CIDRS);
    expect(revoked.mutations).toHaveLength(3);
    expect(tetherCidrsOf(groupId)).toEqual([]);
  });

  it('answers absent for rules already gone (a re-run)', async () => {
    // Arrange
    const { ref } = newTarget();
    const link = await egressOf(await linkTo(ref));
    await revokeEgressStep(link, rt.runtime);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => revokeEgressStep(link, rt.runtime));

    // Assert
    expect(value?.result.rules).toEqual(DEMO_NAT_CIDRS.map((cidr) => ({ cidr, action: 'absent' })));
    expect(mutations).toEqual([]);
  });

  it('removes nothing for a link that was never resolved', async () => {
    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      revokeEgressStep(linkOf(newSpec()), rt.runtime),
    );

    // Assert
    expect(value).toEqual({ result: { action: 'nothing-to-remove' } });
    expect(mutations).toEqual([]);
  });
});

describe('revokeOwnedRule', () => {
  it('never revokes a rule for the CIDR that Tether did not make', async () => {
    // Arrange
    const { groupId } = newTarget();
    await unmanagedRule(groupId, [NAT_A]);
    const before = rulesOf(groupId);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      revokeOwnedRule(rt.clients.ec2(TARGET_ACCOUNT, REGION), groupId, NAT_A),
    );

    // Assert
    expect(value).toMatchObject({ cidr: NAT_A, action: 'left-unmanaged' });
    expect(mutations).toEqual([]);
    expect(rulesOf(groupId)).toEqual(before);
  });
});
