/**
 * Offboarding removes exactly what a link made: its own resources always, shared ones only
 * with their last user; the other link of the same workload keeps working.
 */
import { DescribeSecurityGroupRulesCommand } from '@aws-sdk/client-ec2';
import { DescribeAccessEntryCommand } from '@aws-sdk/client-eks';
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { OFFBOARD_STEPS } from '#link/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Link } from '#link/model';
import { demoRequest, type Harness, startHarness } from './harness';
import { neededOwners, presentOwners, tetherResources } from './invariants';

let h: Harness;
let a: any; // demo link → cluster-b
let b: any; // same workload → cluster-d

const clusterD = {
  accountId: '333333333333',
  region: 'eu-west-1',
  cluster: 'cluster-d',
  access: { groups: ['readers'] },
};

async function liveLinks(): Promise<Link[]> {
  return (await h.rt.links.list({}, 100)).items.filter((l) => l.status === 'ACTIVE');
}

async function assertNoOrphanNothingMissing() {
  const present = presentOwners(tetherResources(h.rt.sandbox));
  const needed = neededOwners(await liveLinks());
  expect([...present].sort()).toEqual([...needed].sort());
}

beforeAll(async () => {
  h = await startHarness();
  const ra = await h.api('POST', '/links', demoRequest());
  const rb = await h.api('POST', '/links', demoRequest({ targets: [clusterD] }));
  a = await h.settle(ra.body.links[0].id);
  b = await h.settle(rb.body.links[0].id);
});
afterAll(async () => {
  await h?.close();
});

describe('DELETE /links/{id}', () => {
  it('starts with two ACTIVE links of one workload and exactly the resources they need', async () => {
    expect([a.status, b.status]).toEqual(['ACTIVE', 'ACTIVE']);
    await assertNoOrphanNothingMissing();
  });

  it('answers 202 and ends DELETED, still readable', async () => {
    const res = await h.api('DELETE', `/links/${a.id}`);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('DELETING');
    const deleted = await h.settle(a.id);
    expect(deleted.status).toBe('DELETED');
    for (const step of OFFBOARD_STEPS) {
      expect(deleted.steps[step]?.status, step).toBe('SUCCEEDED');
    }
    expect(deleted.outputs.kubeconfig).toBeUndefined();
    expect(deleted.steps.removeTargetRole.result.action).toBe('deleted');
    expect(deleted.steps.releaseWorkloadRole.result.action).toMatch(/^kept/);
    expect(deleted.steps.releaseOidcProvider.result.action).toBe('kept');
  });

  it("removes the link's own target role, access entry and SG rules", async () => {
    const roleName = a.outputs.targetRoleArn.split('/').pop();
    await expect(
      h.rt.clients.iam('222222222222').send(new GetRoleCommand({ RoleName: roleName })),
    ).rejects.toMatchObject({
      name: 'NoSuchEntityException',
    });
    await expect(
      h.rt.clients
        .eks('222222222222', 'ap-southeast-1')
        .send(
          new DescribeAccessEntryCommand({ clusterName: 'cluster-b', principalArn: a.outputs.targetRoleArn }),
        ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const rules =
      (
        await h.rt.clients.ec2('222222222222', 'ap-southeast-1').send(
          new DescribeSecurityGroupRulesCommand({
            Filters: [{ Name: 'group-id', Values: [a.outputs.egress.securityGroupId] }],
          }),
        )
      ).SecurityGroupRules ?? [];
    expect(rules.filter((r) => r.Tags?.some((t) => t.Key === 'tether:managed'))).toEqual([]);
    expect(rules.length).toBeGreaterThan(0); // the cluster's own rules are still there
  });

  it('leaves the other link of the workload fully working', async () => {
    // Removing a made no write to the workload role: its policy names no link.
    const removed = (await h.api('GET', `/links/${a.id}`)).body;
    expect(removed.steps.releaseWorkloadRole.result).toEqual({ action: 'kept', remainingLinks: 1 });
    // Re-run the onboard of b: every hop verifies and nothing needs changing.
    h.rt.sandbox.resetCalls();
    const { executionArn } = await h.rt.clients.sfn().send(
      new StartExecutionCommand({
        stateMachineArn: h.rt.runtime.stateMachines.onboard,
        name: 'recheck-b',
        input: JSON.stringify({ linkIds: [b.id] }),
      }),
    );
    await h.rt.stepFunctions.waitFor(executionArn!);
    const again = await h.settle(b.id);
    expect(again.status).toBe('ACTIVE');
    expect(again.steps.verify.result.hops.every((x: { ok: boolean }) => x.ok)).toBe(true);
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(0);
    await assertNoOrphanNothingMissing();
  });

  it('lists every run of the link, newest first', async () => {
    const runs = await h.api('GET', `/links/${a.id}/runs`);
    expect(runs.status).toBe(200);
    expect(runs.body.items.map((r: { workflow: string; status: string }) => [r.workflow, r.status])).toEqual([
      ['offboard', 'SUCCEEDED'],
      ['onboard', 'SUCCEEDED'],
    ]);
  });

  it('answers 404 LINK_NOT_FOUND for a DELETED or unknown link', async () => {
    const again = await h.api('DELETE', `/links/${a.id}`);
    expect([again.status, again.body.code]).toEqual([404, 'LINK_NOT_FOUND']);
    const unknown = await h.api('DELETE', '/links/lnk_01M87H2QQVWBJYXZXTDDNSMTNM');
    expect([unknown.status, unknown.body.code]).toEqual([404, 'LINK_NOT_FOUND']);
  });

  it('removes the workload role and the OIDC provider with the last link', async () => {
    expect((await h.api('DELETE', `/links/${b.id}`)).status).toBe(202);
    const deleted = await h.settle(b.id);
    expect(deleted.status).toBe('DELETED');
    expect(deleted.steps.releaseWorkloadRole.result.action).toBe('deleted');
    expect(deleted.steps.releaseOidcProvider.result.action).toBe('deleted');
    expect(tetherResources(h.rt.sandbox)).toEqual([]);
  });

  it('lets the same workload → target be linked again after deletion', async () => {
    const res = await h.api('POST', '/links', demoRequest());
    expect(res.status).toBe(202);
    expect(res.body.links[0].id).not.toBe(a.id);
    const again = await h.settle(res.body.links[0].id);
    expect(again.status).toBe('ACTIVE');
    await assertNoOrphanNothingMissing();
  });

  it('answers 409 LINK_BUSY while a link is being made', async () => {
    const res = await h.api('POST', '/links', demoRequest({ targets: [clusterD] }));
    const id = res.body.links[0].id;
    const del = await h.api('DELETE', `/links/${id}`);
    // Either the onboard is still going (409) or it already finished (202): never both at once.
    expect([409, 202]).toContain(del.status);
    if (del.status === 409) expect(del.body.code).toBe('LINK_BUSY');
    await h.settle(id);
  });
});
