/**
 * The workload role (`#resources/workload-role`), against the sandbox and the embedded
 * table: one role per service account, trusted by the issuer for exactly that service
 * account, allowed to assume the target roles of the workload's live links (derived from
 * the membership items), shared by those links and gone with the last of them.
 */
import { CreateRoleCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrentUpdateError, ConflictUnmanagedResourceError } from '#link/errors';
import type { Link, LinkSpec } from '#link/model';
import {
  issuerHostPath,
  oidcProviderArn,
  roleArn,
  WORKLOAD_POLICY_NAME,
  workloadKey,
  workloadRoleName,
} from '#link/names';
import { ownershipTags } from '#link/tags';
import {
  releaseWorkloadRoleStep,
  workloadPolicy,
  workloadRoleStep,
  workloadTrustPolicy,
} from '#resources/workload-role';
import { MembershipStore, REMOVAL_LEASE_MS } from '#store/memberships';
import { membership } from '#store/table';
import {
  clusterIn,
  newSpec,
  OTHER_TARGET_ACCOUNT,
  observe,
  parsed,
  REGION,
  resolvedLink,
  roleIn,
  rootClients,
  SOURCE_ACCOUNT,
  startSandboxRuntime,
  tagMap,
  type SandboxRuntime,
} from './support';

let rt: SandboxRuntime;
let issuer: string;

beforeAll(async () => {
  rt = await startSandboxRuntime();
  issuer = clusterIn(rt.sandbox, { accountId: SOURCE_ACCOUNT, region: REGION, cluster: 'cluster-a' })
    .oidcIssuer!;
});
afterAll(async () => {
  await rt?.close();
});

const roleOf = (spec: LinkSpec) => roleIn(rt.sandbox, SOURCE_ACCOUNT, workloadRoleName(spec.source));
const policyOf = (spec: LinkSpec) => parsed(roleOf(spec)?.inlinePolicies[WORKLOAD_POLICY_NAME]);
const toClusterD = (spec: LinkSpec): LinkSpec => ({
  ...spec,
  target: { accountId: OTHER_TARGET_ACCOUNT, region: 'eu-west-1', cluster: 'cluster-d' },
});
const workloadMembers = (spec: LinkSpec) => membership.workload(workloadKey(spec.source));

/** The link as a reconcile runs its steps: they always read (`#resources/source-side`). */
const reconciling = (link: Link): Link => ({ ...link, status: 'RECONCILING' });

/** Two resolved links of one new workload: to cluster-b and to cluster-d. */
async function twoLinksOfOneWorkload(): Promise<[Link, Link]> {
  const spec = newSpec();
  return [await resolvedLink(rt.runtime, spec), await resolvedLink(rt.runtime, toClusterD(spec))];
}

/** A membership store that lets `meanwhile` run just before its n-th read of the members. */
function _membersChangingOn(
  reads: (n: number) => boolean,
  meanwhile: (store: MembershipStore) => Promise<void>,
) {
  let n = 0;
  return new (class extends MembershipStore {
    override async members(resource: string) {
      n += 1;
      if (reads(n)) await meanwhile(this);
      return super.members(resource);
    }
  })(rt.clients.dynamodb(), rt.runtime.memberships.tableName);
}

describe('workloadTrustPolicy', () => {
  it('lets the issuer’s web identity in for exactly the service account and the sts audience', () => {
    // Arrange
    const host = issuerHostPath(issuer);
    const { source } = newSpec();

    // Act
    const trust = workloadTrustPolicy(SOURCE_ACCOUNT, issuer, source);

    // Assert
    expect(trust.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Federated: oidcProviderArn(SOURCE_ACCOUNT, issuer) },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${host}:sub`]: `system:serviceaccount:${source.namespace}:${source.serviceAccount}`,
            [`${host}:aud`]: 'sts.amazonaws.com',
          },
        },
      },
    ]);
  });
});

describe('workloadRoleStep', () => {
  it('creates the role with the IRSA trust, the constant policy for its workload, and the workload’s tags', async () => {
    // Arrange
    const link = await resolvedLink(rt.runtime, newSpec());
    const { spec } = link;

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => workloadRoleStep(link, rt.runtime));

    // Assert
    const role = roleOf(spec)!;
    expect(role.Arn).toBe(roleArn(SOURCE_ACCOUNT, workloadRoleName(spec.source)));
    expect(value?.result).toMatchObject({ action: 'created' });
    expect(value?.outputs).toEqual({
      workloadRoleArn: role.Arn,
      serviceAccountAnnotation: { 'eks.amazonaws.com/role-arn': role.Arn },
    });
    expect(parsed(role.AssumeRolePolicyDocument)).toEqual(
      workloadTrustPolicy(SOURCE_ACCOUNT, issuer, spec.source),
    );
    expect(policyOf(spec)).toEqual(workloadPolicy(spec.source));
    expect(tagMap(role.Tags)).toEqual({
      'tether:managed': 'true',
      'tether:owner': `workload:${workloadKey(spec.source)}`,
    });
    expect(mutations).toEqual(['iam:CreateRole', 'iam:PutRolePolicy']);
  });

  it('makes no mutating call when run again', async () => {
    // Arrange
    const link = await resolvedLink(rt.runtime, newSpec());
    await workloadRoleStep(link, rt.runtime);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      workloadRoleStep(reconciling(link), rt.runtime),
    );

    // Assert
    expect(value?.result.action).toBe('unchanged');
    expect(mutations).toEqual([]);
  });

  it('leaves the reading to verify for a further link of the workload in an onboard: no IAM call at all', async () => {
    // Arrange
    const [first, further] = await twoLinksOfOneWorkload();
    await workloadRoleStep(first, rt.runtime);
    rt.sandbox.resetCalls();

    // Act
    const outcome = await workloadRoleStep(further, rt.runtime);

    // Assert
    expect(rt.sandbox.calls().filter((c) => c.service === 'iam')).toEqual([]);
    expect(outcome.result).toMatchObject({ action: 'confirmed-before', confirmedBy: first.id });
    expect(outcome.outputs).toEqual({
      workloadRoleArn: roleOf(first.spec)?.Arn,
      serviceAccountAnnotation: { 'eks.amazonaws.com/role-arn': roleOf(first.spec)?.Arn },
    });
  });

  it.each([
    ['in a reconcile', (link: Link) => workloadRoleStep(reconciling(link), rt.runtime)],
    [
      'when the ASL asks it to confirm',
      (link: Link) => workloadRoleStep(link, rt.runtime, { confirm: true }),
    ],
  ])('reads the role %s, though an earlier run confirmed it', async (_case, step) => {
    // Arrange
    const [first, further] = await twoLinksOfOneWorkload();
    await workloadRoleStep(first, rt.runtime);
    rt.sandbox.resetCalls();

    // Act
    const outcome = await step(further);

    // Assert
    expect(outcome.result.action).toBe('unchanged');
    expect(rt.sandbox.calls().map((c) => c.operation)).toEqual(['GetRole', 'GetRolePolicy']);
  });

  it('reads the role when what Tether wants of it changed since it was confirmed', async () => {
    // Arrange: the confirmation of another desired state (an earlier Tether, another boundary)
    const [first, further] = await twoLinksOfOneWorkload();
    await workloadRoleStep(first, rt.runtime);
    await rt.runtime.memberships.confirm(workloadMembers(first.spec), {
      desired: 'digest-of-another-desired-state',
      by: first.id,
      at: new Date().toISOString(),
    });

    // Act
    const { value } = await observe(rt.sandbox, () => workloadRoleStep(further, rt.runtime));

    // Assert
    expect(value?.result.action).toBe('unchanged');
    expect((await rt.runtime.memberships.confirmation(workloadMembers(first.spec)))?.by).toBe(further.id);
  });

  it('narrows a trust widened to every service account of the namespace', async () => {
    // Arrange
    const link = await resolvedLink(rt.runtime, newSpec());
    await workloadRoleStep(link, rt.runtime);
    const host = issuerHostPath(issuer);
    const widened = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: oidcProviderArn(SOURCE_ACCOUNT, issuer) },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringLike: { [`${host}:sub`]: `system:serviceaccount:${link.spec.source.namespace}:*` },
          },
        },
      ],
    };
    await rootClients(rt.sandbox, SOURCE_ACCOUNT).iam.send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: workloadRoleName(link.spec.source),
        PolicyDocument: JSON.stringify(widened),
      }),
    );

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      workloadRoleStep(reconciling(link), rt.runtime),
    );

    // Assert
    expect(value?.result).toMatchObject({ action: 'updated', changes: ['trust'] });
    expect(mutations).toEqual(['iam:UpdateAssumeRolePolicy']);
    expect(parsed(roleOf(link.spec)?.AssumeRolePolicyDocument)).toEqual(
      workloadTrustPolicy(SOURCE_ACCOUNT, issuer, link.spec.source),
    );
  });

  it.each([
    ['Tether did not make', []],
    ['belongs to another workload', ownershipTags('workload:111111111111/ap-southeast-1/cluster-a/x/y')],
  ])('refuses a role of the same name that %s, and changes nothing', async (_case, tags) => {
    // Arrange
    const link = await resolvedLink(rt.runtime, newSpec());
    await rootClients(rt.sandbox, SOURCE_ACCOUNT).iam.send(
      new CreateRoleCommand({
        RoleName: workloadRoleName(link.spec.source),
        AssumeRolePolicyDocument: JSON.stringify(
          workloadTrustPolicy(SOURCE_ACCOUNT, issuer, link.spec.source),
        ),
        Tags: tags,
      }),
    );
    const before = roleOf(link.spec);

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => workloadRoleStep(link, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(ConflictUnmanagedResourceError);
    expect(mutations).toEqual([]);
    expect(roleOf(link.spec)).toEqual(before);
  });

  it('waits while the workload’s last link removes the role: ConcurrentUpdateError, and no role call', async () => {
    // Arrange
    const link = await resolvedLink(rt.runtime, newSpec());
    await rt.runtime.memberships.acquireRemovalLock(
      workloadMembers(link.spec),
      'lnk_leaving',
      Date.now(),
      REMOVAL_LEASE_MS,
    );

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => workloadRoleStep(link, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(ConcurrentUpdateError);
    expect(mutations).toEqual([]);
    expect(roleOf(link.spec)).toBeUndefined();
  });
});

describe('releaseWorkloadRoleStep', () => {
  it('deletes the role with the workload’s last link', async () => {
    // Arrange
    const [toB, toD] = await twoLinksOfOneWorkload();
    await workloadRoleStep(toB, rt.runtime);
    await workloadRoleStep(toD, rt.runtime);
    await releaseWorkloadRoleStep(toB, rt.runtime);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => releaseWorkloadRoleStep(toD, rt.runtime));

    // Assert
    expect(value).toEqual({ result: { action: 'deleted', remainingLinks: 0 } });
    expect(mutations).toEqual(['iam:DeleteRolePolicy', 'iam:DeleteRole']);
    expect(roleOf(toB.spec)).toBeUndefined();
    expect(await rt.runtime.memberships.members(workloadMembers(toB.spec))).toEqual([]);
    // The next link of the workload reads and makes the role again: no confirmation is left.
    expect(await rt.runtime.memberships.confirmation(workloadMembers(toB.spec))).toBeUndefined();
  });

  it('leaves a role of the same name that Tether did not make, even as the last link goes', async () => {
    // Arrange: the onboard joined, then met the look-alike and failed.
    const link = await resolvedLink(rt.runtime, newSpec());
    await rootClients(rt.sandbox, SOURCE_ACCOUNT).iam.send(
      new CreateRoleCommand({
        RoleName: workloadRoleName(link.spec.source),
        AssumeRolePolicyDocument: JSON.stringify(
          workloadTrustPolicy(SOURCE_ACCOUNT, issuer, link.spec.source),
        ),
      }),
    );
    await workloadRoleStep(link, rt.runtime).catch(() => undefined);
    const before = roleOf(link.spec);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => releaseWorkloadRoleStep(link, rt.runtime));

    // Assert
    expect(value).toEqual({ result: { action: 'left-unmanaged', remainingLinks: 0 } });
    expect(mutations).toEqual([]);
    expect(roleOf(link.spec)).toEqual(before);
  });

  it('answers absent when the role is already gone (a re-run)', async () => {
    // Arrange
    const link = await resolvedLink(rt.runtime, newSpec());
    await workloadRoleStep(link, rt.runtime);
    await releaseWorkloadRoleStep(link, rt.runtime);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => releaseWorkloadRoleStep(link, rt.runtime));

    // Assert
    expect(value).toEqual({ result: { action: 'absent', remainingLinks: 0 } });
    expect(mutations).toEqual([]);
  });
});
