/**
 * The data directory's guard (docs/architecture.md#local-the-embedded-default): its lock (one
 * process per data directory, since the table (LevelDB) and the sandbox file cannot be
 * shared), its manifest (`tether.json`: which stores the directory holds), the errors that
 * stop a start on a damaged directory, and the atomic write every JSON store of it uses.
 * `startLocalRuntime` takes the lock first and gives it back on `close()`.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** Why a data directory cannot be used; the message says what is wrong and what to do. */
export class DataDirectoryError extends Error {
  override readonly name: string = 'DataDirectoryError';
}

/** Raised when another live process already runs on the data directory. */
export class DataDirectoryInUseError extends DataDirectoryError {
  override readonly name: string = 'DataDirectoryInUseError';
}

export interface DamageReport {
  /** What the file is, as a sentence starts: `The sandbox state`. */
  readonly what: string;
  /** The file (or directory) at fault, as the user named the data directory. */
  readonly file: string;
  /** `is truncated or corrupt (not valid JSON)`. */
  readonly problem: string;
  /** What to do, without the start-over option: `Restore it from a backup`. */
  readonly remedy: string;
}

/**
 * A store of the data directory is missing, truncated or corrupt. The start stops rather
 * than re-seed or run on part of the state.
 */
export class DataDirectoryDamagedError extends DataDirectoryError {
  override readonly name: string = 'DataDirectoryDamagedError';
  readonly report: DamageReport;

  constructor(report: DamageReport, startOver?: string) {
    const rm = startOver === undefined ? '' : `, or run \`rm -rf ${shellQuote(startOver)}\``;
    const fresh =
      startOver === undefined ? '' : ' to start over from a fresh world (this forgets every link)';
    super(`${report.what} ${report.file} ${report.problem}. ${report.remedy}${rm}${fresh}.`);
    this.report = report;
  }

  /** The same report, offering `rm -rf dataDir` as the last resort. */
  startingOver(dataDir: string): DataDirectoryDamagedError {
    return new DataDirectoryDamagedError(this.report, dataDir);
  }
}

function shellQuote(text: string): string {
  return /^[\w./~@%+=:,-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/**
 * Writes `file` so that a crash (or a power cut) at any instant leaves either the old or the
 * new content, never a torn file: a temporary file, flushed to disk, then a rename over it.
 *
 * @example
 * writeFileAtomic('.tether/sandbox/sandbox.json', JSON.stringify(state));
 */
export function writeFileAtomic(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/**
 * Reads and parses a JSON store file. A file that is empty or not JSON (a torn write, a
 * truncation) is a {@link DataDirectoryDamagedError} naming it; the content is never shown.
 */
export function readJsonStore(file: string, what: string, remedy: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new DataDirectoryDamagedError({ what, file, problem: `cannot be read (${code})`, remedy });
  }
  try {
    return JSON.parse(text);
  } catch {
    const problem = text.trim() === '' ? 'is empty' : 'is truncated or corrupt (not valid JSON)';
    throw new DataDirectoryDamagedError({ what, file, problem, remedy });
  }
}

// ---- the lock ------------------------------------------------------------------------------

/** File name of the lock inside the data directory. */
export const LOCK_FILE = 'tether.pid';

export interface DataDirectoryLock {
  release(): void;
  /** Set when a stale lock was taken over: whose it was and why it was stale. */
  readonly tookOver?: string;
}

/** A process's identity for the lock: boot id and start time, where `/proc` has them. */
export function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces: count fields after the last ')'.
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return startTime ? `${bootId}/${startTime}` : undefined;
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return undefined;
  }
}

/** Whether the lock's holder runs, or why the lock is stale. */
function judgeLock(content: string): { stale: false; pid: number } | { stale: true; why: string } {
  const [pidLine = '', identity = ''] = content.split('\n');
  const pid = Number(pidLine.trim());
  if (!Number.isInteger(pid) || pid <= 0) return { stale: true, why: 'it names no process' };
  if (pid === process.pid) return { stale: true, why: `process ${pid} is this one` };
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists, under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM')
      return { stale: true, why: `process ${pid} is gone` };
  }
  const now = processIdentity(pid);
  if (now === undefined) return { stale: false, pid }; // no /proc: a live pid holds the lock
  if (identity.trim() !== '') {
    return now === identity.trim()
      ? { stale: false, pid }
      : { stale: true, why: `process ${pid} is not Tether (that pid now belongs to another program)` };
  }
  // A lock without an identity (an older Tether, or one written by hand): judge by the command.
  const command = commandLine(pid);
  if (command === undefined || /tether|main\.ts/i.test(command)) return { stale: false, pid };
  const shown = command.length > 60 ? `${command.slice(0, 57)}...` : command;
  return { stale: true, why: `process ${pid} is not Tether (${shown})` };
}

/** Creates `lock` with `content` in one step (a hard link of a complete file), or EEXIST. */
function createLock(lock: string, content: string): void {
  const tmp = `${lock}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  try {
    linkSync(tmp, lock);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw err;
    // A file system without hard links: create it exclusively instead.
    writeFileSync(lock, content, { flag: 'wx' });
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Locks `dataDir` for this process. The lock file (`tether.pid`) holds the owner's pid and,
 * where `/proc` exists, its boot id and start time. A lock whose process is gone (a crash
 * left it), or whose pid now belongs to another program (after a reboot, say), is taken over.
 *
 * @example
 * const lock = lockDataDirectory('.tether'); // DataDirectoryInUseError if another process runs there
 * lock.release();
 */
export function lockDataDirectory(dataDir: string): DataDirectoryLock {
  mkdirSync(dataDir, { recursive: true });
  const lock = join(dataDir, LOCK_FILE);
  const content = `${process.pid}\n${processIdentity(process.pid) ?? ''}\n`;
  let tookOver: string | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      createLock(lock, content);
      const release = () => {
        // Only our own lock: a process that took it over (we were thought dead) keeps its own.
        if (existsSync(lock) && readFileSync(lock, 'utf8') === content) rmSync(lock, { force: true });
      };
      return tookOver === undefined ? { release } : { release, tookOver };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let held: string;
      try {
        held = readFileSync(lock, 'utf8');
      } catch {
        continue; // removed meanwhile
      }
      const verdict = judgeLock(held);
      if (!verdict.stale) {
        throw new DataDirectoryInUseError(
          `The data directory ${dataDir} is in use by process ${verdict.pid}; stop it, or pass another --data-dir`,
        );
      }
      // Remove it only if it is still the stale one (another starter may have taken it over).
      if (readFileSync(lock, 'utf8') === held) rmSync(lock, { force: true });
      tookOver = `Took over the lock ${lock}: ${verdict.why}.`;
    }
  }
  throw new DataDirectoryInUseError(`Could not lock the data directory ${dataDir}; try again`);
}

// ---- the manifest ----------------------------------------------------------------------------

/** File name of the manifest inside the data directory. */
export const MANIFEST_FILE = 'tether.json';

/** The stores of a data directory, relative to it. */
export const DATA_DIRECTORY_LAYOUT = {
  /** The sandbox's directory; its state is `sandbox/sandbox.json`. */
  sandbox: 'sandbox',
  /** The table's LevelDB directory (dynalite). */
  table: 'dynamodb',
  /** The run history, one JSON file per execution. */
  executions: 'executions',
} as const;

type StoreName = keyof typeof DATA_DIRECTORY_LAYOUT;
const STORE_NAMES = Object.keys(DATA_DIRECTORY_LAYOUT) as StoreName[];

interface Manifest {
  readonly tether: 1;
  readonly createdAt: string;
  /** The stores the directory holds, by name (see {@link DATA_DIRECTORY_LAYOUT}). */
  readonly stores: readonly StoreName[];
}

/** The file whose presence says a store exists. */
function storeMarker(dataDir: string, store: StoreName): string {
  const dir = join(dataDir, DATA_DIRECTORY_LAYOUT[store]);
  if (store === 'sandbox') return join(dir, 'sandbox.json');
  if (store === 'table') return join(dir, 'CURRENT'); // LevelDB's pointer to its manifest
  return dir;
}

function missingStore(dataDir: string, store: StoreName, listedBy: string): DataDirectoryDamagedError {
  const file = storeMarker(dataDir, store);
  const table = join(dataDir, DATA_DIRECTORY_LAYOUT.table);
  switch (store) {
    case 'sandbox':
      return new DataDirectoryDamagedError({
        what: 'The sandbox state',
        file,
        problem: `is missing, but ${listedBy}, and the table ${table} may hold links to resources of that sandbox`,
        remedy: 'Restore the file from a backup',
      });
    case 'table':
      return new DataDirectoryDamagedError({
        what: 'The table',
        file: table,
        problem: `is missing (no ${file}), but ${listedBy}, and the sandbox may hold resources of links it recorded`,
        remedy: 'Restore the directory from a backup',
      });
    default:
      return new DataDirectoryDamagedError({
        what: 'The run history',
        file,
        problem: `is missing, but ${listedBy}`,
        remedy: 'Restore it from a backup, or create it empty to go on without the history of past runs',
      });
  }
}

export interface DataDirectoryCheck {
  /** True when the directory holds no store yet: the sandbox is seeded, the table made. */
  readonly fresh: boolean;
  /** Records the stores in the manifest once they all exist (a no-op when it already does). */
  commit(): void;
}

/**
 * Checks that `dataDir` holds every store its manifest lists, before any store is opened,
 * so a missing file stops the start instead of being seeded again beside state that refers
 * to it. A directory without a manifest is new when it holds no store, and is adopted when it
 * holds them all (one made before the manifest existed); one with only some of them is
 * refused. Nothing is written before `commit()`. Throws {@link DataDirectoryDamagedError}
 * (without the start-over hint).
 *
 * @example
 * const check = checkDataDirectory('.tether');
 * // … open the stores …
 * check.commit();
 */
export function checkDataDirectory(dataDir: string): DataDirectoryCheck {
  const manifestFile = join(dataDir, MANIFEST_FILE);
  const present = STORE_NAMES.filter((s) => existsSync(storeMarker(dataDir, s)));
  const write = () => {
    const manifest: Manifest = { tether: 1, createdAt: new Date().toISOString(), stores: STORE_NAMES };
    mkdirSync(dataDir, { recursive: true });
    writeFileAtomic(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  };
  if (existsSync(manifestFile)) {
    const remedy =
      'If the stores beside it are intact, delete it and Tether writes it again; else restore the directory from a backup';
    const manifest = readJsonStore(manifestFile, 'The data directory manifest', remedy) as Partial<Manifest>;
    if (
      typeof manifest !== 'object' ||
      manifest === null ||
      manifest.tether !== 1 ||
      !Array.isArray(manifest.stores) ||
      !manifest.stores.every((s) => STORE_NAMES.includes(s))
    ) {
      throw new DataDirectoryDamagedError({
        what: 'The data directory manifest',
        file: manifestFile,
        problem: 'is not one this version of Tether writes',
        remedy,
      });
    }
    const missing = manifest.stores.find((s) => !present.includes(s));
    if (missing) throw missingStore(dataDir, missing, `${manifestFile} lists it`);
    return { fresh: false, commit: () => undefined };
  }
  if (present.length === 0) return { fresh: true, commit: write };
  const missing = STORE_NAMES.find((s) => !present.includes(s));
  if (missing) {
    const others = present.map((s) => join(dataDir, DATA_DIRECTORY_LAYOUT[s])).join(' and ');
    throw missingStore(dataDir, missing, `${others} ${present.length > 1 ? 'are' : 'is'} there`);
  }
  // A directory from before the manifest: every store is there; recorded once they open.
  return { fresh: false, commit: write };
}
