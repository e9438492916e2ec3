/**
 * The Pod Identity association of a `pod-identity` link (`#resources/pod-identity`), against
 * the sandbox: made once and then left alone (a re-run makes no mutating call), its roles
 * brought back when they drift (UpdatePodIdentityAssociation), deleted and made anew when
 * the recorded association names another service account (namespace, service account and
 * cluster are immutable), never one Tether did not make; removed with its link only.
 */
import { CreateRoleCommand, GetRoleCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreatePodIdentityAssociationCommand,
  UpdatePodIdentityAssociationCommand,
} from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictUnmanagedResourceError } from '#link/errors';
import type { LinkSpec } from '#link/model';
import { owners, roleArn, sourceRoleArnOf, targetRoleName } from '#link/names';
import { ownershipTagMap } from '#link/tags';
import {
  ensurePodIdentityAssociation,
  podIdentityAssociationStep,
  removePodIdentityAssociationStep,
} from '#resources/pod-identity';
import { verifyChain } from '#resources/verify';
import { workloadRoleStep } from '#resources/workload-role';
import {
  clusterIn,
  linkOf,
  newSpec,
  observe,
  onboard,
  resolvedLink,
  rootClients,
  SOURCE_ACCOUNT,
  type SandboxRuntime,
  startSandboxRuntime,
} from './support';

let rt: SandboxRuntime;
beforeAll(async () => {
  rt = await startSandboxRuntime();
});
afterAll(async () => {
  await rt?.close();
});

const podSpec = (): LinkSpec => newSpec({ identity: { mode: 'pod-identity' } });
const associationsIn = () =>
  Object.values(
    clusterIn(rt.sandbox, { accountId: SOURCE_ACCOUNT, region: 'ap-southeast-1', cluster: 'cluster-a' })
      .podIdentityAssociations ?? {},
  );

/** A pod-identity link whose workload role exists. */
async function withWorkloadRole(spec = podSpec()) {
  const link = await resolvedLink(rt.runtime, spec);
  await workloadRoleStep(link, rt.runtime);
  return link;
}

describe('Ensure Pod Identity association', () => {
  it('makes the association naming the workload role and the target role, then changes nothing', async () => {
    // Arrange
    const link = await withWorkloadRole();
    // Act
    const first = await podIdentityAssociationStep(link, rt.runtime);
    const again = await observe(rt.sandbox, () => podIdentityAssociationStep(link, rt.runtime));
    // Assert
    expect(first.result.action).toBe('created');
    const made = associationsIn().find((a) => a.serviceAccount === link.spec.source.serviceAccount);
    expect(made).toMatchObject({
      namespace: link.spec.source.namespace,
      roleArn: sourceRoleArnOf(link.spec),
      targetRoleArn: roleArn(link.spec.target.accountId, targetRoleName(link.spec)),
      disableSessionTags: false,
      tags: ownershipTagMap(owners.link(link.spec)),
    });
    expect(again.value?.result.action).toBe('unchanged');
    expect(again.mutations).toEqual([]);
  });

  it('brings the target role back when someone changed it', async () => {
    const link = await withWorkloadRole();
    const { outputs } = await podIdentityAssociationStep(link, rt.runtime);
    const { eks } = rootClients(rt.sandbox, SOURCE_ACCOUNT);
    await eks.send(
      new UpdatePodIdentityAssociationCommand({
        clusterName: 'cluster-a',
        associationId: outputs?.podIdentityAssociation.associationId,
        targetRoleArn: 'arn:aws:iam::222222222222:role/elsewhere',
      }),
    );
    const fixed = await podIdentityAssociationStep(link, rt.runtime);
    expect(fixed.result.action).toBe('updated');
    expect(fixed.outputs?.podIdentityAssociation.targetRoleArn).toBe(
      roleArn(link.spec.target.accountId, targetRoleName(link.spec)),
    );
  });

  it('replaces a recorded association that names another service account (immutable fields): delete, then create', async () => {
    // Arrange: the link's recorded association, tagged as the link's, is on another service account.
    const link = await withWorkloadRole();
    const { eks } = rootClients(rt.sandbox, SOURCE_ACCOUNT);
    const moved = (
      await eks.send(
        new CreatePodIdentityAssociationCommand({
          clusterName: 'cluster-a',
          namespace: link.spec.source.namespace,
          serviceAccount: `${link.spec.source.serviceAccount}-renamed`,
          roleArn: sourceRoleArnOf(link.spec),
          targetRoleArn: roleArn(link.spec.target.accountId, targetRoleName(link.spec)),
          tags: ownershipTagMap(owners.link(link.spec)),
        }),
      )
    ).association;
    const recorded = linkOf(link.spec, {
      ...link.outputs,
      podIdentityAssociation: {
        associationId: moved?.associationId,
        associationArn: moved?.associationArn,
        roleArn: moved?.roleArn,
        targetRoleArn: moved?.targetRoleArn,
        takesEffect: '',
      },
    });
    // Act
    const out = await ensurePodIdentityAssociation(recorded, rt.runtime);
    // Assert
    expect(out.action).toBe('replaced');
    expect(out.replaced).toBe(moved?.associationId);
    expect(out.association.associationId).not.toBe(moved?.associationId);
    const ids = associationsIn().map((a) => a.associationId);
    expect(ids).not.toContain(moved?.associationId);
    expect(
      associationsIn().find((a) => a.associationId === out.association.associationId)?.serviceAccount,
    ).toBe(link.spec.source.serviceAccount);
  });

  it('refuses the service account’s association that someone else made, and leaves it', async () => {
    const spec = podSpec();
    const { eks, iam } = rootClients(rt.sandbox, SOURCE_ACCOUNT);
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: `theirs-${spec.source.serviceAccount}`,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        }),
      }),
    );
    await eks.send(
      new CreatePodIdentityAssociationCommand({
        clusterName: 'cluster-a',
        namespace: spec.source.namespace,
        serviceAccount: spec.source.serviceAccount,
        roleArn: role.Role?.Arn,
      }),
    );
    const link = await withWorkloadRole(spec);
    const attempt = await observe(rt.sandbox, () => podIdentityAssociationStep(link, rt.runtime));
    expect(attempt.error).toBeInstanceOf(ConflictUnmanagedResourceError);
    expect(attempt.mutations).toEqual([]);
    const removed = await removePodIdentityAssociationStep(link, rt.runtime);
    expect(removed.result.action).toBe('left-unmanaged');
    expect(associationsIn().filter((a) => a.serviceAccount === spec.source.serviceAccount)).toHaveLength(1);
  });

  it('does nothing in the other modes', async () => {
    const link = linkOf(newSpec());
    const out = await observe(rt.sandbox, () => podIdentityAssociationStep(link, rt.runtime));
    expect(out.value?.result.action).toBe('not-needed');
    expect(out.mutations).toEqual([]);
  });
});

describe('Remove Pod Identity association', () => {
  it('deletes the link’s association, and is done on a re-run', async () => {
    const link = await withWorkloadRole();
    await podIdentityAssociationStep(link, rt.runtime);
    expect((await removePodIdentityAssociationStep(link, rt.runtime)).result.action).toBe('deleted');
    expect(associationsIn().filter((a) => a.serviceAccount === link.spec.source.serviceAccount)).toEqual([]);
    expect((await removePodIdentityAssociationStep(link, rt.runtime)).result.action).toBe('absent');
  });
});

describe('Verify role chain, mode pod-identity', () => {
  const failedHops = async (link: Awaited<ReturnType<typeof onboard>>) =>
    (await verifyChain(link, rt.clients)).filter((x) => !x.ok).map((x) => x.hop);

  it('holds hop by hop once onboarded, and names the hop a change breaks', async () => {
    // Arrange
    const link = await onboard(rt.runtime, { ...podSpec(), network: { mode: 'none' } });
    expect(await failedHops(link)).toEqual([]);
    const { eks } = rootClients(rt.sandbox, SOURCE_ACCOUNT);
    const target = rootClients(rt.sandbox, link.spec.target.accountId);
    const id = link.outputs.podIdentityAssociation?.associationId;
    // Act 1: session tags disabled on the association.
    await eks.send(
      new UpdatePodIdentityAssociationCommand({
        clusterName: 'cluster-a',
        associationId: id,
        disableSessionTags: true,
      }),
    );
    // Assert 1
    expect(await failedHops(link)).toEqual(['pod-identity-association']);
    await eks.send(
      new UpdatePodIdentityAssociationCommand({
        clusterName: 'cluster-a',
        associationId: id,
        disableSessionTags: false,
      }),
    );
    // Act 2: the target trust pins another service account's tags.
    const name = targetRoleName(link.spec);
    const trust = JSON.parse(
      decodeURIComponent(
        (await target.iam.send(new GetRoleCommand({ RoleName: name }))).Role?.AssumeRolePolicyDocument ?? '',
      ),
    );
    trust.Statement[0].Condition.StringEquals['aws:RequestTag/kubernetes-service-account'] = 'someone-else';
    await target.iam.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(trust) }),
    );
    // Assert 2
    expect(await failedHops(link)).toEqual([
      'target-role-trusts-workload-role',
      'target-role-allows-session-tags',
    ]);
  });
});
