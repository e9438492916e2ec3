/**
 * Approval end to end (docs/architecture.md#approval): a request the policies mark as
 * dangerous waits in AWAITING_APPROVAL with nothing made — across a restart of the whole
 * control plane — until a caller allowed to approve for that target decides. Approval
 * starts the onboard; rejection ends the link REJECTED. The decision shows in the link and
 * beside its runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalRuntime } from '#local/runtime';
import { tetherResources } from './invariants';
import { demoRequest, type Harness, harnessFor } from './harness';

const ALICE = 'arn:aws:sts::111111111111:assumed-role/developer/alice';
const BOB = 'arn:aws:sts::222222222222:assumed-role/cluster-owner/bob';
const MALLORY = 'arn:aws:iam::444444444444:user/mallory';
const CLUSTER_ADMIN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';

const dirs: string[] = [];
const open: Harness[] = [];
afterAll(async () => {
  for (const h of open) await h.close().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<Harness> {
  const h = harnessFor(await startLocalRuntime({ dataDir, retryIntervalMs: 1 }));
  open.push(h);
  return h;
}
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tether-approval-'));
  dirs.push(d);
  return d;
}
const as = (who: string) => ({ 'x-tether-caller': who });

function clusterAdminRequest(namespace = 'kubeai-chatbot') {
  const body = demoRequest();
  body.source = { ...body.source, namespace };
  body.targets = [{ ...body.targets[0], access: { policyArn: CLUSTER_ADMIN, scope: { type: 'cluster' } } }];
  return body;
}

describe('a cluster-admin request', () => {
  it('waits with nothing made across a restart, then an approver of the target starts its onboard', async () => {
    // Arrange: alice asks; the control plane stops and starts again.
    const dataDir = tempDir();
    const first = await start(dataDir);
    const asked = await first.api('POST', '/links', clusterAdminRequest(), as(ALICE));
    const id = asked.body.links[0].id as string;
    await first.rt.stepFunctions.idle();
    expect(asked.status).toBe(202);
    expect(asked.body.links[0].status).toBe('AWAITING_APPROVAL');
    expect(first.rt.sandbox.callCounts({ mutating: true })).toBe(0);
    await first.close();
    const second = await start(dataDir);

    // Act: the wait is still there, and nothing was started for it.
    const waiting = await second.api('GET', `/links/${id}`, undefined, as(ALICE));
    const runsBefore = await second.api('GET', `/links/${id}/runs`, undefined, as(ALICE));
    const madeBefore = tetherResources(second.rt.sandbox);
    const selfApproval = await second.api(
      'POST',
      `/links/${id}/approval`,
      { decision: 'approve', reason: 'mine' },
      as(ALICE),
    );
    const strangerApproval = await second.api(
      'POST',
      `/links/${id}/approval`,
      { decision: 'approve', reason: 'x' },
      as(MALLORY),
    );
    const approved = await second.api(
      'POST',
      `/links/${id}/approval`,
      { decision: 'approve', reason: 'Migration window, ticket OPS-1234' },
      as(BOB),
    );
    const settled = await second.settle(id);
    const runs = await second.api('GET', `/links/${id}/runs`, undefined, as(BOB));
    const again = await second.api(
      'POST',
      `/links/${id}/approval`,
      { decision: 'reject', reason: 'late' },
      as(BOB),
    );

    // Assert
    expect(second.rt.redriven).toEqual([]);
    expect(waiting.body).toMatchObject({ status: 'AWAITING_APPROVAL', steps: {}, createdBy: { arn: ALICE } });
    expect(runsBefore.body).toEqual({ items: [] });
    expect(madeBefore).toEqual([]);
    expect(selfApproval.status).toBe(403);
    expect(selfApproval.body).toMatchObject({ code: 'ACCESS_DENIED', policies: ['no-self-approval'] });
    expect(strangerApproval.status).toBe(403);
    expect(approved.status).toBe(202);
    expect(approved.body).toMatchObject({ id, status: 'PENDING', decision: 'approve' });
    expect(settled.status).toBe('ACTIVE');
    expect(settled.approvals).toEqual([
      {
        decision: 'approve',
        reason: 'Migration window, ticket OPS-1234',
        by: { arn: BOB, accountId: '222222222222' },
        at: expect.any(String),
      },
    ]);
    expect(settled.outputs.access).toBeDefined();
    expect(runs.body.items).toEqual([
      expect.objectContaining({
        name: approved.body.execution,
        workflow: 'onboard',
        status: 'SUCCEEDED',
        requestedBy: ALICE,
      }),
    ]);
    expect(runs.body.approvals).toEqual(settled.approvals);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('NOT_AWAITING_APPROVAL');
  });
});

describe('a request for explicit CIDRs', () => {
  it('ends REJECTED with nothing made when the approver rejects it, and may be asked for again', async () => {
    // Arrange
    const h = await start(tempDir());
    const body = { ...demoRequest(), network: { mode: 'cidrs', cidrs: ['18.0.35.0/24'] } };
    const asked = await h.api('POST', '/links', body, as(ALICE));
    const id = asked.body.links[0].id as string;

    // Act
    const rejected = await h.api(
      'POST',
      `/links/${id}/approval`,
      { decision: 'reject', reason: 'Use nat' },
      as(BOB),
    );
    await h.rt.stepFunctions.idle();
    const link = await h.api('GET', `/links/${id}`, undefined, as(ALICE));
    const retry = await h.api('POST', '/links', body, as(ALICE));

    // Assert
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ id, status: 'REJECTED', decision: 'reject' });
    expect(link.body).toMatchObject({
      status: 'REJECTED',
      approvals: [{ decision: 'reject', reason: 'Use nat' }],
    });
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(0);
    expect(retry.status).toBe(202);
    expect(retry.body.links[0]).toMatchObject({ status: 'AWAITING_APPROVAL', created: true });
    expect(retry.body.links[0].id).not.toBe(id);
  });

  it('may be withdrawn by the requester while it waits', async () => {
    // Arrange
    const h = await start(tempDir());
    const body = { ...demoRequest(), network: { mode: 'cidrs', cidrs: ['52.94.76.0/24'] } };
    const id = (await h.api('POST', '/links', body, as(ALICE))).body.links[0].id as string;

    // Act
    const withdrawn = await h.api('DELETE', `/links/${id}`, undefined, as(ALICE));
    const settled = await h.settle(id);

    // Assert
    expect(withdrawn.status).toBe(202);
    expect(settled.status).toBe('DELETED');
    expect(tetherResources(h.rt.sandbox)).toEqual([]);
  });
});
