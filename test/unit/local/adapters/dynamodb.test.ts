import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { startDynamo, TABLE_SEAL_FILE } from '#local/adapters/dynamodb';
import { DataDirectoryDamagedError } from '#local/data-dir-lock';

const TABLE = 'tether-test';
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tether-dynamo-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function clientOf(endpoint: string) {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/** A table on disk holding one item, closed cleanly. */
async function tableWithOneItem(): Promise<string> {
  const path = join(tempDir(), 'dynamodb');
  const dynamo = await startDynamo({ path, tableName: TABLE });
  const client = clientOf(dynamo.endpoint);
  await client.send(
    new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'LINK#1' }, sk: { S: 'LINK' } } }),
  );
  client.destroy();
  await dynamo.close();
  return path;
}

async function startError(path: string): Promise<Error> {
  return startDynamo({ path, tableName: TABLE }).then(
    async (d) => {
      await d.close();
      throw new Error('the table opened');
    },
    (err: Error) => err,
  );
}

const logOf = (path: string) => join(path, readdirSync(path).find((f) => f.endsWith('.log'))!);

describe('the table on disk', () => {
  it('is sealed at a clean stop, and opens again with its items', async () => {
    const path = await tableWithOneItem();
    expect(existsSync(join(path, TABLE_SEAL_FILE))).toBe(true);

    const dynamo = await startDynamo({ path, tableName: TABLE });
    expect(existsSync(join(path, TABLE_SEAL_FILE))).toBe(false); // open: its files change
    const client = clientOf(dynamo.endpoint);
    const got = await client.send(
      new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'LINK#1' }, sk: { S: 'LINK' } } }),
    );
    client.destroy();
    await dynamo.close();
    expect(got.Item?.pk?.S).toBe('LINK#1');
  });

  it('stops at a truncated log, naming it, where LevelDB alone would drop the lost writes', async () => {
    const path = await tableWithOneItem();
    const log = logOf(path);
    const bytes = statSync(log).size;
    expect(bytes).toBeGreaterThan(0);
    truncateSync(log, Math.floor(bytes / 2));

    const err = await startError(path);
    expect(err).toBeInstanceOf(DataDirectoryDamagedError);
    expect(err.message).toBe(
      `The table log ${log} is truncated (${Math.floor(bytes / 2)} of the ${bytes} bytes it had when Tether last stopped). ` +
        `Restore ${path} from a backup, delete ${join(path, TABLE_SEAL_FILE)} to open what is left of it (links may be lost).`,
    );
    // Still refused on the next try: nothing was changed by the refusal.
    expect((await startError(path)).message).toMatch(/^The table log .* is truncated/);
  });

  it('stops at a file that changed at rest or that is new', async () => {
    const path = await tableWithOneItem();
    const current = join(path, 'CURRENT');
    const size = statSync(current).size;
    writeFileSync(current, 'X'.repeat(size));
    expect((await startError(path)).message).toMatch(
      `The table’s CURRENT file ${current} has changed since Tether last stopped (same size, other content).`,
    );
  });

  it('after a crash (no seal), stops at what LevelDB cannot read', async () => {
    const path = await tableWithOneItem();
    rmSync(join(path, TABLE_SEAL_FILE)); // as a killed process leaves it
    writeFileSync(join(path, 'CURRENT'), 'MANIFEST-0000');
    const err = await startError(path);
    expect(err).toBeInstanceOf(DataDirectoryDamagedError);
    expect(err.message).toBe(
      `The table ${path} cannot be read (LevelDB: Corruption: CURRENT file does not end with newline). Restore it from a backup.`,
    );
  });

  it('opens what is left once the seal is deleted (the user chose to)', async () => {
    const path = await tableWithOneItem();
    truncateSync(logOf(path), 10);
    rmSync(join(path, TABLE_SEAL_FILE));
    const dynamo = await startDynamo({ path, tableName: TABLE });
    await dynamo.close();
  });
});
