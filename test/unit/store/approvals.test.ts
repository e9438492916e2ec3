/**
 * Who asks, and the approver's decision, in the link records (`#store/links`): a link made
 * for a request that needs an approver is AWAITING_APPROVAL from its first write; an
 * approval queues it (PENDING), a rejection ends it (REJECTED, natural key released); each
 * decision is recorded once, on the version read.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '#link/caller';
import { ConcurrentUpdateError, LinkStateError } from '#link/errors';
import type { ApprovalRecord, Link, LinkSpec } from '#link/model';
import { DELETED_TTL_SECONDS, type LinkOrigin, type LinkStore } from '#store/links';
import { keys } from '#store/table';
import { type EmbeddedTable, startTable, unique } from './support';

const NOW = '2026-01-01T00:00:00.000Z';
const LATER = '2026-01-01T00:05:00.000Z';
const ALICE: Caller = {
  arn: 'arn:aws:sts::111111111111:assumed-role/developer/alice',
  accountId: '111111111111',
};
const BOB: Caller = {
  arn: 'arn:aws:sts::222222222222:assumed-role/cluster-owner/bob',
  accountId: '222222222222',
};

let table: EmbeddedTable;
let links: LinkStore;

beforeAll(async () => {
  table = await startTable();
  links = table.stores.links;
});
afterAll(async () => {
  await table?.close();
});

function specOf(): LinkSpec {
  const n = unique('w');
  return {
    source: {
      accountId: '111111111111',
      region: 'ap-southeast-1',
      cluster: 'cluster-a',
      namespace: `ns-${n}`,
      serviceAccount: `sa-${n}`,
    },
    target: { accountId: '222222222222', region: 'ap-southeast-1', cluster: 'cluster-b' },
    access: {
      policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
      scope: { type: 'cluster' },
    },
    network: { mode: 'nat' },
    identity: { mode: 'irsa' },
  };
}

const decision = (d: 'approve' | 'reject', by: Caller = BOB): ApprovalRecord => ({
  decision: d,
  reason: `${d} for the test`,
  by,
  at: LATER,
});

/**
 * A link made as `POST /links` makes it: reserve the workload → target with the origin, then
 * commit; a live link already holding it is returned, not created.
 */
async function createOrGet(
  id: string,
  requestId: string,
  spec: LinkSpec,
  now: string,
  origin: LinkOrigin = {},
): Promise<{ link: Link; created: boolean }> {
  const claim = await links.reserve(id, requestId, spec, new Date(now), origin);
  if (claim.kind === 'existing') return { link: claim.link, created: false };
  if (claim.kind !== 'reserved') throw new Error(`natural key held by ${claim.holder}`);
  return { link: await links.commit(claim.reservation), created: true };
}

describe('LinkStore.reserve with an origin', () => {
  it('records who created the link, as its creator and its requester', async () => {
    // Act
    const { link } = await createOrGet(unique('lnk'), unique('req'), specOf(), NOW, {
      createdBy: ALICE,
    });

    // Assert
    expect(link).toMatchObject({ status: 'PENDING', createdBy: ALICE, requestedBy: ALICE });
    expect(await links.get(link.id)).toEqual(link);
  });

  it('writes a link that needs an approver AWAITING_APPROVAL in its first write', async () => {
    // Act
    const { link, created } = await createOrGet(unique('lnk'), unique('req'), specOf(), NOW, {
      createdBy: ALICE,
      awaitingApproval: true,
    });

    // Assert
    expect(created).toBe(true);
    expect(link).toMatchObject({ status: 'AWAITING_APPROVAL', version: 1 });
    expect((await links.get(link.id)).status).toBe('AWAITING_APPROVAL');
  });

  it('returns the waiting link to a second request for the same workload → target', async () => {
    // Arrange
    const spec = specOf();
    const first = await createOrGet(unique('lnk'), unique('req'), spec, NOW, {
      awaitingApproval: true,
    });

    // Act
    const second = await createOrGet(unique('lnk'), unique('req'), spec, LATER, { createdBy: BOB });

    // Assert
    expect(second).toEqual({ link: first.link, created: false });
  });
});

describe('LinkStore.decideApproval', () => {
  it('queues an approved link (PENDING) and records the decision', async () => {
    // Arrange
    const { link } = await createOrGet(unique('lnk'), unique('req'), specOf(), NOW, {
      createdBy: ALICE,
      awaitingApproval: true,
    });

    // Act
    const decided = await links.decideApproval(link, decision('approve'));

    // Assert
    expect(decided).toMatchObject({
      status: 'PENDING',
      version: 2,
      updatedAt: LATER,
      approvals: [decision('approve')],
      requestedBy: ALICE,
    });
    expect(await links.get(link.id)).toEqual(decided);
  });

  it('ends a rejected link REJECTED with a TTL and releases its workload → target', async () => {
    // Arrange
    const spec = specOf();
    const { link } = await createOrGet(unique('lnk'), unique('req'), spec, NOW, {
      awaitingApproval: true,
    });

    // Act
    const decided = await links.decideApproval(link, decision('reject'));
    const again = await createOrGet(unique('lnk'), unique('req'), spec, LATER);
    const item = await table.db.send(
      new GetCommand({ TableName: table.tableName, Key: keys.link(link.id), ConsistentRead: true }),
    );

    // Assert
    expect(decided).toMatchObject({ status: 'REJECTED', approvals: [decision('reject')] });
    expect(item.Item?.expiresAt).toBe(Math.floor(Date.parse(LATER) / 1000) + DELETED_TTL_SECONDS);
    expect(await links.findByNaturalKey(spec)).toEqual(again.link);
    expect(again).toMatchObject({ created: true, link: { status: 'PENDING' } });
  });

  it('refuses a link that is not waiting, and changes nothing', async () => {
    // Arrange
    const { link } = await createOrGet(unique('lnk'), unique('req'), specOf(), NOW);

    // Act
    const deciding = links.decideApproval(link, decision('approve'));

    // Assert
    await expect(deciding).rejects.toBeInstanceOf(LinkStateError);
    expect(await links.get(link.id)).toEqual(link);
  });

  it('decides once when two approvers race on one version', async () => {
    // Arrange
    const { link } = await createOrGet(unique('lnk'), unique('req'), specOf(), NOW, {
      awaitingApproval: true,
    });

    // Act
    const outcomes = await Promise.allSettled([
      links.decideApproval(link, decision('approve')),
      links.decideApproval(link, decision('reject')),
    ]);

    // Assert
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const loser = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(loser.reason).toBeInstanceOf(ConcurrentUpdateError);
    expect((await links.get(link.id)).approvals).toHaveLength(1);
  });
});

describe('who asks for a run', () => {
  it('records the requester of a reconcile on the version read, and refuses a stale version', async () => {
    // Arrange
    const { link } = await createOrGet(unique('lnk'), unique('req'), specOf(), NOW, {
      createdBy: ALICE,
    });

    // Act
    const recorded = await links.recordRequester(link.id, link.version, BOB, LATER);
    const stale = links.recordRequester(link.id, link.version, ALICE, LATER);

    // Assert
    expect(recorded).toMatchObject({ requestedBy: BOB, createdBy: ALICE, version: 2 });
    await expect(stale).rejects.toBeInstanceOf(ConcurrentUpdateError);
    expect((await links.get(link.id)).requestedBy).toEqual(BOB);
  });

  it('records the requester of a deletion with the status change', async () => {
    // Arrange
    const { link } = await createOrGet(unique('lnk'), unique('req'), specOf(), NOW, {
      createdBy: ALICE,
    });
    await links.transition(link.id, 'FAILED', NOW);

    // Act
    const deleting = await links.transition(link.id, 'DELETING', LATER, { requestedBy: BOB });

    // Assert
    expect(deleting).toMatchObject({ status: 'DELETING', requestedBy: BOB, createdBy: ALICE });
  });
});
