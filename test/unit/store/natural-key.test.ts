/**
 * The natural-key protocol of `LinkStore` (one link per workload → target): reservations
 * decided by one conditional write, never taken over within their lease, adopted by a retry
 * of the same request, committed into the link, released; and `requeue`, which lets exactly
 * one of concurrent callers queue a link for its next run.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinkSpec } from '#link/model';
import { linkNaturalKey } from '#link/names';
import { startDynamo, type EmbeddedDynamo } from '#local/adapters/dynamodb';
import { LinkStore, NATURAL_KEY_LEASE_MS } from '#store/links';
import { keys } from '#store/table';

const TABLE = 'links-test';
let dynamo: EmbeddedDynamo;
let db: DynamoDBDocumentClient;
let store: LinkStore;

beforeAll(async () => {
  dynamo = await startDynamo({ tableName: TABLE });
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
  store = new LinkStore(db, TABLE);
});

afterAll(async () => {
  db.destroy();
  await dynamo.close();
});

let n = 0;
/** A spec of its own workload, so tests do not share keys. */
function spec(access = 'AmazonEKSViewPolicy'): LinkSpec {
  n += 1;
  return {
    source: {
      accountId: '111111111111',
      region: 'ap-southeast-1',
      cluster: 'cluster-a',
      namespace: `ns-${n}`,
      serviceAccount: 'sa',
    },
    target: { accountId: '222222222222', region: 'ap-southeast-1', cluster: 'cluster-b' },
    access: { policyArn: `arn:aws:eks::aws:cluster-access-policy/${access}`, scope: { type: 'cluster' } },
    network: { mode: 'nat' },
    identity: { mode: 'irsa' },
  };
}

const T0 = new Date('2026-01-01T00:00:00.000Z');
const later = (ms: number) => new Date(T0.getTime() + ms);
const keyItem = async (s: LinkSpec) =>
  (await db.send(new GetCommand({ TableName: TABLE, Key: keys.naturalKey(s), ConsistentRead: true }))).Item;

describe('LinkStore.reserve', () => {
  it('lets one of many concurrent requests reserve a workload → target; the others wait, then find its link', async () => {
    const s = spec();
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.reserve(`lnk_${i}`, `req_${i}`, s, T0)),
    );
    const reserved = claims.filter((c) => c.kind === 'reserved');
    expect(reserved).toHaveLength(1);
    expect(claims.filter((c) => c.kind === 'busy')).toHaveLength(19);
    // Reserved, not yet made: no link for a plan, none to list.
    expect(await store.findByNaturalKey(s)).toBeUndefined();

    const r = reserved[0]!;
    if (r.kind !== 'reserved') throw new Error('unreachable');
    const link = await store.commit(r.reservation);
    expect(link).toMatchObject({ status: 'PENDING', version: 1, spec: s, id: r.reservation.linkId });
    const after = await store.reserve('lnk_late', 'req_late', s, later(1));
    expect(after).toEqual({ kind: 'existing', link: await store.get(link.id) });
    expect((await store.findByNaturalKey(s))?.id).toBe(link.id);
  });

  it('never takes over a reservation within its lease; takes it over after (a crashed request)', async () => {
    const s = spec();
    const first = await store.reserve('lnk_first', 'req_first', s, T0);
    expect(first.kind).toBe('reserved');
    expect(await store.reserve('lnk_b', 'req_b', s, later(NATURAL_KEY_LEASE_MS - 1))).toEqual({
      kind: 'busy',
      holder: 'lnk_first',
    });
    const second = await store.reserve('lnk_c', 'req_c', s, later(NATURAL_KEY_LEASE_MS + 1));
    expect(second).toMatchObject({ kind: 'reserved', reservation: { linkId: 'lnk_c' } });
    // The crashed request, had it only been slow, can no longer commit.
    if (first.kind !== 'reserved') throw new Error('unreachable');
    await expect(store.commit(first.reservation)).rejects.toThrow(/taken over/);
  });

  it('gives a retry of the same request its own reservation back, with the same link id', async () => {
    const s = spec();
    await store.reserve('lnk_attempt1', 'req_same', s, T0);
    const retry = await store.reserve('lnk_attempt2', 'req_same', s, later(5));
    expect(retry).toMatchObject({ kind: 'reserved', reservation: { linkId: 'lnk_attempt1' } });
    if (retry.kind !== 'reserved') throw new Error('unreachable');
    const link = await store.commit(retry.reservation);
    expect(link.id).toBe('lnk_attempt1');
    // Committing again (a retry after a crash right after the commit) changes nothing.
    expect(await store.commit(retry.reservation)).toEqual(link);
  });

  it('writes the link of a key committed by a request that crashed before writing it', async () => {
    const s = spec();
    const claim = await store.reserve('lnk_crashed', 'req_crashed', s, T0);
    if (claim.kind !== 'reserved') throw new Error('unreachable');
    await store.commit(claim.reservation);
    await db.send(new DeleteCommand({ TableName: TABLE, Key: keys.link('lnk_crashed') })); // the crash
    // A plan sees the link, and writes nothing.
    expect((await store.findByNaturalKey(s))?.id).toBe('lnk_crashed');
    expect(await store.find('lnk_crashed')).toBeUndefined();
    // The next request writes it, as the key describes it.
    const found = await store.reserve('lnk_other', 'req_other', s, later(1));
    expect(found).toMatchObject({
      kind: 'existing',
      link: { id: 'lnk_crashed', requestId: 'req_crashed', status: 'PENDING', version: 1, spec: s },
    });
    expect(await store.find('lnk_crashed')).toMatchObject({ id: 'lnk_crashed', createdAt: T0.toISOString() });
  });

  it('frees a released reservation at once', async () => {
    const s = spec();
    const claim = await store.reserve('lnk_released', 'req_1', s, T0);
    if (claim.kind !== 'reserved') throw new Error('unreachable');
    await store.release(claim.reservation);
    expect(await keyItem(s)).toBeUndefined();
    expect(await store.reserve('lnk_next', 'req_2', s, later(1))).toMatchObject({ kind: 'reserved' });
  });

  it('takes over the key of a DELETED link', async () => {
    const s = spec();
    const claim = await store.reserve('lnk_gone', 'req_1', s, T0);
    if (claim.kind !== 'reserved') throw new Error('unreachable');
    await store.commit(claim.reservation);
    await store.transition('lnk_gone', 'DELETING', T0.toISOString());
    await store.transition('lnk_gone', 'DELETED', T0.toISOString());
    expect(await store.findByNaturalKey(s)).toBeUndefined();
    expect(await store.reserve('lnk_new', 'req_2', s, later(1))).toMatchObject({
      kind: 'reserved',
      reservation: { linkId: 'lnk_new' },
    });
  });

  it('waits for an older-style key whose link is missing until its lease is over', async () => {
    const s = spec();
    await db.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          ...keys.naturalKey(s),
          linkId: 'lnk_old',
          naturalKey: linkNaturalKey(s),
          createdAt: T0.toISOString(),
        },
      }),
    );
    expect(await store.reserve('lnk_x', 'req_x', s, later(1))).toEqual({ kind: 'busy', holder: 'lnk_old' });
    expect(await store.reserve('lnk_y', 'req_y', s, later(NATURAL_KEY_LEASE_MS + 1))).toMatchObject({
      kind: 'reserved',
      reservation: { linkId: 'lnk_y' },
    });
  });
});

describe('LinkStore.requeue', () => {
  it('queues a FAILED link at its next version for exactly one of concurrent callers', async () => {
    const s = spec();
    const claim = await store.reserve('lnk_failed', 'req_1', s, T0);
    if (claim.kind !== 'reserved') throw new Error('unreachable');
    await store.commit(claim.reservation);
    await store.transition('lnk_failed', 'PROVISIONING', T0.toISOString());
    const failed = await store.transition('lnk_failed', 'FAILED', T0.toISOString());
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store.requeue(failed, later(1).toISOString())),
    );
    const winners = results.filter((r) => r !== undefined);
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ status: 'PENDING', version: failed.version + 1 });
  });

  it('refuses a link whose status cannot be queued again', async () => {
    const s = spec();
    const claim = await store.reserve('lnk_active', 'req_1', s, T0);
    if (claim.kind !== 'reserved') throw new Error('unreachable');
    await store.commit(claim.reservation);
    await store.transition('lnk_active', 'PROVISIONING', T0.toISOString());
    const active = await store.transition('lnk_active', 'ACTIVE', T0.toISOString());
    await expect(store.requeue(active, T0.toISOString())).rejects.toThrow(/cannot be queued/);
  });
});
