/**
 * Verify flags what Tether did not put on its roles (docs/architecture.md#onboard): every
 * policy attached to or inlined in the workload and target roles, and any permissions
 * boundary, is listed, and anything extra — AdministratorAccess attached to the target role
 * by hand, say — fails that role's hop, named; a reconcile then ends the link FAILED.
 */
import {
  AttachRolePolicyCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Link } from '#link/model';
import { targetRoleName, workloadRoleName } from '#link/names';
import { verifyChain } from '#resources/verify';
import { demoRequest, type Harness, startHarness } from './harness';

const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';
const BOUNDARY = 'arn:aws:iam::aws:policy/PowerUserAccess';
/** The permissions boundary Tether puts on the target role (the deployment's, in the target account). */
const TETHER_BOUNDARY = 'arn:aws:iam::222222222222:policy/tether/tether-boundary';

let h: Harness;
let link: Link;
/** IAM of the target and source accounts, as their root users (someone other than Tether). */
let targetIam: ReturnType<Harness['rt']['clients']['iam']>;
let sourceIam: ReturnType<Harness['rt']['clients']['iam']>;

beforeAll(async () => {
  h = await startHarness();
  const res = await h.api('POST', '/links', demoRequest());
  const settled = await h.settle(res.body.links[0].id);
  expect(settled.status).toBe('ACTIVE');
  link = await h.rt.links.get(settled.id);
  // The agent role of each account stands in for a person with IAM rights there.
  targetIam = h.rt.clients.iam(link.spec.target.accountId);
  sourceIam = h.rt.clients.iam(link.spec.source.accountId);
});
afterEach(async () => {
  const target = targetRoleName(link.spec);
  await targetIam
    .send(new DetachRolePolicyCommand({ RoleName: target, PolicyArn: ADMIN }))
    .catch(() => undefined);
  // The boundary back as Tether put it (unless a failed reconcile took the role away).
  await targetIam
    .send(new PutRolePermissionsBoundaryCommand({ RoleName: target, PermissionsBoundary: TETHER_BOUNDARY }))
    .catch(() => undefined);
  await sourceIam
    .send(
      new DeleteRolePolicyCommand({ RoleName: workloadRoleName(link.spec.source), PolicyName: 'by-hand' }),
    )
    .catch(() => undefined);
});
afterAll(async () => {
  await h?.close();
});

const hop = async (name: string) => (await verifyChain(link, h.rt.clients)).find((x) => x.hop === name);

describe('verify lists what is on Tether’s roles', () => {
  it('holds both extras hops for the roles as Tether made them, listing their one inline policy', async () => {
    // Act
    const workload = await hop('workload-role-extras');
    const target = await hop('target-role-extras');

    // Assert
    expect(workload).toMatchObject({
      ok: true,
      detail: expect.stringMatching(
        /inline: tether-assume-target-roles; attached: none; permissions boundary: arn:aws:iam::111111111111:policy\/tether\/tether-boundary\)$/,
      ),
    });
    expect(target).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/inline: tether-describe-cluster; attached: none/),
    });
  });

  it('fails the target role’s hop when the boundary Tether put there was removed, naming it', async () => {
    // Arrange
    await targetIam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: targetRoleName(link.spec) }));

    // Act
    const target = await hop('target-role-extras');

    // Assert
    expect(target).toMatchObject({
      ok: false,
      detail: expect.stringContaining(`no permissions boundary (Tether puts ${TETHER_BOUNDARY})`),
    });
  });

  it('fails the target role’s hop for AdministratorAccess attached by hand, naming it', async () => {
    // Arrange
    await targetIam.send(
      new AttachRolePolicyCommand({ RoleName: targetRoleName(link.spec), PolicyArn: ADMIN }),
    );

    // Act
    const target = await hop('target-role-extras');

    // Assert
    expect(target?.ok).toBe(false);
    expect(target?.detail).toMatch(
      /AdministratorAccess \(arn:aws:iam::aws:policy\/AdministratorAccess\) attached/,
    );
  });

  it('fails the workload role’s hop for an inline policy added by hand, and the target role’s for a boundary', async () => {
    // Arrange
    await sourceIam.send(
      new PutRolePolicyCommand({
        RoleName: workloadRoleName(link.spec.source),
        PolicyName: 'by-hand',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
        }),
      }),
    );
    await targetIam.send(
      new PutRolePermissionsBoundaryCommand({
        RoleName: targetRoleName(link.spec),
        PermissionsBoundary: BOUNDARY,
      }),
    );

    // Act
    const workload = await hop('workload-role-extras');
    const target = await hop('target-role-extras');

    // Assert
    expect(workload).toMatchObject({ ok: false, detail: expect.stringMatching(/inline policy by-hand/) });
    expect(target).toMatchObject({
      ok: false,
      detail: expect.stringContaining(`permissions boundary ${BOUNDARY}`),
    });
  });

  it('ends a reconciled link FAILED when an extra is found, with the hop in the error', async () => {
    // Arrange
    await targetIam.send(
      new AttachRolePolicyCommand({ RoleName: targetRoleName(link.spec), PolicyArn: ADMIN }),
    );

    // Act
    const res = await h.api('POST', `/links/${link.id}/reconcile`);
    const settled = await h.settle(link.id);

    // Assert
    expect(res.status).toBe(202);
    expect(settled.status).toBe('FAILED');
    expect(settled.error).toMatchObject({ code: 'VERIFICATION_FAILED', step: 'verify' });
    expect(settled.error.message).toMatch(/target-role-extras .*AdministratorAccess/);
  });
});
