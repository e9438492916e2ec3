import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalStepFunctions } from '#local/adapters/stepfunctions';
import { DataDirectoryDamagedError } from '#local/data-dir-lock';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tether-sfn-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Workflows of one Pass state: the run history is what is under test, not the handlers. */
function passMachines(): string {
  const dir = tempDir();
  const pass = JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } });
  for (const workflow of ['onboard', 'offboard']) writeFileSync(join(dir, `${workflow}.asl.json`), pass);
  return dir;
}

const open = (dataDir: string) =>
  new LocalStepFunctions({
    accountId: '000000000000',
    region: 'ap-southeast-1',
    dataDir,
    statemachinesDir: passMachines(),
  });

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('it did not throw');
}

/** One finished execution in `dataDir`'s run history. */
async function oneRun(dataDir: string): Promise<string> {
  const sfn = open(dataDir);
  const { executionArn } = await sfn.startExecution({
    stateMachineArn: sfn.stateMachineArn('offboard'),
    name: 'r1',
    input: '{}',
  });
  await sfn.waitFor(executionArn);
  return executionArn;
}

describe('the run history on disk', () => {
  it('keeps each execution in one file, written whole, and reads it back', async () => {
    const dataDir = tempDir();
    const arn = await oneRun(dataDir);
    expect(readdirSync(join(dataDir, 'executions'))).toEqual(['offboard-r1.json']);
    expect(open(dataDir).execution(arn)).toMatchObject({
      name: 'r1',
      workflow: 'offboard',
      status: 'SUCCEEDED',
    });
  });

  it('stops at a truncated execution file, naming it', async () => {
    const dataDir = tempDir();
    await oneRun(dataDir);
    const file = join(dataDir, 'executions', 'offboard-r1.json');
    const whole = readFileSync(file, 'utf8');
    writeFileSync(file, whole.slice(0, 40));

    const err = errorOf(() => open(dataDir));
    expect(err).toBeInstanceOf(DataDirectoryDamagedError);
    expect(err.message).toBe(
      `The run history file ${file} is truncated or corrupt (not valid JSON). Restore it from a backup, or delete it to go on without that run's history.`,
    );
    writeFileSync(file, '{"name":"r1"}');
    expect(errorOf(() => open(dataDir)).message).toMatch(
      `The run history file ${file} is not a whole execution.`,
    );
  });

  it('drops the temporary file of a write a crash cut short', async () => {
    const dataDir = tempDir();
    await oneRun(dataDir);
    writeFileSync(join(dataDir, 'executions', 'offboard-r2.json.4242.tmp'), '{"exec');
    open(dataDir);
    expect(readdirSync(join(dataDir, 'executions'))).toEqual(['offboard-r1.json']);
  });
});
