/**
 * Verify role chain (`#resources/verify`), against the sandbox: it reads back what the
 * onboard steps made and evaluates the chain hop by hop, read-only; every drift that breaks
 * a hop shows as that hop failing, and the step then refuses the link.
 */
import {
  AllocateAddressCommand,
  CreateNatGatewayCommand,
  DeleteNatGatewayCommand,
  DescribeNatGatewaysCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import {
  DescribeClusterCommand,
  DescribeUpdateCommand,
  DisassociateAccessPolicyCommand,
  UpdateClusterConfigCommand,
} from '@aws-sdk/client-eks';
import {
  DeleteOpenIDConnectProviderCommand,
  DeleteRolePolicyCommand,
  RemoveClientIDFromOpenIDConnectProviderCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SourceSideChangedError, VerificationFailedError } from '#link/errors';
import type { Access, Link, Network } from '#link/model';
import {
  issuerHostPath,
  oidcProviderArn,
  roleArn,
  TARGET_POLICY_NAME,
  targetRoleName,
  WORKLOAD_POLICY_NAME,
  workloadKey,
  workloadRoleName,
} from '#link/names';
import { removeAccessEntryStep } from '#resources/access-entry';
import { ensureOidcProvider } from '#resources/oidc-provider';
import { resolvedOf } from '#resources/resolve';
import { verifyChain, verifyStep } from '#resources/verify';
import { membership } from '#store/table';
import { IRSA_CHAIN_HOPS } from '../../e2e/harness';
import {
  newCluster,
  newSpec,
  newWorkload,
  observe,
  onboard,
  OTHER_TARGET_ACCOUNT,
  REGION,
  rootClients,
  SOURCE_ACCOUNT,
  startSandboxRuntime,
  TARGET_ACCOUNT,
  VIEW_POLICY,
  type SandboxRuntime,
} from './support';

let rt: SandboxRuntime;

beforeAll(async () => {
  rt = await startSandboxRuntime();
});
afterAll(async () => {
  await rt?.close();
});

const HOPS = IRSA_CHAIN_HOPS;

/** A link onboarded in the sandbox to a target cluster no other test uses. */
async function onboarded(options: { access?: Access; network?: Network } = {}): Promise<Link> {
  // A restricted public endpoint: the NAT IPs go into its publicAccessCidrs.
  const { ref } = newCluster(rt.sandbox, {
    accountId: TARGET_ACCOUNT,
    publicAccessCidrs: ['203.0.113.0/24'],
  });
  return onboard(rt.runtime, newSpec({ target: ref, ...options }));
}

const failingHops = async (link: Link) =>
  (await verifyChain(link, rt.clients)).filter((h) => !h.ok).map((h) => h.hop);

/** Rewrites a role's trust as someone other than Tether. */
async function setTrust(accountId: string, roleName: string, statement: Record<string, unknown>) {
  await rootClients(rt.sandbox, accountId).iam.send(
    new UpdateAssumeRolePolicyCommand({
      RoleName: roleName,
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [statement] }),
    }),
  );
}

/** The IRSA trust statement for one service account subject condition. */
function webIdentityTrust(link: Link, condition: Record<string, Record<string, string>>) {
  const issuer = resolvedOf(link).source.issuer!;
  return {
    Effect: 'Allow',
    Principal: { Federated: oidcProviderArn(SOURCE_ACCOUNT, issuer) },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: condition,
  };
}
const host = (link: Link) => issuerHostPath(resolvedOf(link).source.issuer!);

describe('verifyChain', () => {
  it('holds every hop of a link the onboard steps made, and makes no mutating call', async () => {
    // Arrange
    const link = await onboarded();

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => verifyChain(link, rt.clients));

    // Assert
    expect(value?.map((h) => h.hop)).toEqual(HOPS);
    expect(value?.filter((h) => !h.ok)).toEqual([]);
    expect(mutations).toEqual([]);
  });

  it('checks the aws-auth mapping on a CONFIG_MAP cluster', async () => {
    // Arrange
    const link = await onboard(
      rt.runtime,
      newSpec({
        target: { accountId: OTHER_TARGET_ACCOUNT, region: 'eu-west-1', cluster: 'cluster-c' },
        access: { groups: ['tether-readers'] },
      }),
    );

    // Act
    const before = await verifyChain(link, rt.clients);
    await removeAccessEntryStep(link, rt.runtime);
    const after = await failingHops(link);

    // Assert
    expect(before.find((h) => h.hop === 'cluster-access')).toMatchObject({ ok: true });
    expect(after).toEqual(['cluster-access']);
  });

  it('checks groups on an access entry, and no network for a link without a network rule', async () => {
    // Arrange
    const link = await onboarded({ access: { groups: ['tether-readers'] }, network: { mode: 'none' } });

    // Act
    const hops = await verifyChain(link, rt.clients);

    // Assert
    expect(hops.map((h) => h.hop)).toEqual(HOPS.filter((h) => !h.startsWith('network')));
    expect(hops.every((h) => h.ok)).toBe(true);
  });

  it.each<[string, (link: Link) => Promise<void>, string[]]>([
    [
      'the workload role trusts another service account',
      (link) =>
        setTrust(
          SOURCE_ACCOUNT,
          workloadRoleName(link.spec.source),
          webIdentityTrust(link, {
            StringEquals: {
              [`${host(link)}:sub`]: `system:serviceaccount:${link.spec.source.namespace}:other`,
            },
          }),
        ),
      ['web-identity→workload-role', 'workload-role-as-written'],
    ],
    [
      'the workload role trusts every service account of the namespace',
      (link) =>
        setTrust(
          SOURCE_ACCOUNT,
          workloadRoleName(link.spec.source),
          webIdentityTrust(link, {
            StringLike: { [`${host(link)}:sub`]: `system:serviceaccount:${link.spec.source.namespace}:*` },
          }),
        ),
      ['trust-is-scoped', 'workload-role-as-written'],
    ],
    [
      'the target role trusts the whole source account',
      (link) =>
        setTrust(TARGET_ACCOUNT, targetRoleName(link.spec), {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${SOURCE_ACCOUNT}:root` },
          Action: 'sts:AssumeRole',
        }),
      ['target-role-trust-is-scoped'],
    ],
    [
      'the target role trusts another role',
      (link) =>
        setTrust(TARGET_ACCOUNT, targetRoleName(link.spec), {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${SOURCE_ACCOUNT}:root` },
          Action: 'sts:AssumeRole',
          Condition: { ArnEquals: { 'aws:PrincipalArn': roleArn(SOURCE_ACCOUNT, 'another-team', '/') } },
        }),
      ['target-role-trusts-workload-role'],
    ],
    [
      'the access policy was disassociated',
      async (link) => {
        await rootClients(rt.sandbox, TARGET_ACCOUNT).eks.send(
          new DisassociateAccessPolicyCommand({
            clusterName: link.spec.target.cluster,
            principalArn: roleArn(TARGET_ACCOUNT, targetRoleName(link.spec)),
            policyArn: VIEW_POLICY,
          }),
        );
      },
      ['cluster-access', 'kubernetes-verb'],
    ],
    [
      'a NAT IP was taken out of the public endpoint’s publicAccessCidrs',
      async (link) => {
        const eks = rootClients(rt.sandbox, TARGET_ACCOUNT, REGION).eks;
        const name = link.spec.target.cluster;
        const current = (await eks.send(new DescribeClusterCommand({ name }))).cluster?.resourcesVpcConfig
          ?.publicAccessCidrs;
        const { update } = await eks.send(
          new UpdateClusterConfigCommand({
            name,
            resourcesVpcConfig: { publicAccessCidrs: (current ?? []).filter((c) => c !== '18.0.37.11/32') },
          }),
        );
        for (let i = 0; i < 3; i++) await eks.send(new DescribeUpdateCommand({ name, updateId: update?.id }));
      },
      ['network'],
    ],
  ])('fails exactly the broken hop when %s', async (_drift, drift, broken) => {
    // Arrange
    const link = await onboarded();
    await drift(link);

    // Act
    const failing = await failingHops(link);

    // Assert
    expect(failing).toEqual(broken);
  });

  it('fails the network hop when the rule of a private CIDR was revoked from the cluster security group', async () => {
    // Arrange
    const link = await onboarded({ network: { mode: 'cidrs', cidrs: ['10.30.0.0/16'] } });
    const egress = link.outputs.egress as { securityGroupId: string; ruleIds: Record<string, string> };
    await rootClients(rt.sandbox, TARGET_ACCOUNT, REGION).ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: egress.securityGroupId,
        SecurityGroupRuleIds: Object.values(egress.ruleIds),
      }),
    );

    // Act
    const failing = await failingHops(link);

    // Assert
    expect(failing).toEqual(['network']);
  });

  it.each<[string, (link: Link) => Promise<unknown>, string]>([
    [
      'the workload role lost its policy',
      (link) =>
        rootClients(rt.sandbox, SOURCE_ACCOUNT).iam.send(
          new DeleteRolePolicyCommand({
            RoleName: workloadRoleName(link.spec.source),
            PolicyName: WORKLOAD_POLICY_NAME,
          }),
        ),
      'workload-role→target-role',
    ],
    [
      'the target role lost its policy',
      (link) =>
        rootClients(rt.sandbox, TARGET_ACCOUNT).iam.send(
          new DeleteRolePolicyCommand({
            RoleName: targetRoleName(link.spec),
            PolicyName: TARGET_POLICY_NAME,
          }),
        ),
      'target-role→describe-cluster',
    ],
  ])('fails when %s', async (_drift, drift, broken) => {
    // Arrange
    const link = await onboarded();
    await drift(link);

    // Act
    const failing = await failingHops(link);

    // Assert
    expect(failing).toContain(broken);
  });
});

describe('the oidc-provider hop', () => {
  let issuer: string | undefined;
  afterEach(async () => {
    // Put the issuer's provider back as Tether makes it: the other tests' links share it.
    if (issuer) await ensureOidcProvider(rootClients(rt.sandbox, SOURCE_ACCOUNT).iam, SOURCE_ACCOUNT, issuer);
  });

  it.each<[string, (link: Link) => Promise<void>, string[]]>([
    [
      'the OIDC provider no longer lists the audience sts.amazonaws.com',
      async (link) => {
        await rootClients(rt.sandbox, SOURCE_ACCOUNT).iam.send(
          new RemoveClientIDFromOpenIDConnectProviderCommand({
            OpenIDConnectProviderArn: oidcProviderArn(SOURCE_ACCOUNT, resolvedOf(link).source.issuer!),
            ClientID: 'sts.amazonaws.com',
          }),
        );
      },
      ['oidc-provider'],
    ],
    [
      'the OIDC provider was deleted (IRSA tokens from the issuer are refused)',
      async (link) => {
        await rootClients(rt.sandbox, SOURCE_ACCOUNT).iam.send(
          new DeleteOpenIDConnectProviderCommand({
            OpenIDConnectProviderArn: oidcProviderArn(SOURCE_ACCOUNT, resolvedOf(link).source.issuer!),
          }),
        );
      },
      ['oidc-provider'],
    ],
  ])('fails exactly that hop when %s', async (_drift, drift, broken) => {
    // Arrange
    const link = await onboarded();
    issuer = resolvedOf(link).source.issuer;
    await drift(link);

    // Act
    const failing = await failingHops(link);

    // Assert
    expect(failing).toEqual(broken);
  });
});

describe('verifyStep', () => {
  it('answers every hop when the chain holds', async () => {
    // Arrange
    const link = await onboarded();

    // Act
    const out = await verifyStep(link, rt.runtime);

    // Assert
    expect(out.result.hops.map((h) => h.hop)).toEqual(HOPS);
  });

  it('refuses the link with VerificationFailedError naming each broken hop', async () => {
    // Arrange
    const link = await onboarded();
    await setTrust(TARGET_ACCOUNT, targetRoleName(link.spec), {
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${SOURCE_ACCOUNT}:root` },
      Action: 'sts:AssumeRole',
    });

    // Act
    const verifying = verifyStep(link, rt.runtime);

    // Assert
    await expect(verifying).rejects.toBeInstanceOf(VerificationFailedError);
    await expect(verifying).rejects.toThrow(/^The role chain does not hold: target-role-trust-is-scoped \(/);
  });

  it.each<[string, string, new (...args: never[]) => Error]>([
    ['left its reading to verify', 'confirmed-before', SourceSideChangedError],
    ['read it itself', 'unchanged', VerificationFailedError],
  ])(
    'on a changed workload role, a run whose source steps %s: %s → its error, and the confirmation is forgotten',
    async (_case, action, expected) => {
      // Arrange: the workload's role as a run confirmed it, then its policy deleted by hand
      const onboardedLink = await onboarded();
      const key = membership.workload(workloadKey(onboardedLink.spec.source));
      expect(await rt.runtime.memberships.confirmation(key)).toBeDefined();
      const step = { status: 'SUCCEEDED' as const, startedAt: '', attempts: 1, result: { action } };
      const link: Link = { ...onboardedLink, steps: { oidcProvider: step, workloadRole: step } };
      await rootClients(rt.sandbox, SOURCE_ACCOUNT).iam.send(
        new DeleteRolePolicyCommand({
          RoleName: workloadRoleName(link.spec.source),
          PolicyName: WORKLOAD_POLICY_NAME,
        }),
      );

      // Act
      const verifying = verifyStep(link, rt.runtime);

      // Assert
      await expect(verifying).rejects.toBeInstanceOf(expected);
      await expect(verifying).rejects.toThrow(/workload-role-as-written/);
      expect(await rt.runtime.memberships.confirmation(key)).toBeUndefined();
    },
  );
});

describe('the kubernetes-verb hop', () => {
  it('says which verbs the view policy grants, and where, for a cluster-scoped association', async () => {
    // Arrange
    const link = await onboarded();

    // Act
    const hop = (await verifyChain(link, rt.clients)).find((h) => h.hop === 'kubernetes-verb');

    // Assert
    expect(hop).toMatchObject({ ok: true });
    expect(hop?.advisory).toBeUndefined();
    expect(hop?.detail).toMatch(
      /^allowed: get, list, watch on pods.* in every namespace \(cluster scope\); not Secrets$/,
    );
  });

  it('denies, naming the namespace, when the association does not cover a namespace the link asks for', async () => {
    // Arrange: the link was made for team-a; the spec now also asks for team-b.
    const made = await onboarded({
      access: { policyArn: VIEW_POLICY, scope: { type: 'namespace', namespaces: ['team-a'] } },
    });
    const asked: Link = {
      ...made,
      spec: {
        ...made.spec,
        access: { policyArn: VIEW_POLICY, scope: { type: 'namespace', namespaces: ['team-a', 'team-b'] } },
      },
    };

    // Act
    const before = (await verifyChain(made, rt.clients)).find((h) => h.hop === 'kubernetes-verb');
    const after = (await verifyChain(asked, rt.clients)).find((h) => h.hop === 'kubernetes-verb');

    // Assert
    expect(before).toMatchObject({ ok: true });
    expect(before?.detail).toMatch(/in namespaces team-a \(namespace scope\)/);
    expect(after).toMatchObject({ ok: false });
    expect(after?.detail).toMatch(/^denied: .*: team-b not in the association's namespaces \(team-a\)$/);
  });

  it('says groups cannot be judged from AWS alone, and does not fail the link for it', async () => {
    // Arrange
    const link = await onboarded({ access: { groups: ['tether-readers'] }, network: { mode: 'none' } });

    // Act
    const hop = (await verifyChain(link, rt.clients)).find((h) => h.hop === 'kubernetes-verb');

    // Assert
    expect(hop).toMatchObject({ advisory: true });
    expect(hop?.detail).toMatch(/^not judged: groups tether-readers .* cannot be read from AWS alone$/);
    await expect(verifyStep(link, rt.runtime)).resolves.toBeDefined();
  });
});

describe('the network hop reads the NAT IPs of the source VPC now', () => {
  it('names the current NAT IP not let in, and the old one still let in for the link', async () => {
    // Arrange: a source cluster of its own VPC; after the onboard, its platform team replaces a NAT gateway.
    const { ids, ref } = newCluster(rt.sandbox, { accountId: SOURCE_ACCOUNT });
    const target = newCluster(rt.sandbox, {
      accountId: TARGET_ACCOUNT,
      publicAccessCidrs: ['203.0.113.0/24'],
    });
    const link = await onboard(
      rt.runtime,
      newSpec({ source: newWorkload({ cluster: ref.cluster }), target: target.ref }),
    );
    const vpcId = resolvedOf(link).source.vpcId;
    expect(vpcId).toBe(ids.vpcId);
    const ec2 = rootClients(rt.sandbox, SOURCE_ACCOUNT).ec2;
    const [old] =
      (await ec2.send(new DescribeNatGatewaysCommand({ Filter: [{ Name: 'vpc-id', Values: [vpcId] }] })))
        .NatGateways ?? [];
    const oldIp = old?.NatGatewayAddresses?.[0]?.PublicIp;
    const eip = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await ec2.send(new CreateNatGatewayCommand({ SubnetId: old?.SubnetId, AllocationId: eip.AllocationId }));
    await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: old?.NatGatewayId }));
    await ec2.send(new DescribeNatGatewaysCommand({})); // pending → available, deleting → deleted

    // Act
    const { value: hops, mutations } = await observe(rt.sandbox, () => verifyChain(link, rt.clients));

    // Assert
    const network = hops?.find((h) => h.hop === 'network');
    const stale = hops?.find((h) => h.hop === 'network-stale-allowance');
    expect(network?.ok).toBe(false);
    expect(network?.detail).toContain(`does not let in the current NAT IP ${eip.PublicIp}/32 on 443`);
    expect(stale).toMatchObject({ ok: false, advisory: true });
    expect(stale?.detail).toMatch(
      new RegExp(`^${oldIp?.replaceAll('.', '\\.')}/32 still let in for this link`),
    );
    expect(mutations).toEqual([]);
  });
});
