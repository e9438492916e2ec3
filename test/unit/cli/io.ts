/** An in-memory {@link Io} for running the CLI in-process. */
import { PassThrough, Writable } from 'node:stream';
import type { Io } from '#cli/output';

export interface MemoryIo extends Io {
  stdout(): string;
  stderr(): string;
}

class Sink extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export function memoryIo(env: NodeJS.ProcessEnv = {}, input = ''): MemoryIo {
  const out = new Sink();
  const err = new Sink();
  const stdin = new PassThrough();
  stdin.end(input);
  return { out, err, env, stdin, stdout: () => out.text, stderr: () => err.text };
}
