/**
 * The embedded table for the store tests: dynalite on a loopback port, the one table
 * created from its definition, and a document client as the runtime makes it. No sandbox,
 * no HTTP API: the stores need only the table.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tableStores } from '#functions/runtime';
import { startDynamo } from '#local/adapters/dynamodb';
import { DEFAULT_TABLE_NAME } from '#store/table';

export interface EmbeddedTable {
  readonly db: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly stores: ReturnType<typeof tableStores>;
  close(): Promise<void>;
}

/** Starts dynalite in memory with the one table; `close` stops it. */
export async function startTable(): Promise<EmbeddedTable> {
  const tableName = DEFAULT_TABLE_NAME;
  const dynamo = await startDynamo({ tableName });
  const base = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 4,
  });
  const db = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
  return {
    db,
    tableName,
    stores: tableStores(db, tableName),
    async close() {
      base.destroy();
      await dynamo.close();
    },
  };
}

let counter = 0;

/** A name no other test of this process uses (ids, resource keys). */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}
