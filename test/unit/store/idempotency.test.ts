/**
 * Idempotency keys of `POST /links` (`#store/idempotency`), against the embedded DynamoDB:
 * a key is new once, in flight while its request runs, done with its response after, reused
 * with another body, and taken over after its lease when its caller crashed.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_LEASE_MS, IDEMPOTENCY_TTL_SECONDS, type IdempotencyStore } from '#store/idempotency';
import { keys } from '#store/table';
import { type EmbeddedTable, startTable, unique } from './support';

const NOW = Date.parse('2026-01-01T00:00:00.000Z');
const BODY = 'sha256-of-body-a';
const OTHER_BODY = 'sha256-of-body-b';
const RESPONSE = { statusCode: 202, body: { links: [{ id: 'lnk_1' }] } };

let table: EmbeddedTable;
let idempotency: IdempotencyStore;

beforeAll(async () => {
  table = await startTable();
  idempotency = table.stores.idempotency;
});
afterAll(async () => {
  await table?.close();
});

describe('IdempotencyStore.begin', () => {
  it('claims a key it has never seen: new, in flight, remembered for 24 hours', async () => {
    // Arrange
    const key = unique('key');

    // Act
    const claim = await idempotency.begin(key, BODY, NOW);

    // Assert
    expect(claim).toEqual({ state: 'new' });
    const item = (
      await table.db.send(new GetCommand({ TableName: table.tableName, Key: keys.idempotency(key) }))
    ).Item;
    expect(item).toMatchObject({
      bodyHash: BODY,
      state: 'IN_FLIGHT',
      leaseUntil: NOW + IDEMPOTENCY_LEASE_MS,
      expiresAt: NOW / 1000 + IDEMPOTENCY_TTL_SECONDS,
    });
  });

  it('answers in-flight to the same body while the first request runs', async () => {
    // Arrange
    const key = unique('key');
    await idempotency.begin(key, BODY, NOW);

    // Act
    const again = await idempotency.begin(key, BODY, NOW + 1000);

    // Assert
    expect(again).toEqual({ state: 'in-flight' });
  });

  it('answers in-flight up to the very end of the lease', async () => {
    // Arrange
    const key = unique('key');
    await idempotency.begin(key, BODY, NOW);

    // Act
    const atLeaseEnd = await idempotency.begin(key, BODY, NOW + IDEMPOTENCY_LEASE_MS);

    // Assert
    expect(atLeaseEnd).toEqual({ state: 'in-flight' });
  });

  it('answers done with the stored response once the first request completed', async () => {
    // Arrange
    const key = unique('key');
    await idempotency.begin(key, BODY, NOW);
    await idempotency.complete(key, RESPONSE);

    // Act
    const replay = await idempotency.begin(key, BODY, NOW + 5000);

    // Assert
    expect(replay).toEqual({ state: 'done', response: RESPONSE });
  });

  it('answers reused to another body, in flight or done', async () => {
    // Arrange
    const inFlight = unique('key');
    const done = unique('key');
    await idempotency.begin(inFlight, BODY, NOW);
    await idempotency.begin(done, BODY, NOW);
    await idempotency.complete(done, RESPONSE);

    // Act
    const whileInFlight = await idempotency.begin(inFlight, OTHER_BODY, NOW + 1);
    const afterDone = await idempotency.begin(done, OTHER_BODY, NOW + 1);

    // Assert
    expect(whileInFlight).toEqual({ state: 'reused' });
    expect(afterDone).toEqual({ state: 'reused' });
  });

  it('lets the same body take over a key whose caller crashed, once the lease has passed', async () => {
    // Arrange
    const key = unique('key');
    await idempotency.begin(key, BODY, NOW);
    const later = NOW + IDEMPOTENCY_LEASE_MS + 1;

    // Act
    const takeover = await idempotency.begin(key, BODY, later);
    const behind = await idempotency.begin(key, BODY, later + 1);

    // Assert
    expect(takeover).toEqual({ state: 'new' });
    expect(behind).toEqual({ state: 'in-flight' });
  });

  it('never lets another body take over an abandoned in-flight key', async () => {
    // Arrange
    const key = unique('key');
    await idempotency.begin(key, BODY, NOW);

    // Act
    const other = await idempotency.begin(key, OTHER_BODY, NOW + IDEMPOTENCY_LEASE_MS + 1);

    // Assert
    expect(other).toEqual({ state: 'reused' });
  });

  it('never takes over a completed key, however old', async () => {
    // Arrange
    const key = unique('key');
    await idempotency.begin(key, BODY, NOW);
    await idempotency.complete(key, RESPONSE);

    // Act
    const muchLater = await idempotency.begin(key, BODY, NOW + 10 * IDEMPOTENCY_LEASE_MS);

    // Assert
    expect(muchLater).toEqual({ state: 'done', response: RESPONSE });
  });

  it('gives exactly one of two concurrent claims of a new key', async () => {
    // Arrange
    const key = unique('key');

    // Act
    const claims = await Promise.all([idempotency.begin(key, BODY, NOW), idempotency.begin(key, BODY, NOW)]);

    // Assert
    expect(claims.map((c) => c.state).sort()).toEqual(['in-flight', 'new']);
  });
});

describe('IdempotencyStore.abandon', () => {
  it('frees the key of a failed request, so a retry with it is new, with any body', async () => {
    // Arrange
    const key = unique('key');
    await idempotency.begin(key, BODY, NOW);

    // Act
    await idempotency.abandon(key);
    const retry = await idempotency.begin(key, OTHER_BODY, NOW + 1);

    // Assert
    expect(retry).toEqual({ state: 'new' });
  });
});
