/**
 * The data directory survives what a laptop does to it (issue item 3): each damage below
 * stops the start with one message that names the file and what to do, changes nothing
 * on disk, and the state is whole again once the file is restored. A stale lock is taken
 * over. `npm start` prints that message alone (no stack trace), `--help` its options, and
 * an unknown option one line.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirectoryDamagedError, startLocalRuntime } from '#local/runtime';
import { demoRequest, harnessFor } from './harness';

const dirs: string[] = [];
function tempDir(from?: string): string {
  const d = mkdtempSync(join(tmpdir(), 'tether-datadir-'));
  dirs.push(d);
  if (from) cpSync(from, d, { recursive: true });
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every file of a directory with its bytes (the lock aside), to show a refusal changed nothing. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name !== 'tether.pid') files.set(relative(dir, path), readFileSync(path, 'base64'));
    }
  };
  walk(dir);
  return files;
}

/** A data directory after one `npm start` run: the demo link ACTIVE, the process stopped cleanly. */
const template = tempDir();
const linkId = await (async () => {
  const h = harnessFor(await startLocalRuntime({ dataDir: template, retryIntervalMs: 1 }));
  try {
    const res = await h.api('POST', '/links', demoRequest());
    const link = await h.settle(res.body.links[0].id);
    expect(link.status).toBe('ACTIVE');
    return link.id as string;
  } finally {
    await h.close();
  }
})();

async function refusal(dataDir: string): Promise<Error> {
  const before = snapshot(dataDir);
  const err = await startLocalRuntime({ dataDir, retryIntervalMs: 1 }).then(
    async (rt) => {
      await rt.close();
      throw new Error('the runtime started');
    },
    (e: Error) => e,
  );
  expect(snapshot(dataDir)).toEqual(before); // nothing seeded, nothing rewritten
  return err;
}

/** Starts on `dataDir` and checks the demo link is there, ACTIVE, and nothing needs changing. */
async function expectWhole(dataDir: string) {
  const h = harnessFor(await startLocalRuntime({ dataDir, retryIntervalMs: 1 }));
  try {
    expect(h.rt.redriven).toEqual([]);
    expect((await h.api('GET', `/links/${linkId}`)).body.status).toBe('ACTIVE');
    h.rt.sandbox.resetCalls();
    expect((await h.api('POST', '/links', demoRequest())).status).toBe(200);
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(0);
    return h.rt.notices;
  } finally {
    await h.close();
  }
}

const startOver = (dataDir: string) =>
  `, or run \`rm -rf ${dataDir}\` to start over from a fresh world (this forgets every link).`;

describe('a damaged data directory', () => {
  it('truncated sandbox state: names the file, and restoring it brings the state back', async () => {
    const dataDir = tempDir(template);
    const file = join(dataDir, 'sandbox', 'sandbox.json');
    const whole = readFileSync(file);
    truncateSync(file, Math.floor(whole.length / 2));

    const err = await refusal(dataDir);
    expect(err).toBeInstanceOf(DataDirectoryDamagedError);
    expect(err.message).toBe(
      `The sandbox state ${file} is truncated or corrupt (not valid JSON). Restore it from a backup${startOver(dataDir)}`,
    );
    writeFileSync(file, whole);
    await expectWhole(dataDir);
  });

  it('truncated run history: names the execution file', async () => {
    const dataDir = tempDir(template);
    const name = readdirSync(join(dataDir, 'executions')).find((f) => f.startsWith('onboard-'))!;
    const file = join(dataDir, 'executions', name);
    truncateSync(file, 100);

    const err = await refusal(dataDir);
    expect(err.message).toBe(
      `The run history file ${file} is truncated or corrupt (not valid JSON). Restore it from a backup, or delete it to go on without that run's history${startOver(dataDir)}`,
    );
  });

  it('truncated table log: names the log, where LevelDB alone would lose the link silently', async () => {
    const dataDir = tempDir(template);
    const table = join(dataDir, 'dynamodb');
    const log = join(table, readdirSync(table).find((f) => f.endsWith('.log'))!);
    const bytes = statSync(log).size;
    expect(bytes).toBeGreaterThan(0); // the link's writes are in the journal
    truncateSync(log, Math.floor(bytes / 2));

    const err = await refusal(dataDir);
    expect(err.message).toBe(
      `The table log ${log} is truncated (${Math.floor(bytes / 2)} of the ${bytes} bytes it had when Tether last stopped). ` +
        `Restore ${table} from a backup, delete ${join(table, 'tether-seal.json')} to open what is left of it (links may be lost)${startOver(dataDir)}`,
    );
  });

  it('deleted sandbox file while the table holds a link: refuses instead of seeding a new world', async () => {
    const dataDir = tempDir(template);
    const file = join(dataDir, 'sandbox', 'sandbox.json');
    const whole = readFileSync(file);
    rmSync(file);

    const err = await refusal(dataDir);
    expect(err.message).toBe(
      `The sandbox state ${file} is missing, but ${join(dataDir, 'tether.json')} lists it, and the table ${join(dataDir, 'dynamodb')} may hold links to resources of that sandbox. Restore the file from a backup${startOver(dataDir)}`,
    );
    writeFileSync(file, whole);
    await expectWhole(dataDir);
  });

  it('stale pid lock whose process is gone: taken over, nothing lost', async () => {
    const dataDir = tempDir(template);
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    writeFileSync(join(dataDir, 'tether.pid'), `${gone.stdout.toString()}\n`);

    const notices = await expectWhole(dataDir);
    expect(notices).toEqual([
      `Took over the lock ${join(dataDir, 'tether.pid')}: process ${gone.stdout.toString()} is gone.`,
    ]);
  });

  it('stale pid lock whose pid now runs another program: taken over, nothing lost', async () => {
    const dataDir = tempDir(template);
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => other.once('spawn', resolve));
      writeFileSync(join(dataDir, 'tether.pid'), `${other.pid}\n`);
      if (!existsSync('/proc/self/stat')) {
        // Without /proc a live pid cannot be told apart: the lock stands, as before.
        expect((await refusal(dataDir)).message).toMatch(/is in use by process/);
        return;
      }
      const notices = await expectWhole(dataDir);
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(
        new RegExp(`^Took over the lock .*tether\\.pid: process ${other.pid} is not Tether \\(.*\\)\\.$`),
      );
    } finally {
      other.kill();
    }
  });
});

describe('npm start', () => {
  const main = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'local/main.ts', ...args], {
      cwd: new URL('../..', import.meta.url).pathname,
      encoding: 'utf8',
      env: { ...process.env, TETHER_DEBUG: '' },
    });

  it('prints its options with --help, and an unknown option is one line and exit 2', () => {
    const help = main('--help');
    expect(help.status).toBe(0);
    for (const option of ['--data-dir DIR', '--port N', '--no-demo', '--once', '--help'])
      expect(help.stdout).toContain(option);

    const unknown = main('--foo');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe('tether: unknown option --foo (see --help)\n');
    expect(unknown.stdout).toBe('');
  });

  it('stops on a damaged data directory with the message alone, no stack trace', () => {
    const dataDir = tempDir(template);
    const file = join(dataDir, 'sandbox', 'sandbox.json');
    writeFileSync(file, '{"version":1,"seq":');

    const run = main('--data-dir', dataDir, '--port', '0', '--once', '--no-demo');
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `The sandbox state ${file} is truncated or corrupt (not valid JSON). Restore it from a backup${startOver(dataDir)}\n`,
    );
  });
});
