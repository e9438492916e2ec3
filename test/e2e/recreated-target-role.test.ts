/**
 * A target role deleted and made again under the same ARN. EKS binds an access entry to the
 * unique id its role had when the entry was made, so the old entry lets nobody in although
 * it still names the ARN (docs/aws-facts.md#access-entries-keep-the-role-id). Verify must
 * say so, and a reconcile must make the entry again.
 */
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Link } from '#link/model';
import { kubernetesUsername, TARGET_POLICY_NAME, targetRoleName } from '#link/names';
import { verifyChain } from '#resources/verify';
import { demoRequest, type Harness, startHarness } from './harness';
import { byHand, workloadIdentityOnTarget } from './probe';

const TARGET = '222222222222';
const REGION = 'ap-southeast-1';

let h: Harness;
let link: Link;

beforeAll(async () => {
  h = await startHarness();
  const res = await h.api('POST', '/links', demoRequest());
  const settled = await h.settle(res.body.links[0].id);
  expect(settled.status).toBe('ACTIVE');
  link = await h.rt.links.get(settled.id);
});
afterAll(async () => {
  await h?.close();
});

/** Deletes the target role by hand; with `remake`, makes it again exactly as it was (a restore from a backup). */
async function deleteTargetRole(remake: boolean) {
  const { iam } = byHand(h.rt.sandbox, TARGET, REGION);
  const RoleName = targetRoleName(link.spec);
  const role = (await iam.send(new GetRoleCommand({ RoleName }))).Role!;
  const policy = (await iam.send(new GetRolePolicyCommand({ RoleName, PolicyName: TARGET_POLICY_NAME })))
    .PolicyDocument!;
  await iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName: TARGET_POLICY_NAME }));
  await iam.send(new DeleteRoleCommand({ RoleName }));
  if (!remake) return role.RoleId!;
  const again = await iam.send(
    new CreateRoleCommand({
      RoleName,
      Path: role.Path,
      AssumeRolePolicyDocument: decodeURIComponent(role.AssumeRolePolicyDocument!),
      Tags: role.Tags,
      // The same role as before in every respect but its id: its boundary too.
      ...(role.PermissionsBoundary?.PermissionsBoundaryArn
        ? { PermissionsBoundary: role.PermissionsBoundary.PermissionsBoundaryArn }
        : {}),
    }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName,
      PolicyName: TARGET_POLICY_NAME,
      PolicyDocument: decodeURIComponent(policy),
    }),
  );
  expect(again.Role?.RoleId).not.toBe(role.RoleId);
  return role.RoleId!;
}

describe('a target role made again under the same ARN', () => {
  it('lets the workload in through the link before', async () => {
    const user = await workloadIdentityOnTarget(h.rt.sandbox, link);
    expect(user.username).toBe(kubernetesUsername(link.spec).replace('{{SessionName}}', 'kubectl'));
  });

  it('leaves an access entry that lets nobody in, and verify fails exactly the cluster-access hop', async () => {
    // Arrange
    const oldId = await deleteTargetRole(true);
    // Act
    const refused = await workloadIdentityOnTarget(h.rt.sandbox, link).catch((err: Error) => err);
    const hops = await verifyChain(link, h.rt.clients);
    // Assert
    expect((refused as { code?: string }).code).toBe('Unauthorized');
    const failed = hops.filter((x) => !x.ok);
    expect(failed.map((x) => x.hop)).toEqual(['cluster-access']);
    expect(failed[0]?.detail).toContain(oldId);
  });

  it('is healed by a reconcile that makes the entry again for the new role, and only that', async () => {
    // Arrange
    h.rt.sandbox.resetCalls();
    // Act
    const res = await h.api('POST', `/links/${link.id}/reconcile`);
    expect(res.status).toBe(202);
    const after = await h.settle(link.id);
    // Assert
    expect(after.status).toBe('ACTIVE');
    expect(after.steps.accessEntry.result.action).toBe('replaced');
    expect(after.steps.targetRole.result.action).toBe('unchanged');
    const mutations = h.rt.sandbox
      .calls()
      .filter((c) => c.mutating && c.ok)
      .map((c) => `${c.service}:${c.operation}`);
    expect(mutations).toEqual([
      'eks:DeleteAccessEntry',
      'eks:CreateAccessEntry',
      'eks:AssociateAccessPolicy',
    ]);
    expect((await workloadIdentityOnTarget(h.rt.sandbox, link)).username).toMatch(/^tether:/);
    expect((await verifyChain(await h.rt.links.get(link.id), h.rt.clients)).every((x) => x.ok)).toBe(true);
  });

  it('is healed as well when the role was only deleted: the reconcile makes both again', async () => {
    // Arrange
    await deleteTargetRole(false);
    // Act
    await h.api('POST', `/links/${link.id}/reconcile`);
    const after = await h.settle(link.id);
    // Assert
    expect(after.status).toBe('ACTIVE');
    expect(after.steps.targetRole.result.action).toBe('created');
    expect(after.steps.accessEntry.result.action).toBe('replaced');
    expect((await workloadIdentityOnTarget(h.rt.sandbox, link)).groups).toContain('system:authenticated');
  });
});
