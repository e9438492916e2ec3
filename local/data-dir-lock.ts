/**
 * The data directory's guard (docs/architecture.md#local-the-embedded-default): its lock (one
 * process per data directory, since the table (LevelDB) and the sandbox file cannot be
 * shared), the errors that stop a start on a damaged directory, and the atomic write every
 * JSON store of it uses. `startLocalRuntime` takes the lock first and gives it back on
 * `close()`.
 */
import {
  closeSync,
  fsyncSync,
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

/**
 * Locks `dataDir` for this process and returns the unlock. A lock file (`tether.pid`) holds
 * the owner's pid; a lock whose process is gone (a crash left it) is taken over.
 *
 * @example
 * const unlock = lockDataDirectory('.tether'); // DataDirectoryInUseError if another process runs there
 * unlock();
 */
export function lockDataDirectory(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lock = join(dataDir, 'tether.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(lock, 'utf8'));
      let alive = false;
      try {
        alive = Number.isInteger(pid) && pid > 0 && pid !== process.pid && process.kill(pid, 0);
      } catch {
        alive = false; // no such process: a crash left the lock
      }
      if (alive) {
        throw new DataDirectoryInUseError(
          `The data directory ${dataDir} is in use by process ${pid}; stop it, or pass another --data-dir`,
        );
      }
      rmSync(lock, { force: true });
    }
  }
  throw new DataDirectoryInUseError(`Could not lock the data directory ${dataDir}`);
}
