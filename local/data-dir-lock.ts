/**
 * The data directory's lock: one process per data directory, since the table (LevelDB) and
 * the sandbox file cannot be shared. `startLocalRuntime` takes it first and gives it back on
 * `close()`.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Raised when another live process already runs on the data directory. */
export class DataDirectoryInUseError extends Error {
  override readonly name = 'DataDirectoryInUseError';
}

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
