/**
 * Idempotency keys of `POST /links` (the IETF httpapi Idempotency-Key draft): a key is
 * claimed for a request body (by hash) while the request runs, then holds its response.
 * The same key with another body is `reused` (422), with the same body while the first is
 * still running `in-flight` (409), and after it finished `done` (the stored response is
 * replayed). A key still in flight after {@link IDEMPOTENCY_LEASE_MS} was abandoned by a
 * crashed caller and may be taken over. Keys are remembered for {@link IDEMPOTENCY_TTL_SECONDS}.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { DEFAULT_TABLE_NAME, isConditionFailure, keys } from './table';

/** How long an idempotency key is remembered. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** A key still IN_FLIGHT after this long was abandoned by a crashed caller and may be taken over. */
export const IDEMPOTENCY_LEASE_MS = 30_000;

export type IdempotencyState =
  | { readonly state: 'new' }
  | { readonly state: 'done'; readonly response: unknown }
  | { readonly state: 'in-flight' }
  | { readonly state: 'reused' };

/**
 * Idempotency keys in the one table.
 *
 * @example
 * const keys = new IdempotencyStore(db);
 * const claim = await keys.begin('key-1', bodyHash, Date.now());
 */
export class IdempotencyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string = DEFAULT_TABLE_NAME,
  ) {}

  /**
   * Claims a key for a request body (by hash). The same key with another body is `reused`;
   * with the same body it is `done` (the stored response) or `in-flight`.
   */
  async begin(key: string, bodyHash: string, nowMs: number): Promise<IdempotencyState> {
    const itemKey = keys.idempotency(key);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...itemKey,
            bodyHash,
            state: 'IN_FLIGHT',
            leaseUntil: nowMs + IDEMPOTENCY_LEASE_MS,
            expiresAt: Math.floor(nowMs / 1000) + IDEMPOTENCY_TTL_SECONDS,
          },
          ConditionExpression:
            'attribute_not_exists(pk) OR (#state = :inflight AND leaseUntil < :now AND bodyHash = :h)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':inflight': 'IN_FLIGHT', ':now': nowMs, ':h': bodyHash },
        }),
      );
      return { state: 'new' };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    const out = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: itemKey, ConsistentRead: true }),
    );
    const item = out.Item;
    if (!item) return this.begin(key, bodyHash, nowMs);
    if (item.bodyHash !== bodyHash) return { state: 'reused' };
    if (item.state === 'DONE') return { state: 'done', response: item.response };
    return { state: 'in-flight' };
  }

  /** Stores the response of the request that claimed the key. */
  async complete(key: string, response: unknown): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.idempotency(key),
        UpdateExpression: 'SET #state = :done, #response = :r REMOVE leaseUntil',
        ExpressionAttributeNames: { '#state': 'state', '#response': 'response' },
        ExpressionAttributeValues: { ':done': 'DONE', ':r': response },
      }),
    );
  }

  /** Releases a key whose request failed, so the caller may retry with it. */
  async abandon(key: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: keys.idempotency(key) }));
  }
}
