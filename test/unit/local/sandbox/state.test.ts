import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirectoryDamagedError } from '#local/data-dir-lock';
import { Sandbox } from '#local/sandbox/index';
import { copyState, emptyState, loadState, STATE_FILE, saveState } from '#local/sandbox/state';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tether-state-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('sandbox state on disk', () => {
  it('is written whole (temporary file, then rename) and read back', () => {
    const dir = tempDir();
    const state = { ...emptyState(), seq: 7 };
    saveState(dir, state);
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
    expect(loadState(dir)).toEqual(state);
  });

  it('is undefined when there is none (a new directory is seeded)', () => {
    expect(loadState(tempDir())).toBeUndefined();
  });

  it('removes the temporary file of a write a crash cut short', () => {
    const dir = tempDir();
    saveState(dir, emptyState());
    writeFileSync(join(dir, `${STATE_FILE}.4242.tmp`), '{"version":1,"se');
    expect(loadState(dir)).toEqual(emptyState());
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
  });

  it('stops at a truncated file, naming it, and is not seeded over it', () => {
    const dir = tempDir();
    const sb = Sandbox.open({ dataDir: dir, world: 'demo' });
    expect(sb).toBeDefined();
    const file = join(dir, STATE_FILE);
    const whole = readFileSync(file, 'utf8');
    writeFileSync(file, whole.slice(0, whole.length / 2));

    const open = () => Sandbox.open({ dataDir: dir, world: 'demo' });
    expect(open).toThrow(DataDirectoryDamagedError);
    expect(open).toThrow(
      `The sandbox state ${file} is truncated or corrupt (not valid JSON). Restore it from a backup.`,
    );
    expect(readFileSync(file, 'utf8')).toBe(whole.slice(0, whole.length / 2));
  });

  it('stops at a state of another version or shape', () => {
    const dir = tempDir();
    const file = join(dir, STATE_FILE);
    writeFileSync(file, JSON.stringify({ ...emptyState(), version: 2 }));
    expect(() => loadState(dir)).toThrow(
      `The sandbox state ${file} has version 2, which this version of Tether cannot read.`,
    );
    writeFileSync(file, '[]');
    expect(() => loadState(dir)).toThrow(`The sandbox state ${file} is not a sandbox state.`);
    writeFileSync(file, '{"version":1}');
    expect(() => loadState(dir)).toThrow(`The sandbox state ${file} is not a whole sandbox state.`);
  });
});

describe('copyState', () => {
  it('copies a whole sandbox state deeply: equal to it, sharing no object with it', () => {
    // Arrange: the demo world, with a cluster, roles, tags and policies.
    const state = Sandbox.open({ world: 'demo' }).state();

    // Act
    const copy = copyState(state);

    // Assert
    expect(copy).toEqual(structuredClone(state));
    const shared: string[] = [];
    const walk = (a: unknown, b: unknown, path: string) => {
      if (typeof a !== 'object' || a === null) return;
      if (a === b) shared.push(path);
      for (const [k, v] of Object.entries(a)) walk(v, (b as Record<string, unknown>)[k], `${path}.${k}`);
    };
    walk(copy, state, '$');
    expect(shared).toEqual([]);
    expect(Object.isFrozen(copy)).toBe(false);
  });

  it('keeps a `__proto__` key as an own property, and leaves values that are not plain JSON to structuredClone', () => {
    // Arrange: a tag key a request may carry, and a date.
    const tags = JSON.parse('{"__proto__": "x", "team": "a"}') as Record<string, string>;
    const when = new Date(0);

    // Act
    const copy = copyState({ tags, when, list: [1, [2, { three: 3 }]] });

    // Assert
    expect(Object.keys(copy.tags)).toEqual(['__proto__', 'team']);
    expect(Object.getPrototypeOf(copy.tags)).toBe(Object.prototype);
    expect(copy.when).toEqual(when);
    expect(copy.when).not.toBe(when);
    expect(copy.list).toEqual([1, [2, { three: 3 }]]);
  });
});
