/**
 * The embedded DynamoDB: dynalite (in memory, or on disk in the data directory) on a
 * loopback port, reached through the real `@aws-sdk/client-dynamodb`. It has no
 * transactions, which Tether does not use (single-item conditional writes only).
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
// dynalite ships no types.
// @ts-expect-error untyped module
import dynalite from 'dynalite';
import { tableDefinition } from '#store/table';

export interface EmbeddedDynamo {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startDynamo(options: { path?: string; tableName: string }): Promise<EmbeddedDynamo> {
  if (options.path) mkdirSync(options.path, { recursive: true });
  const server = dynalite({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  // Keep idle sockets longer than the SDK's agent does, so a reused socket is never one the
  // server is closing at that instant (the cause of 'socket hang up' under load).
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    await client.send(new DescribeTableCommand({ TableName: options.tableName }));
  } catch (err) {
    if ((err as Error).name !== 'ResourceNotFoundException') throw err;
    await client.send(new CreateTableCommand(tableDefinition(options.tableName)));
  }
  // dynalite answers ResourceNotFoundException while a table or index is CREATING, even with
  // createTableMs 0 (it turns ACTIVE on a timer): wait, as a caller of CreateTable must.
  for (let attempt = 0; ; attempt++) {
    const table = (await client.send(new DescribeTableCommand({ TableName: options.tableName }))).Table;
    const active =
      table?.TableStatus === 'ACTIVE' &&
      (table.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (active) break;
    if (attempt > 500) throw new Error(`Table ${options.tableName} did not become ACTIVE`);
    await new Promise((r) => setTimeout(r, 5));
  }
  client.destroy();
  return {
    endpoint,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
