/**
 * The embedded DynamoDB: dynalite (in memory, or on disk in the data directory) on a
 * loopback port, reached through the real `@aws-sdk/client-dynamodb`. It has no
 * transactions, which Tether does not use (single-item conditional writes only).
 *
 * On disk the table is a LevelDB directory. LevelDB's journal survives a crash, but it
 * reads a truncated or altered journal as if the lost writes had never been made. So a clean
 * stop seals the directory (`tether-seal.json`: every LevelDB file's size and SHA-256), the
 * next start checks the files against the seal before it opens them, and every start reads
 * the whole table once before serving: a file that changed at rest, or that LevelDB cannot
 * read, stops the start with its name instead of losing links silently.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
// dynalite ships no types.
// @ts-expect-error untyped module
import dynalite from 'dynalite';
import {
  DataDirectoryDamagedError,
  DataDirectoryInUseError,
  readJsonStore,
  writeFileAtomic,
} from '#local/data-dir-lock';
import { tableDefinition } from '#store/table';

export interface EmbeddedDynamo {
  readonly endpoint: string;
  close(): Promise<void>;
}

/** The seal a clean stop leaves in the table's directory. */
export const TABLE_SEAL_FILE = 'tether-seal.json';

interface TableSeal {
  readonly sealedAt: string;
  /** LevelDB's files by name: size and SHA-256 when the table was closed. */
  readonly files: Readonly<Record<string, { readonly bytes: number; readonly sha256: string }>>;
}

/** The files LevelDB's state is made of (not its info log `LOG` nor its `LOCK`). */
const LEVELDB_FILE = /^(CURRENT|MANIFEST-\d+|\d+\.(log|ldb|sst))$/;

function levelDbFiles(path: string): string[] {
  return readdirSync(path)
    .filter((name) => LEVELDB_FILE.test(name))
    .sort();
}

function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function describeFile(name: string): string {
  if (name.endsWith('.log')) return 'The table log';
  if (name === 'CURRENT') return 'The table’s CURRENT file';
  if (name.startsWith('MANIFEST-')) return 'The table’s LevelDB manifest';
  return 'The table file';
}

/** Records every LevelDB file of `path` (the table must be closed). */
function sealTable(path: string): void {
  const files: Record<string, { bytes: number; sha256: string }> = {};
  for (const name of levelDbFiles(path)) {
    const file = join(path, name);
    files[name] = { bytes: statSync(file).size, sha256: sha256Of(file) };
  }
  const seal: TableSeal = { sealedAt: new Date().toISOString(), files };
  writeFileAtomic(join(path, TABLE_SEAL_FILE), JSON.stringify(seal));
}

/**
 * Checks the LevelDB files of `path` against the seal of the last clean stop, then removes
 * the seal (the files change once the table is open). No seal: the last process did not stop
 * cleanly, and LevelDB's own recovery applies.
 */
function checkSeal(path: string): void {
  const sealFile = join(path, TABLE_SEAL_FILE);
  if (!existsSync(sealFile)) return;
  const restore = `Restore ${path} from a backup, delete ${sealFile} to open what is left of it (links may be lost)`;
  const seal = readJsonStore(
    sealFile,
    'The table seal',
    `Delete it to open the table as it is, or restore ${path} from a backup`,
  ) as Partial<TableSeal> | null;
  if (typeof seal !== 'object' || seal === null || typeof seal.files !== 'object' || seal.files === null) {
    throw new DataDirectoryDamagedError({
      what: 'The table seal',
      file: sealFile,
      problem: 'is not a seal this version of Tether writes',
      remedy: `Delete it to open the table as it is, or restore ${path} from a backup`,
    });
  }
  const present = levelDbFiles(path);
  for (const [name, sealed] of Object.entries(seal.files)) {
    const file = join(path, name);
    const damaged = (problem: string) =>
      new DataDirectoryDamagedError({ what: describeFile(name), file, problem, remedy: restore });
    if (!present.includes(name)) throw damaged('is missing (it was there when Tether last stopped)');
    const bytes = statSync(file).size;
    if (bytes < sealed.bytes)
      throw damaged(`is truncated (${bytes} of the ${sealed.bytes} bytes it had when Tether last stopped)`);
    if (bytes > sealed.bytes)
      throw damaged(`has grown since Tether last stopped (${bytes} bytes, was ${sealed.bytes})`);
    if (sha256Of(file) !== sealed.sha256)
      throw damaged('has changed since Tether last stopped (same size, other content)');
  }
  const extra = present.find((name) => !Object.hasOwn(seal.files ?? {}, name));
  if (extra !== undefined) {
    throw new DataDirectoryDamagedError({
      what: describeFile(extra),
      file: join(path, extra),
      problem: 'was not there when Tether last stopped',
      remedy: restore,
    });
  }
  rmSync(sealFile);
}

/** dynalite's own LevelDB binding (`level`), resolved from dynalite so the versions match. */
function levelOfDynalite(): new (path: string, options: Record<string, unknown>) => any {
  const fromHere = createRequire(import.meta.url);
  return createRequire(fromHere.resolve('dynalite'))('level').Level;
}

/** Opens the table's LevelDB and reads all of it once, so damage shows before dynalite serves. */
async function checkReadable(path: string): Promise<void> {
  const Level = levelOfDynalite();
  const db = new Level(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  try {
    await db.open();
    for await (const _entry of db.iterator()) {
      // reading is the check
    }
  } catch (err) {
    const cause = ((err as { cause?: unknown }).cause ?? err) as { code?: string; message?: string };
    const message = String(cause.message ?? err);
    if (cause.code === 'LEVEL_LOCKED') {
      throw new DataDirectoryInUseError(
        `The table ${path} is locked by another process; stop it, or pass another --data-dir`,
      );
    }
    throw new DataDirectoryDamagedError({
      what: 'The table',
      file: path,
      problem: `cannot be read (LevelDB: ${message})`,
      remedy: 'Restore it from a backup',
    });
  } finally {
    await db.close().catch(() => undefined);
  }
}

/**
 * Starts dynalite and makes the table (if new). With `path`, the table lives on disk there;
 * a damaged table is a {@link DataDirectoryDamagedError} naming the file, and `close()`
 * seals it.
 */
export async function startDynamo(options: { path?: string; tableName: string }): Promise<EmbeddedDynamo> {
  if (options.path) {
    mkdirSync(options.path, { recursive: true });
    checkSeal(options.path);
    await checkReadable(options.path);
  }
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
  const close = () =>
    new Promise<void>((resolve) => {
      server.close((err?: Error) => {
        // Sealed only when LevelDB closed cleanly: else the next start trusts its recovery.
        if (!err && options.path) sealTable(options.path);
        resolve();
      });
    });
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    await ensureTable(client, options.tableName);
  } catch (err) {
    await close();
    throw err;
  } finally {
    client.destroy();
  }
  return { endpoint, close };
}

async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (err) {
    if ((err as Error).name !== 'ResourceNotFoundException') throw err;
    await client.send(new CreateTableCommand(tableDefinition(tableName)));
  }
  // dynalite answers ResourceNotFoundException while a table or index is CREATING, even with
  // createTableMs 0 (it turns ACTIVE on a timer): wait, as a caller of CreateTable must.
  for (let attempt = 0; ; attempt++) {
    const table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    const active =
      table?.TableStatus === 'ACTIVE' &&
      (table.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (active) return;
    if (attempt > 500) throw new Error(`Table ${tableName} did not become ACTIVE`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
