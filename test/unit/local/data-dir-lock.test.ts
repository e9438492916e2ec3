import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirectoryDamagedError, readJsonStore, writeFileAtomic } from '#local/data-dir-lock';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tether-datadir-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

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
