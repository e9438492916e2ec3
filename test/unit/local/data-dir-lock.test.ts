import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkDataDirectory,
  DataDirectoryDamagedError,
  DataDirectoryInUseError,
  LOCK_FILE,
  lockDataDirectory,
  MANIFEST_FILE,
  processIdentity,
  readJsonStore,
  writeFileAtomic,
} from '#local/data-dir-lock';

const dirs: string[] = [];
const children: ChildProcess[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tether-datadir-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const c of children.splice(0)) c.kill();
});

/** A live process that is not Tether: node idling, its command line free of "tether". */
async function bystander(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child.pid!;
}

const hasProc = existsSync('/proc/self/stat');

describe('writeFileAtomic', () => {
  it('replaces the file whole and leaves no temporary file', () => {
    const dir = tempDir();
    const file = join(dir, 'state.json');
    writeFileAtomic(file, '{"a":1}');
    writeFileAtomic(file, '{"a":2}');
    expect(readFileSync(file, 'utf8')).toBe('{"a":2}');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });
});

describe('readJsonStore', () => {
  it('names a truncated file and what to do, without its content', () => {
    const file = join(tempDir(), 'x.json');
    writeFileSync(file, '{"secret":"do not print me","more":');
    const read = () => readJsonStore(file, 'The thing', 'Restore it');
    expect(read).toThrow(DataDirectoryDamagedError);
    expect(read).toThrow(`The thing ${file} is truncated or corrupt (not valid JSON). Restore it.`);
    expect(read).not.toThrow(/secret/);
  });

  it('says so of an empty file', () => {
    const file = join(tempDir(), 'x.json');
    writeFileSync(file, '');
    expect(() => readJsonStore(file, 'The thing', 'Restore it')).toThrow(`The thing ${file} is empty.`);
  });

  it('offers to start over once it knows the data directory', () => {
    const err = new DataDirectoryDamagedError({
      what: 'The thing',
      file: '/d/x.json',
      problem: 'is empty',
      remedy: 'Restore it',
    }).startingOver('/my data');
    expect(err.message).toBe(
      "The thing /d/x.json is empty. Restore it, or run `rm -rf '/my data'` to start over from a fresh world (this forgets every link).",
    );
  });
});

describe('lockDataDirectory', () => {
  it('locks a directory, refuses it to a live holder, and gives it back', () => {
    const dir = tempDir();
    const lock = lockDataDirectory(dir);
    expect(lock.tookOver).toBeUndefined();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').split('\n')[0]).toBe(String(process.pid));
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses a directory locked by a live process that is the one that took the lock', async () => {
    const dir = tempDir();
    const pid = await bystander();
    writeFileSync(join(dir, LOCK_FILE), `${pid}\n${processIdentity(pid) ?? ''}\n`);
    expect(() => lockDataDirectory(dir)).toThrow(DataDirectoryInUseError);
    expect(() => lockDataDirectory(dir)).toThrow(`The data directory ${dir} is in use by process ${pid}`);
  });

  it('takes over a lock whose process is gone', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    const pid = child.pid!;
    await new Promise((resolve) => child.once('exit', resolve));
    writeFileSync(join(dir, LOCK_FILE), `${pid}\n`);
    const lock = lockDataDirectory(dir);
    expect(lock.tookOver).toBe(`Took over the lock ${join(dir, LOCK_FILE)}: process ${pid} is gone.`);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').split('\n')[0]).toBe(String(process.pid));
    lock.release();
  });

  it('takes over a lock whose pid now belongs to a process that is not Tether', async () => {
    const dir = tempDir();
    const pid = await bystander();
    // As a reboot leaves it: the pid is alive, but its start time is not the recorded one.
    writeFileSync(join(dir, LOCK_FILE), `${pid}\nanother-boot/12345\n`);
    if (!hasProc) {
      expect(() => lockDataDirectory(dir)).toThrow(DataDirectoryInUseError); // no /proc: as before
      return;
    }
    const lock = lockDataDirectory(dir);
    expect(lock.tookOver).toBe(
      `Took over the lock ${join(dir, LOCK_FILE)}: process ${pid} is not Tether (that pid now belongs to another program).`,
    );
    lock.release();
  });

  it('takes over a bare pid lock (older Tether, or by hand) whose process is not Tether', async () => {
    const dir = tempDir();
    const pid = await bystander();
    writeFileSync(join(dir, LOCK_FILE), `${pid}\n`);
    if (!hasProc) {
      expect(() => lockDataDirectory(dir)).toThrow(DataDirectoryInUseError);
      return;
    }
    const lock = lockDataDirectory(dir);
    expect(lock.tookOver).toMatch(
      new RegExp(`^Took over the lock .*: process ${pid} is not Tether \\(.*setTimeout.*\\)\\.$`),
    );
    lock.release();
  });

  it('takes over a lock that names no process (a torn write)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), '');
    const lock = lockDataDirectory(dir);
    expect(lock.tookOver).toBe(`Took over the lock ${join(dir, LOCK_FILE)}: it names no process.`);
    lock.release();
  });

  it('does not remove a lock that is no longer its own', () => {
    const dir = tempDir();
    const lock = lockDataDirectory(dir);
    writeFileSync(join(dir, LOCK_FILE), '424242\n');
    lock.release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe('424242\n');
  });
});

describe('checkDataDirectory', () => {
  /** Makes the stores' markers, as the runtime's first start leaves them. */
  const makeStores = (dir: string, stores: readonly ('sandbox' | 'table' | 'executions')[]) => {
    if (stores.includes('sandbox')) {
      mkdirSync(join(dir, 'sandbox'), { recursive: true });
      writeFileSync(join(dir, 'sandbox', 'sandbox.json'), '{}');
    }
    if (stores.includes('table')) {
      mkdirSync(join(dir, 'dynamodb'), { recursive: true });
      writeFileSync(join(dir, 'dynamodb', 'CURRENT'), 'MANIFEST-000001\n');
    }
    if (stores.includes('executions')) mkdirSync(join(dir, 'executions'), { recursive: true });
  };

  it('calls an empty directory fresh, and writes the manifest once its stores exist', () => {
    const dir = tempDir();
    const check = checkDataDirectory(dir);
    expect(check.fresh).toBe(true);
    expect(existsSync(join(dir, MANIFEST_FILE))).toBe(false);
    makeStores(dir, ['sandbox', 'table', 'executions']);
    check.commit();
    expect(JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8'))).toMatchObject({
      tether: 1,
      stores: ['sandbox', 'table', 'executions'],
    });
    expect(checkDataDirectory(dir).fresh).toBe(false);
  });

  it('refuses a directory whose sandbox state is gone while the manifest lists it', () => {
    const dir = tempDir();
    makeStores(dir, ['sandbox', 'table', 'executions']);
    checkDataDirectory(dir).commit(); // adopts: writes the manifest
    rmSync(join(dir, 'sandbox', 'sandbox.json'));
    expect(() => checkDataDirectory(dir)).toThrow(
      `The sandbox state ${join(dir, 'sandbox', 'sandbox.json')} is missing, but ${join(dir, MANIFEST_FILE)} lists it, and the table ${join(dir, 'dynamodb')} may hold links to resources of that sandbox. Restore the file from a backup.`,
    );
  });

  it('refuses a directory whose table is gone while the manifest lists it', () => {
    const dir = tempDir();
    makeStores(dir, ['sandbox', 'table', 'executions']);
    checkDataDirectory(dir).commit();
    rmSync(join(dir, 'dynamodb'), { recursive: true });
    expect(() => checkDataDirectory(dir)).toThrow(
      new RegExp(`^The table ${join(dir, 'dynamodb')} is missing \\(no .*CURRENT\\), but .* lists it`),
    );
  });

  it('adopts a directory from before the manifest that has every store, once they open', () => {
    const dir = tempDir();
    makeStores(dir, ['sandbox', 'table', 'executions']);
    const check = checkDataDirectory(dir);
    expect(check.fresh).toBe(false);
    expect(existsSync(join(dir, MANIFEST_FILE))).toBe(false); // a refusal after this changes nothing
    check.commit();
    expect(existsSync(join(dir, MANIFEST_FILE))).toBe(true);
  });

  it('refuses a directory without a manifest that has only some stores', () => {
    const dir = tempDir();
    makeStores(dir, ['table', 'executions']);
    expect(() => checkDataDirectory(dir)).toThrow(
      `The sandbox state ${join(dir, 'sandbox', 'sandbox.json')} is missing, but ${join(dir, 'dynamodb')} and ${join(dir, 'executions')} are there`,
    );
    expect(existsSync(join(dir, MANIFEST_FILE))).toBe(false);
  });

  it('refuses a corrupt manifest, saying it can be deleted to be written again', () => {
    const dir = tempDir();
    writeFileSync(join(dir, MANIFEST_FILE), '{"tether": 1, "sto');
    expect(() => checkDataDirectory(dir)).toThrow(
      `The data directory manifest ${join(dir, MANIFEST_FILE)} is truncated or corrupt (not valid JSON). If the stores beside it are intact, delete it and Tether writes it again`,
    );
  });
});
