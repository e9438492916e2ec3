/**
 * The egress allowance (`#resources/egress-allowance`), against the sandbox and the
 * embedded table, where it takes effect: nothing for a public endpoint open to all; the NAT
 * /32s merged into a restricted endpoint's `publicAccessCidrs` (others' CIDRs kept, 40 at
 * most, one update at a time); a tcp/443 rule per private CIDR on the cluster security
 * group, tagged with the group's owner key. Each is shared by the links that need it and
 * goes with the last of them; what Tether did not make is never changed or counted.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateManagedPrefixListCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateClusterConfigCommand } from '@aws-sdk/client-eks';
import {
  ConcurrentUpdateError,
  EndpointNotReachableError,
  QuotaExceededError,
  UnsupportedClusterError,
} from '#link/errors';
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
import { verifyChain } from '#resources/verify';
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
/** Private CIDRs: sources that reach the private endpoint, so rules on the cluster security group. */
const SG_CIDRS = ['10.20.1.0/24', '10.20.2.0/24', '10.20.3.0/24'];
const [P_A, P_B, P_C] = SG_CIDRS as [string, string, string];
const P_NEW = '10.20.9.0/24';

/** A new target cluster, so a security group no other test uses. */
function newTarget() {
  const { ids, ref } = newCluster(rt.sandbox, { accountId: TARGET_ACCOUNT });
  return { ref, groupId: ids.clusterSecurityGroupId };
}

/** A resolved link of a new workload of cluster-a to `target`. */
const linkTo = (target: ClusterRef, network: Network = { mode: 'nat' }) =>
  resolvedLink(rt.runtime, newSpec({ target, network }));

/** A resolved link of a new workload of cluster-a to `target` from the private CIDRs (rules on the group). */
const sgLinkTo = (target: ClusterRef) => linkTo(target, { mode: 'cidrs', cidrs: SG_CIDRS });

/** The link after its request's CIDRs changed (a reconcile of a cidrs network). */
function withCidrs(link: Link, cidrs: string[]): Link {
  return { ...link, spec: { ...link.spec, network: { mode: 'cidrs', cidrs } } };
}

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

describe('egressStep on the cluster security group (private CIDRs)', () => {
  it('lets each private CIDR in on tcp/443 in one call, each rule tagged with the group’s owner key', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const link = await sgLinkTo(ref);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    const mine = rulesOf(groupId).filter((r) => r.CidrIpv4);
    expect(mine.map((r) => [r.CidrIpv4, r.IpProtocol, r.FromPort, r.ToPort]).sort()).toEqual(
      SG_CIDRS.map((c) => [c, 'tcp', 443, 443]),
    );
    for (const rule of mine) {
      expect(tagMap(rule.Tags)).toEqual({
        'tether:managed': 'true',
        'tether:owner': `egress:${groupId}`,
      });
    }
    expect(value?.result).toMatchObject({
      securityGroupId: groupId,
      cidrs: SG_CIDRS,
      created: SG_CIDRS,
      unchanged: [],
    });
    expect(value?.outputs).toEqual({
      egress: {
        mode: 'cidrs',
        effectiveAt: 'cluster-security-group',
        note: `tcp/443 from ${SG_CIDRS.join(', ')} on the cluster security group (private endpoint)`,
        securityGroupId: groupId,
        cidrs: SG_CIDRS,
        securityGroupCidrs: SG_CIDRS,
        ruleIds: Object.fromEntries(mine.map((r) => [r.CidrIpv4, r.SecurityGroupRuleId])),
        securityGroupGoverns: 'private-endpoint',
        publicEndpoint: 'open-to-all',
      },
    });
    expect(mutations).toEqual(['ec2:AuthorizeSecurityGroupIngress']);
    for (const cidr of SG_CIDRS) expect(await membersOf(groupId, cidr)).toEqual([link.id]);
  });

  it('makes no mutating call when run again', async () => {
    // Arrange
    const { ref } = newTarget();
    const link = await egressOf(await sgLinkTo(ref));

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'unchanged', created: [], unchanged: SG_CIDRS });
    expect(mutations).toEqual([]);
  });

  it('lets a CIDR in again when someone revoked its rule', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const link = await egressOf(await sgLinkTo(ref));
    const victim = rulesOf(groupId).find((r) => r.CidrIpv4 === P_B)!;
    await ec2().send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: groupId,
        SecurityGroupRuleIds: [victim.SecurityGroupRuleId],
      }),
    );

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'updated', created: [P_B] });
    expect(mutations).toEqual(['ec2:AuthorizeSecurityGroupIngress']);
    expect(tetherCidrsOf(groupId)).toEqual(SG_CIDRS);
  });

  it('revokes the stale CIDR and lets the new one in when the link’s CIDRs change', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const before = await egressOf(await sgLinkTo(ref));
    const staleRuleId = ruleIdsOf(before)[P_C];
    const after = withCidrs(before, [P_A, P_B, P_NEW]);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(after, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({
      action: 'updated',
      created: [P_NEW],
      released: [{ cidr: P_C, action: 'revoked', ruleIds: [staleRuleId] }],
    });
    expect(mutations).toEqual(['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress']);
    expect(tetherCidrsOf(groupId)).toEqual([P_A, P_B, P_NEW].sort());
    expect(await membersOf(groupId, P_C)).toEqual([]);
  });

  it('keeps a stale CIDR’s rule that another link still needs', async () => {
    // Arrange: two workloads of cluster-a share its NAT IPs on one target.
    const { ref, groupId } = newTarget();
    const first = await egressOf(await sgLinkTo(ref));
    const second = await egressOf(await sgLinkTo(ref));

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      egressStep(withCidrs(first, [P_A, P_B]), rt.runtime),
    );

    // Assert
    expect(value?.result).toMatchObject({ released: [{ cidr: P_C, action: 'kept', remainingLinks: 1 }] });
    expect(mutations).toEqual([]);
    expect(tetherCidrsOf(groupId)).toEqual(SG_CIDRS);
    expect(await membersOf(groupId, P_C)).toEqual([second.id]);
  });

  it('shares one rule per CIDR among the links that need it', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const first = await egressOf(await sgLinkTo(ref));
    const second = await sgLinkTo(ref);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(second, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ created: [], unchanged: SG_CIDRS });
    expect(value?.outputs?.egress).toMatchObject({ ruleIds: ruleIdsOf(first) });
    expect(mutations).toEqual([]);
    expect(tetherCidrsOf(groupId)).toEqual(SG_CIDRS);
  });

  it.each([
    ['a tcp/443 rule', 'tcp'],
    ['an all-traffic rule', '-1'],
  ])(
    'adopts %s someone else made for one of its CIDRs: recorded, never changed, no rule of its own for it',
    async (_case, protocol) => {
      // Arrange
      const { ref, groupId } = newTarget();
      const link = await sgLinkTo(ref);
      await unmanagedRule(groupId, [P_B], protocol);
      const unmanaged = rulesOf(groupId).filter((r) => r.CidrIpv4 === P_B);

      // Act
      const { value, error } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

      // Assert
      expect(error).toBeUndefined();
      expect(JSON.stringify(value?.result)).toContain(P_B);
      expect(tetherCidrsOf(groupId)).not.toContain(P_B);
      expect(rulesOf(groupId).filter((r) => r.CidrIpv4 === P_B)).toEqual(unmanaged);
    },
  );

  it('uses a rule someone else made with a prefix list whose entry covers a CIDR, and verify counts it', async () => {
    // Arrange: someone's prefix list holds 10.20.0.0/16 (covering P_A, P_B, P_C) and 10.99.0.0/24,
    // referenced by an all-traffic rule they made.
    const { ref, groupId } = newTarget();
    const link = await sgLinkTo(ref);
    const { PrefixList } = await ec2().send(
      new CreateManagedPrefixListCommand({
        PrefixListName: 'corporate',
        AddressFamily: 'IPv4',
        MaxEntries: 5,
        Entries: [{ Cidr: '10.20.0.0/16' }, { Cidr: '10.99.0.0/24' }],
      }),
    );
    await ec2().send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [{ IpProtocol: '-1', PrefixListIds: [{ PrefixListId: PrefixList?.PrefixListId }] }],
      }),
    );
    const listRule = rulesOf(groupId).find((r) => r.PrefixListId === PrefixList?.PrefixListId);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));
    const done = withOutputs(link, value?.outputs ?? {});
    const network = (await verifyChain(done, rt.clients)).filter((h) => h.hop === 'network');

    // Assert: nothing made, each CIDR recorded as let in by that rule, and the hop holds.
    expect(mutations).toEqual([]);
    expect(value?.result).toMatchObject({
      created: [],
      adopted: Object.fromEntries(
        SG_CIDRS.map((c) => [
          c,
          { ruleId: listRule?.SecurityGroupRuleId, note: 'allowed by an existing rule, not managed' },
        ]),
      ),
    });
    expect(tetherCidrsOf(groupId)).toEqual([]);
    expect(network).toEqual([expect.objectContaining({ ok: true })]);
  });

  it('lets in a CIDR that someone else allows on another port only', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const link = await sgLinkTo(ref);
    await unmanagedRule(groupId, [P_A], 'tcp', 22);

    // Act
    const { value } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ created: SG_CIDRS });
    expect(rulesOf(groupId).filter((r) => r.CidrIpv4 === P_A)).toHaveLength(2);
  });

  it('checks the 60-rule quota before it makes any rule', async () => {
    // Arrange: the group's own rule plus 57 others leave room for 2 rules, not 3.
    const { ref, groupId } = newTarget();
    const link = await sgLinkTo(ref);
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

  it('judges against the quota Service Quotas applies to the target account, not 60', async () => {
    // Arrange: 58 rules on the group, 3 CIDRs to let in; the account's quota was raised to 100.
    const { ref, groupId } = newTarget();
    const link = await sgLinkTo(ref);
    await unmanagedRule(
      groupId,
      Array.from({ length: 57 }, (_, i) => `10.9.${i}.0/24`),
      'tcp',
      8443,
    );
    rt.sandbox.setServiceQuota(TARGET_ACCOUNT, REGION, 'vpc', 'L-0EA8095F', 100);

    // Act
    let result: Awaited<ReturnType<typeof egressStep>>;
    try {
      result = await egressStep(link, rt.runtime);
    } finally {
      rt.sandbox.setServiceQuota(TARGET_ACCOUNT, REGION, 'vpc', 'L-0EA8095F', undefined);
    }

    // Assert
    expect((result.result as { created: string[] }).created.sort()).toEqual([...SG_CIDRS].sort());
    expect(tetherCidrsOf(groupId)).toEqual([...SG_CIDRS].sort());
    expect(rulesOf(groupId).length).toBe(61);
  });

  it('counts a referenced prefix list as its MaxEntries, and names the figures and their source', async () => {
    // Arrange: someone's prefix list of 50 entries at most (2 held) is referenced by one rule.
    const { ref, groupId } = newTarget();
    const link = await sgLinkTo(ref);
    const { PrefixList } = await ec2().send(
      new CreateManagedPrefixListCommand({
        PrefixListName: 'office',
        AddressFamily: 'IPv4',
        MaxEntries: 50,
        Entries: [{ Cidr: '10.30.0.0/24' }, { Cidr: '10.30.1.0/24' }],
      }),
    );
    await ec2().send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 22,
            ToPort: 22,
            PrefixListIds: [{ PrefixListId: PrefixList?.PrefixListId }],
          },
        ],
      }),
    );
    await unmanagedRule(
      groupId,
      Array.from({ length: 7 }, (_, i) => `10.9.${i}.0/24`),
      'tcp',
      8443,
    );
    const used = rulesOf(groupId).length - 1 + 50;

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert: 58 counted (the group's own rule, 7 rules, 50 for the list), 3 more pass 60.
    expect(used).toBe(58);
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect((error as Error).message).toBe(
      `Security group ${groupId} holds 58 inbound rules (prefix lists counted as their MaxEntries); this link needs 3 more, 61 in all, over the limit of 60 (Service Quotas applied value (vpc/L-0EA8095F)). Raise the quota vpc/L-0EA8095F: a prefix list would count as its MaxEntries and not help`,
    );
    expect(mutations).toEqual([]);
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
      effectiveAt: 'nothing-to-allow',
      note: 'network "none": nothing to allow (connectivity is provided outside Tether)',
      cidrs: [],
      action: 'unchanged',
      securityGroupGoverns: 'private-endpoint',
      publicEndpoint: 'open-to-all',
    });
    expect(mutations).toEqual([]);
    expect(tetherCidrsOf(groupId)).toEqual([]);
  });

  it('answers UnsupportedClusterError for a target without a cluster security group', async () => {
    // Arrange
    const link = await sgLinkTo(newTarget().ref);
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
    const link = await sgLinkTo(ref);
    await rt.runtime.memberships.acquireRemovalLock(
      membership.egress(TARGET_ACCOUNT, REGION, groupId, P_B),
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
    const link = await egressOf(await sgLinkTo(ref));
    await unmanagedRule(groupId, [P_A], 'tcp', 22);
    const others = rulesOf(groupId).filter((r) => tagMap(r.Tags)['tether:managed'] !== 'true');

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => revokeEgressStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({
      securityGroupId: groupId,
      rules: SG_CIDRS.map((cidr) => ({ cidr, action: 'revoked' })),
    });
    expect(mutations).toEqual(['ec2:RevokeSecurityGroupIngress']);
    expect(rulesOf(groupId)).toEqual(others);
    for (const cidr of SG_CIDRS) expect(await membersOf(groupId, cidr)).toEqual([]);
  });

  it('keeps the rules another link still needs, and revokes them with that link', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const first = await egressOf(await sgLinkTo(ref));
    const second = await egressOf(await sgLinkTo(ref));

    // Act
    const kept = await observe(rt.sandbox, () => revokeEgressStep(first, rt.runtime));
    const keptCidrs = tetherCidrsOf(groupId);
    const revoked = await observe(rt.sandbox, () => revokeEgressStep(second, rt.runtime));

    // Assert
    expect(kept.value?.result.rules).toEqual(
      SG_CIDRS.map((cidr) => ({ cidr, action: 'kept', remainingLinks: 1 })),
    );
    expect(kept.mutations).toEqual([]);
    expect(keptCidrs).toEqual(SG_CIDRS);
    expect(revoked.mutations).toEqual(['ec2:RevokeSecurityGroupIngress']);
    expect(tetherCidrsOf(groupId)).toEqual([]);
  });

  it('answers absent for rules already gone (a re-run)', async () => {
    // Arrange
    const { ref } = newTarget();
    const link = await egressOf(await sgLinkTo(ref));
    await revokeEgressStep(link, rt.runtime);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => revokeEgressStep(link, rt.runtime));

    // Assert
    expect(value?.result.rules).toEqual(SG_CIDRS.map((cidr) => ({ cidr, action: 'absent' })));
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
    await unmanagedRule(groupId, [P_A]);
    const before = rulesOf(groupId);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      revokeOwnedRule(rt.clients.ec2(TARGET_ACCOUNT, REGION), groupId, P_A),
    );

    // Assert
    expect(value).toMatchObject({ cidr: P_A, action: 'left-unmanaged' });
    expect(mutations).toEqual([]);
    expect(rulesOf(groupId)).toEqual(before);
  });
});

/** A new target whose public endpoint allows only `cidrs` (someone else's) and has a private endpoint too. */
function restrictedTarget(cidrs: string[] = ['203.0.113.0/24'], overrides: Record<string, unknown> = {}) {
  return newCluster(rt.sandbox, { accountId: TARGET_ACCOUNT, publicAccessCidrs: cidrs, ...overrides }).ref;
}
const publicCidrsOf = (ref: ClusterRef) => [
  ...(rt.sandbox.state().accounts[ref.accountId]?.regions[ref.region]?.eks.clusters[ref.cluster]
    ?.publicAccessCidrs ?? []),
];

describe('egressStep on the public endpoint (NAT IPs)', () => {
  it('allows nothing where the public endpoint is open to all, and says so', async () => {
    // Arrange
    const { ref, groupId } = newTarget();
    const link = await linkTo(ref);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(value?.outputs?.egress).toMatchObject({
      effectiveAt: 'public-endpoint-open-to-all',
      note: 'the public endpoint is open to all (0.0.0.0/0): nothing to allow there',
      cidrs: DEMO_NAT_CIDRS,
    });
    expect(mutations).toEqual([]);
    expect(tetherCidrsOf(groupId)).toEqual([]);
  });

  it('merges the NAT /32s into publicAccessCidrs in one update, keeping the CIDRs someone else put there', async () => {
    // Arrange
    const ref = restrictedTarget(['203.0.113.0/24', '198.51.100.7/32']);
    const link = await linkTo(ref);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(publicCidrsOf(ref)).toEqual(['203.0.113.0/24', '198.51.100.7/32', ...DEMO_NAT_CIDRS]);
    expect(mutations).toEqual(['eks:UpdateClusterConfig']);
    expect(value?.outputs?.egress).toMatchObject({
      effectiveAt: 'public-access-cidrs',
      cidrs: DEMO_NAT_CIDRS,
      publicAccess: { cluster: ref.cluster, cidrs: DEMO_NAT_CIDRS },
    });
    expect(value?.result).toMatchObject({ action: 'updated', publicAccess: { added: DEMO_NAT_CIDRS } });
    // The update was followed until it succeeded.
    const updates = rt.sandbox.calls().filter((c) => c.operation === 'DescribeUpdate');
    expect(updates.length).toBeGreaterThan(0);
    // The source VPC index finds the link when the VPC's NAT gateways change.
    const vpcMembers = await rt.runtime.memberships.members(
      membership.sourceVpc(SOURCE_ACCOUNT, REGION, resolvedOf(link).source.vpcId),
    );
    expect(vpcMembers.map((m) => m.linkId)).toContain(link.id);
  });

  it('makes no mutating call when run again', async () => {
    // Arrange
    const ref = restrictedTarget();
    const link = await egressOf(await linkTo(ref));

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({
      action: 'unchanged',
      publicAccess: { added: [], unchanged: DEMO_NAT_CIDRS },
    });
    expect(mutations).toEqual([]);
  });

  it('adopts a NAT IP a wider CIDR of someone else already lets in, and never removes that CIDR', async () => {
    // Arrange
    const ref = restrictedTarget(['18.0.32.0/20']);
    const link = await egressOf(await linkTo(ref));

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => revokeEgressStep(link, rt.runtime));

    // Assert: all three demo NAT IPs lie in 18.0.32.0/20, so nothing was added or removed.
    expect(link.outputs.egress?.publicAccess?.adopted).toEqual(
      Object.fromEntries(DEMO_NAT_CIDRS.map((c) => [c, '18.0.32.0/20'])),
    );
    expect(value?.result.rules).toEqual(
      DEMO_NAT_CIDRS.map((cidr) => ({ cidr, place: 'public-access-cidrs', action: 'absent' })),
    );
    expect(mutations).toEqual([]);
    expect(publicCidrsOf(ref)).toEqual(['18.0.32.0/20']);
  });

  it('leaves alone a /32 someone else put there, even as its last link goes', async () => {
    // Arrange
    const ref = restrictedTarget([NAT_A]);
    const link = await egressOf(await linkTo(ref));
    expect(publicCidrsOf(ref)).toEqual([NAT_A, NAT_B, NAT_C]);

    // Act
    const { value } = await observe(rt.sandbox, () => revokeEgressStep(link, rt.runtime));

    // Assert
    expect(value?.result.rules).toContainEqual(
      expect.objectContaining({ cidr: NAT_A, action: 'left-unmanaged' }),
    );
    expect(publicCidrsOf(ref)).toEqual([NAT_A]);
  });

  it('refuses past 40 CIDRs with the figures, before any write', async () => {
    // Arrange: 38 CIDRs of others leave room for 2 of the 3 NAT /32s.
    const others = Array.from({ length: 38 }, (_, i) => `198.51.${i}.0/24`);
    const ref = restrictedTarget(others);
    const link = await linkTo(ref);

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect((error as Error).message).toContain('allows 38 CIDRs');
    expect((error as Error).message).toContain('needs 3 more');
    expect((error as Error).message).toContain("41 in all, over EKS's limit of 40");
    expect(mutations).toEqual([]);
    expect(publicCidrsOf(ref)).toEqual(others);
  });

  it('waits while the cluster has another update in progress (ResourceInUseException), then merges', async () => {
    // Arrange: someone else's update is under way, and EKS answers the merge with
    // ResourceInUseException while it is.
    const ref = restrictedTarget();
    const link = await linkTo(ref);
    await rootClients(rt.sandbox, TARGET_ACCOUNT).eks.send(
      new UpdateClusterConfigCommand({
        name: ref.cluster,
        resourcesVpcConfig: { publicAccessCidrs: ['203.0.113.0/24', '192.0.2.0/24'] },
      }),
    );
    rt.sandbox.injectFault({
      service: 'eks',
      operation: 'UpdateClusterConfig',
      accountId: TARGET_ACCOUNT,
      code: 'ResourceInUseException',
      statusCode: 409,
    });

    // Act
    const busy = await observe(rt.sandbox, () => egressStep(link, rt.runtime));
    const again = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert: the first run found it busy (a retried error); the re-run kept both others' CIDRs.
    expect(busy.error).toBeInstanceOf(ConcurrentUpdateError);
    expect(again.error).toBeUndefined();
    expect(publicCidrsOf(ref)).toEqual(['203.0.113.0/24', '192.0.2.0/24', ...DEMO_NAT_CIDRS]);
  });

  it('waits while another link holds the cluster’s endpoint lock', async () => {
    // Arrange
    const ref = restrictedTarget();
    const link = await linkTo(ref);
    await rt.runtime.memberships.acquireRemovalLock(
      membership.clusterEndpoint(ref.accountId, ref.region, ref.cluster),
      'lnk_other',
      Date.now(),
      REMOVAL_LEASE_MS,
    );

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => egressStep(link, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(ConcurrentUpdateError);
    expect(mutations).toEqual([]);
  });

  it('fails with ENDPOINT_NOT_REACHABLE on a private-only target, unless the network is none', async () => {
    // Arrange
    const ref = restrictedTarget(['203.0.113.0/24'], { endpointPublicAccess: false });
    const nat = await linkTo(ref);
    const none = await linkTo(ref, { mode: 'none' });

    // Act
    const refused = await observe(rt.sandbox, () => egressStep(nat, rt.runtime));
    const allowed = await observe(rt.sandbox, () => egressStep(none, rt.runtime));

    // Assert
    expect(refused.error).toBeInstanceOf(EndpointNotReachableError);
    expect((refused.error as EndpointNotReachableError).code).toBe('ENDPOINT_NOT_REACHABLE');
    expect(refused.mutations).toEqual([]);
    expect(allowed.value?.outputs?.egress).toMatchObject({ effectiveAt: 'nothing-to-allow' });
  });

  it('shares each /32 among the links that need it and removes it with the last', async () => {
    // Arrange
    const ref = restrictedTarget();
    const first = await egressOf(await linkTo(ref));
    const second = await egressOf(await linkTo(ref));

    // Act
    const kept = await observe(rt.sandbox, () => revokeEgressStep(first, rt.runtime));
    const removed = await observe(rt.sandbox, () => revokeEgressStep(second, rt.runtime));

    // Assert
    expect(kept.mutations).toEqual([]);
    expect(kept.value?.result.rules).toEqual(
      DEMO_NAT_CIDRS.map((cidr) => ({
        cidr,
        place: 'public-access-cidrs',
        action: 'kept',
        remainingLinks: 1,
      })),
    );
    expect(removed.mutations).toEqual(['eks:UpdateClusterConfig']);
    expect(publicCidrsOf(ref)).toEqual(['203.0.113.0/24']);
  });

  it('removes the old IP it recorded when a failed reconcile had already resolved a new one (no orphan)', async () => {
    // Arrange: the link let in the demo NAT IPs; then NAT C was replaced, the reconcile's
    // resolve recorded the new IP, and its egress step failed before recording anything.
    const ref = restrictedTarget();
    const onboarded = await egressOf(await linkTo(ref));
    const afterResolve = withNatIps(onboarded, [NAT_A, NAT_B, NEW_NAT]);

    // Act
    const { value } = await observe(rt.sandbox, () => revokeEgressStep(afterResolve, rt.runtime));

    // Assert: the recorded old IP went too, not only what the last resolve asked for.
    expect(value?.result.rules).toContainEqual(expect.objectContaining({ cidr: NAT_C, action: 'removed' }));
    expect(publicCidrsOf(ref)).toEqual(['203.0.113.0/24']);
  });

  it('releases the old IP where the link recorded it when the NAT IPs change', async () => {
    // Arrange
    const ref = restrictedTarget();
    const before = await egressOf(await linkTo(ref));

    // Act
    const { value } = await observe(rt.sandbox, () =>
      egressStep(withNatIps(before, [NAT_A, NAT_B, NEW_NAT]), rt.runtime),
    );

    // Assert
    expect(value?.result).toMatchObject({
      publicAccess: { added: [NEW_NAT] },
      released: [expect.objectContaining({ cidr: NAT_C, action: 'removed' })],
    });
    expect(publicCidrsOf(ref).sort()).toEqual(['203.0.113.0/24', NAT_A, NAT_B, NEW_NAT].sort());
  });
});
