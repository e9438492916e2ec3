/**
 * The quota and conflict checks of a plan (`#resources/quotas`, through `planRequest`): for
 * each check, a sandbox state that trips it, and the plan names it with its figures (used /
 * after / limit); a plan makes no mutating call, whatever it finds.
 */
import { AuthorizeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { CreateAccessEntryCommand, CreatePodIdentityAssociationCommand } from '@aws-sdk/client-eks';
import { CreateTrustAnchorCommand, RolesAnywhereClient } from '@aws-sdk/client-rolesanywhere';
import {
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinkSpec, OnboardingRequest, TargetRequest, WorkloadRef } from '#link/model';
import { owners, roleArn, TETHER_ROLE_PATH, targetRoleName, workloadRoleName } from '#link/names';
import type { PolicyDocument } from '#link/policy/evaluate';
import { ownershipTags } from '#link/tags';
import { failedChecks, type Plan, planRequest, specsOf } from '#resources/plan';
import { DEFAULT_LIMIT_SOURCE, policySize, type QuotaCheck, QUOTA_LIMITS } from '#resources/quotas';
import { describeCluster } from '#resources/resolve';
import { generateClusterCa } from '#resources/roles-anywhere';
import { attachSandbox } from '#local/adapters/sdk-plugin';
import { targetRoleStep } from '#resources/target-role';
import { workloadTrustPolicy } from '#resources/workload-role';
import { clientsFor } from '../local/sandbox/helpers';
import {
  linkOf,
  newCluster,
  newWorkload,
  observe,
  REGION,
  SOURCE_ACCOUNT,
  startSandboxRuntime,
  TARGET_ACCOUNT,
  type SandboxRuntime,
  VIEW_POLICY,
} from './support';

let rt: SandboxRuntime;

beforeAll(async () => {
  rt = await startSandboxRuntime();
});
afterAll(async () => {
  await rt?.close();
});

const VIEW = { policyArn: VIEW_POLICY, scope: { type: 'cluster' } } as const;
const EMPTY_TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [] });

function requestFor(target: TargetRequest, source: WorkloadRef = newWorkload()): OnboardingRequest {
  return { source, identity: { mode: 'irsa' }, network: { mode: 'nat' }, targets: [target] };
}

/** Plans `request`, failing the test if the plan changed anything. */
async function planOf(request: OnboardingRequest): Promise<Plan> {
  const { value, error, mutations } = await observe(rt.sandbox, () => planRequest(rt.runtime, request));
  if (error) throw error;
  expect(mutations).toEqual([]);
  return value!;
}

function checkOf(plan: Plan, check: QuotaCheck['check'], scope?: string): QuotaCheck {
  const found = plan.targets[0]?.checks?.find((c) => c.check === check && (!scope || c.scope === scope));
  if (!found) throw new Error(`the plan has no ${check} check${scope ? ` on ${scope}` : ''}`);
  return found;
}

/** Root (not Tether) clients of an account: what a person does by hand. */
const byHand = (accountId: string) => clientsFor(rt.sandbox, rt.sandbox.rootCredentials(accountId));

/** A target cluster in a fresh account, so that what a test adds there disturbs no other. */
function freshTarget(accountId: string, overrides: Record<string, unknown> = {}) {
  rt.sandbox.addAccount(accountId);
  const { ids, ref } = newCluster(rt.sandbox, { accountId, ...overrides });
  const target: TargetRequest = { ...ref, access: VIEW };
  return { ids, target };
}

describe('a plan within every quota', () => {
  it('names every check with its figures, all holding, and changes nothing', async () => {
    // Arrange
    const request = requestFor({
      accountId: TARGET_ACCOUNT,
      region: REGION,
      cluster: 'cluster-b',
      access: VIEW,
    });

    // Act
    const plan = await planOf(request);

    // Assert
    const checks = plan.targets[0]!.checks!;
    expect(checks.map((c) => c.check).sort()).toEqual(
      [
        'access-entries',
        'access-entry-conflict',
        'inline-policies-size',
        'inline-policies-size',
        'oidc-providers',
        'roles',
        'roles',
        // NAT IPs go to cluster-b's restricted publicAccessCidrs (the plan's own check), not the group.
        'trust-policy-size',
        'trust-policy-size',
      ].sort(),
    );
    expect(failedChecks(plan)).toEqual([]);
    // Adjustable quotas are read from Service Quotas; the fixed ones are AWS's documented limits.
    const adjustable: Record<string, string> = {
      'trust-policy-size': 'iam/L-C07B4B0D',
      'oidc-providers': 'iam/L-858F3967',
      roles: 'iam/L-FE177D64',
    };
    for (const c of checks.filter((c) => c.check !== 'access-entry-conflict')) {
      const code = adjustable[c.check];
      expect(c, c.check).toMatchObject({
        ok: true,
        limitSource: code ? `Service Quotas applied value (${code})` : DEFAULT_LIMIT_SOURCE,
      });
      expect(c.after!, c.check).toBeLessThanOrEqual(c.limit!);
    }
    // The workload role's trust, as Tether would write it, measured as IAM does (no whitespace).
    const [spec] = specsOf(request) as [LinkSpec];
    const cluster = await describeCluster(rt.clients.eks(SOURCE_ACCOUNT, REGION), spec.source);
    const issuer = cluster.identity?.oidc?.issuer ?? '';
    const workloadArn = roleArn(SOURCE_ACCOUNT, workloadRoleName(spec.source));
    expect(checkOf(plan, 'trust-policy-size', workloadArn)).toMatchObject({
      used: 0,
      after: policySize(workloadTrustPolicy(SOURCE_ACCOUNT, issuer, spec.source)),
      limit: 2048,
    });
  });
});

describe('limits read from Service Quotas', () => {
  it('a lowered roles-per-account value is the limit the plan judges against, with its source', async () => {
    // Arrange: the target account's applied value is exactly the roles it holds.
    const { target } = freshTarget('444444444411');
    const held = Object.keys(rt.sandbox.state().accounts['444444444411']!.iam.roles).length;
    rt.sandbox.setServiceQuota('444444444411', 'us-east-1', 'iam', 'L-FE177D64', held);

    // Act
    const plan = await planOf(requestFor(target));

    // Assert
    expect(checkOf(plan, 'roles', 'account 444444444411')).toMatchObject({
      ok: false,
      used: held,
      after: held + 1,
      limit: held,
      limitSource: 'Service Quotas applied value (iam/L-FE177D64)',
    });
    expect(failedChecks(plan).map((f) => f.check.check)).toEqual(['roles']);
  });

  it('lowered OIDC-provider and trust-policy-length values are the limits of their checks', async () => {
    // Arrange: a source account whose providers quota is what it holds, and whose trust policy
    // length quota is below the workload role's trust.
    rt.sandbox.addAccount('444444444414');
    const { ref } = newCluster(rt.sandbox, { accountId: '444444444414' });
    for (const i of [1, 2]) {
      await byHand('444444444414').iam.send(
        new CreateOpenIDConnectProviderCommand({
          Url: `https://oidc.example.com/id/other-${i}`,
          ClientIDList: ['sts.amazonaws.com'],
        }),
      );
    }
    const providers = Object.keys(rt.sandbox.state().accounts['444444444414']!.iam.oidcProviders).length;
    rt.sandbox.setServiceQuota('444444444414', 'us-east-1', 'iam', 'L-858F3967', providers);
    rt.sandbox.setServiceQuota('444444444414', 'us-east-1', 'iam', 'L-C07B4B0D', 300);
    const source = { ...ref, namespace: 'ns', serviceAccount: 'sa' };

    // Act
    const plan = await planOf(
      requestFor({ accountId: TARGET_ACCOUNT, region: REGION, cluster: 'cluster-b', access: VIEW }, source),
    );

    // Assert
    expect(checkOf(plan, 'oidc-providers')).toMatchObject({
      ok: false,
      used: providers,
      after: providers + 1,
      limit: providers,
      limitSource: 'Service Quotas applied value (iam/L-858F3967)',
    });
    const trust = checkOf(plan, 'trust-policy-size', roleArn('444444444414', workloadRoleName(source)));
    expect(trust).toMatchObject({
      ok: false,
      limit: 300,
      limitSource: 'Service Quotas applied value (iam/L-C07B4B0D)',
    });
    expect(trust.after!).toBeGreaterThan(300);
    // The target account keeps its defaults.
    const targetTrust = plan.targets[0]!.checks!.find(
      (c) => c.check === 'trust-policy-size' && c.scope.includes(`::${TARGET_ACCOUNT}:`),
    );
    expect(targetTrust).toMatchObject({ ok: true, limit: 2048 });
  });

  it('a raised inbound-rules value lets 58 rules and 3 more CIDRs fit', async () => {
    // Arrange
    const { ids, target } = freshTarget('444444444412');
    const { ec2 } = byHand('444444444412');
    const rules = rt.sandbox.state().accounts['444444444412']!.regions[REGION]!.ec2.securityGroupRules;
    const present = Object.values(rules).filter(
      (r) => r.GroupId === ids.clusterSecurityGroupId && !r.IsEgress,
    ).length;
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: ids.clusterSecurityGroupId,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 443,
            ToPort: 443,
            IpRanges: Array.from({ length: 58 - present }, (_, i) => ({ CidrIp: `10.9.${i}.0/24` })),
          },
        ],
      }),
    );
    rt.sandbox.setServiceQuota('444444444412', REGION, 'vpc', 'L-0EA8095F', 100);

    // Act
    const plan = await planOf({
      ...requestFor(target),
      network: { mode: 'cidrs', cidrs: ['10.200.0.0/24', '10.200.1.0/24', '10.200.2.0/24'] },
    });

    // Assert
    expect(checkOf(plan, 'security-group-inbound-rules')).toMatchObject({
      ok: true,
      used: 58,
      after: 61,
      limit: 100,
      limitSource: 'Service Quotas applied value (vpc/L-0EA8095F)',
    });
  });

  it('falls back to the AWS default, saying why, when Service Quotas refuses or has no value', async () => {
    // Arrange: the target account's IAM list is refused; its rules-per-group quota has no applied value.
    const { target } = freshTarget('444444444413');
    rt.sandbox.injectFault({
      service: 'servicequotas',
      operation: 'ListServiceQuotas',
      accountId: '444444444413',
      code: 'AccessDeniedException',
      statusCode: 403,
      times: 10,
    });
    rt.sandbox.injectFault({
      service: 'servicequotas',
      operation: 'GetServiceQuota',
      accountId: '444444444413',
      code: 'NoSuchResourceException',
      times: 10,
    });

    // Act
    let plan: Plan;
    try {
      plan = await planOf({ ...requestFor(target), network: { mode: 'cidrs', cidrs: ['10.200.0.0/24'] } });
    } finally {
      rt.sandbox.clearFaults();
    }

    // Assert
    expect(checkOf(plan, 'roles', 'account 444444444413')).toMatchObject({
      ok: true,
      limit: 1000,
      limitSource: 'AWS default (iam/L-FE177D64): Service Quotas answered AccessDeniedException',
    });
    expect(checkOf(plan, 'security-group-inbound-rules')).toMatchObject({
      ok: true,
      limit: 60,
      limitSource: 'AWS default (vpc/L-0EA8095F): Service Quotas has no applied value',
    });
    // The source account's list was answered: its figures are its own.
    expect(checkOf(plan, 'oidc-providers')).toMatchObject({
      limitSource: 'Service Quotas applied value (iam/L-858F3967)',
    });
  });

  it('reads the IAM quotas of an account in one ListServiceQuotas', async () => {
    // Arrange
    const { target } = freshTarget('444444444415');
    rt.sandbox.resetCalls();

    // Act
    await planOf(requestFor(target));

    // Assert: one list per account (source and target), no GetServiceQuota for IAM.
    const quotaCalls = rt.sandbox
      .calls()
      .filter((c) => c.service === 'servicequotas')
      .map((c) => `${c.accountId}:${c.operation}`)
      .sort();
    expect(quotaCalls).toEqual(
      [`444444444415:ListServiceQuotas`, `${SOURCE_ACCOUNT}:ListServiceQuotas`].sort(),
    );
  });
});

describe('a sandbox state that trips each check', () => {
  it('roles per account: a target account holding 1,000 roles', async () => {
    // Arrange
    const { target } = freshTarget('444444444401');
    const { iam } = byHand('444444444401');
    const present = Object.keys(rt.sandbox.state().accounts['444444444401']!.iam.roles).length;
    for (let i = present; i < QUOTA_LIMITS.roles; i++) {
      await iam.send(new CreateRoleCommand({ RoleName: `app-${i}`, AssumeRolePolicyDocument: EMPTY_TRUST }));
    }

    // Act
    const plan = await planOf(requestFor(target));

    // Assert
    const check = checkOf(plan, 'roles', 'account 444444444401');
    expect(check).toMatchObject({ ok: false, used: 1000, after: 1001, limit: 1000 });
    expect(check.detail).toBe(
      'IAM roles in 444444444401: 1000 now, 1001 after the link, limit 1000 — would be exceeded',
    );
    expect(failedChecks(plan).map((f) => f.check.check)).toEqual(['roles']);
  }, 120_000);

  it('OIDC providers per account: a source account holding 100 providers, none for this issuer', async () => {
    // Arrange
    rt.sandbox.addAccount('444444444402');
    const { ref } = newCluster(rt.sandbox, { accountId: '444444444402' });
    const { iam } = byHand('444444444402');
    for (let i = 0; i < QUOTA_LIMITS.oidcProviders; i++) {
      await iam.send(
        new CreateOpenIDConnectProviderCommand({
          Url: `https://oidc.example.com/id/${i}`,
          ClientIDList: ['sts.amazonaws.com'],
        }),
      );
    }
    const source = { ...ref, namespace: 'ns', serviceAccount: 'sa' };

    // Act
    const plan = await planOf(
      requestFor({ accountId: TARGET_ACCOUNT, region: REGION, cluster: 'cluster-b', access: VIEW }, source),
    );

    // Assert
    expect(checkOf(plan, 'oidc-providers')).toMatchObject({
      ok: false,
      scope: 'account 444444444402',
      used: 100,
      after: 101,
      limit: 100,
    });
  }, 60_000);

  it('inline policies per role: the workload role already holds 10,000 characters of another inline policy', async () => {
    // Arrange: the workload role Tether made (its CreateRole done, its policy not yet put), and
    // a policy a person added to it since.
    const source = newWorkload();
    const name = workloadRoleName(source);
    const { iam } = byHand(SOURCE_ACCOUNT);
    await iam.send(
      new CreateRoleCommand({
        RoleName: name,
        Path: TETHER_ROLE_PATH,
        AssumeRolePolicyDocument: EMPTY_TRUST,
        Tags: ownershipTags(owners.workload(source)),
      }),
    );
    const big: PolicyDocument = {
      Version: '2012-10-17',
      Statement: [{ Sid: 'x'.repeat(9_900), Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    };
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: name,
        PolicyName: 'by-hand',
        PolicyDocument: JSON.stringify(big),
      }),
    );

    // Act
    const plan = await planOf(
      requestFor({ accountId: TARGET_ACCOUNT, region: REGION, cluster: 'cluster-b', access: VIEW }, source),
    );

    // Assert
    const arn = roleArn(SOURCE_ACCOUNT, name);
    const check = checkOf(plan, 'inline-policies-size', arn);
    expect(check).toMatchObject({ ok: false, used: policySize(big), limit: 10_240 });
    expect(check.after!).toBeGreaterThan(10_240);
    expect(check.detail).toContain(`inline policies of ${arn} together (characters): ${policySize(big)} now`);
  });

  it('access entries per cluster: a target cluster with 3,000 entries', async () => {
    // Arrange: 3,000 roles over three accounts (1,000 each at most), each with an entry (the
    // calls in one sandbox bulk: one copy of the state for all of them, not one per call).
    const { target } = freshTarget('444444444403');
    const { eks } = byHand('444444444403');
    let made = 0;
    await rt.sandbox.bulk(async () => {
      for (const accountId of ['444444444404', '444444444405', '444444444406', '444444444407']) {
        rt.sandbox.addAccount(accountId);
        const { iam } = byHand(accountId);
        const room =
          QUOTA_LIMITS.roles - Object.keys(rt.sandbox.state().accounts[accountId]!.iam.roles).length;
        for (let i = 0; i < room && made < QUOTA_LIMITS.accessEntries; i++, made++) {
          const role = (
            await iam.send(
              new CreateRoleCommand({ RoleName: `reader-${i}`, AssumeRolePolicyDocument: EMPTY_TRUST }),
            )
          ).Role!;
          await eks.send(
            new CreateAccessEntryCommand({ clusterName: target.cluster, principalArn: role.Arn! }),
          );
        }
      }
    });

    // Act
    const plan = await planOf(requestFor(target));

    // Assert
    expect(checkOf(plan, 'access-entries')).toMatchObject({
      ok: false,
      used: 3000,
      after: 3001,
      limit: 3000,
    });
  }, 300_000);

  it('Roles Anywhere trust anchors per Region: a source account holding 50, none for this CA; profiles counted', async () => {
    // Arrange: a source cluster in a fresh account, and 50 anchors made there by hand.
    const accountId = '444444444420';
    rt.sandbox.addAccount(accountId);
    const { ref } = newCluster(rt.sandbox, { accountId });
    // The Roles Anywhere client's SDK line types its middleware stack apart (README, dependencies).
    const ra = new RolesAnywhereClient({
      region: REGION,
      credentials: rt.sandbox.rootCredentials(accountId),
      maxAttempts: 1,
    });
    attachSandbox(ra as never, rt.sandbox, 'rolesanywhere');
    const theirs = generateClusterCa(ref);
    for (let i = 0; i < QUOTA_LIMITS.trustAnchors; i++) {
      await ra.send(
        new CreateTrustAnchorCommand({
          name: `theirs-${i}`,
          enabled: true,
          source: {
            sourceType: 'CERTIFICATE_BUNDLE',
            sourceData: { x509CertificateData: theirs.certificatePem },
          },
        }),
      );
    }
    const ca = generateClusterCa(ref);
    const request: OnboardingRequest = {
      source: { ...ref, namespace: 'ra', serviceAccount: 'ra' },
      identity: { mode: 'roles-anywhere', caCertificate: ca.certificatePem },
      network: { mode: 'none' },
      targets: [freshTarget('444444444421').target],
    };

    // Act
    const plan = await planOf(request);

    // Assert
    expect(checkOf(plan, 'trust-anchors')).toMatchObject({ ok: false, used: 50, after: 51, limit: 50 });
    expect(checkOf(plan, 'roles-anywhere-profiles')).toMatchObject({
      ok: true,
      used: 0,
      after: 1,
      limit: 250,
    });
    expect(failedChecks(plan).map((f) => f.check.check)).toEqual(['trust-anchors']);
  }, 120_000);

  it('Pod Identity associations per cluster: a source cluster holding 5,000', async () => {
    // Arrange: 5,000 associations of other service accounts, made by hand with one role.
    const accountId = '444444444422';
    rt.sandbox.addAccount(accountId);
    const { ref } = newCluster(rt.sandbox, { accountId });
    const { iam, eks } = byHand(accountId);
    const role = (
      await iam.send(
        new CreateRoleCommand({
          RoleName: 'pods',
          AssumeRolePolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Service: 'pods.eks.amazonaws.com' },
                Action: ['sts:AssumeRole', 'sts:TagSession'],
              },
            ],
          }),
        }),
      )
    ).Role!;
    await rt.sandbox.bulk(async () => {
      for (let i = 0; i < QUOTA_LIMITS.podIdentityAssociations; i += 250) {
        await Promise.all(
          Array.from({ length: 250 }, (_, j) =>
            eks.send(
              new CreatePodIdentityAssociationCommand({
                clusterName: ref.cluster,
                namespace: 'apps',
                serviceAccount: `sa-${i + j}`,
                roleArn: role.Arn,
              }),
            ),
          ),
        );
      }
    });
    const request: OnboardingRequest = {
      source: { ...ref, namespace: 'pods', serviceAccount: 'pod-identity' },
      identity: { mode: 'pod-identity' },
      network: { mode: 'none' },
      targets: [freshTarget('444444444423').target],
    };

    // Act
    const plan = await planOf(request);

    // Assert
    expect(checkOf(plan, 'pod-identity-associations')).toMatchObject({
      ok: false,
      used: 5000,
      after: 5001,
      limit: 5000,
    });
  }, 300_000);

  it('inbound rules per security group: 58 rules already on the target group, 3 private CIDRs to let in', async () => {
    // Arrange
    const { ids, target } = freshTarget('444444444408');
    const { ec2 } = byHand('444444444408');
    const rules = rt.sandbox.state().accounts['444444444408']!.regions[REGION]!.ec2.securityGroupRules;
    const present = Object.values(rules).filter(
      (r) => r.GroupId === ids.clusterSecurityGroupId && !r.IsEgress,
    ).length;
    for (let i = present; i < 58; i++) {
      await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: ids.clusterSecurityGroupId,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: `10.9.${i}.0/24` }] },
          ],
        }),
      );
    }

    // Act: private CIDRs take effect on the cluster security group (the private endpoint).
    const plan = await planOf({
      ...requestFor(target),
      network: { mode: 'cidrs', cidrs: ['10.200.0.0/24', '10.200.1.0/24', '10.200.2.0/24'] },
    });

    // Assert
    expect(checkOf(plan, 'security-group-inbound-rules')).toMatchObject({
      ok: false,
      scope: ids.clusterSecurityGroupId,
      used: 58,
      after: 61,
      limit: 60,
    });
  });

  it('an access entry for the target role that Tether did not make, granting other access: a conflict', async () => {
    // Arrange: Tether's target role exists; a person gave it an entry with a group of their own.
    const { target } = freshTarget('444444444409');
    const request = requestFor(target);
    const [spec] = specsOf(request) as [LinkSpec];
    await targetRoleStep(linkOf(spec), rt.runtime);
    await byHand('444444444409').eks.send(
      new CreateAccessEntryCommand({
        clusterName: target.cluster,
        principalArn: roleArn(target.accountId, targetRoleName(spec)),
        kubernetesGroups: ['made-by-hand'],
      }),
    );

    // Act
    const plan = await planOf(request);

    // Assert
    const check = checkOf(plan, 'access-entry-conflict');
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/exists that Tether did not make and that grants other access: a conflict/);
  });

  it('the trust policy sizes are reported with their figures; Tether’s documents stay far below 2,048', async () => {
    // Tether's trust documents are a few hundred characters whatever the names (a service
    // account name of 253 characters included), so no sandbox state can trip this check
    // while AWS's floor is 2,048: it is shown so the operator sees the figure.
    const source = newWorkload({ serviceAccount: 's'.repeat(253) });
    const plan = await planOf(
      requestFor({ accountId: TARGET_ACCOUNT, region: REGION, cluster: 'cluster-b', access: VIEW }, source),
    );
    for (const c of plan.targets[0]!.checks!.filter((c) => c.check === 'trust-policy-size')) {
      expect(c.ok).toBe(true);
      expect(c.after!).toBeGreaterThan(100);
      expect(c.after!).toBeLessThan(1024);
    }
  });
});
