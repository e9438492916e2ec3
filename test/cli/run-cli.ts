/** Runs the real `tether` binary (package.json "bin") as a child process, as an operator would. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(REPO_ROOT, 'cli', 'bin.mjs');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** Added to (or, when undefined, removed from) the clean environment. */
  readonly env?: Record<string, string | undefined>;
  readonly input?: string;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/**
 * The environment of the child: the parent's, without anything that would change what the
 * CLI does (colour, endpoint, kubeconfig, AWS credentials), with a private HOME.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(AWS_|TETHER_)/.test(k) || ['FORCE_COLOR', 'NO_COLOR', 'KUBECONFIG', 'CI_COLOR'].includes(k))
      continue;
    env[k] = v;
  }
  env.HOME = tempDir('tether-home-');
  // The credential chain must never reach for instance metadata from a test.
  env.AWS_EC2_METADATA_DISABLED = 'true';
  env.TETHER_POLL_INTERVAL = '50ms';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/**
 * The arguments of `tether link create --source SOURCE --target TARGET …options`.
 *
 * @example
 * await cli(linkCreate(DEMO_SOURCE, CLUSTER_B, '--policy', 'AmazonEKSViewPolicy', '--wait'));
 */
export function linkCreate(source: string, target: string, ...options: string[]): string[] {
  return ['link', 'create', '--source', source, '--target', target, ...options];
}

export function tempDir(prefix = 'tether-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function tether(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: cleanEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Describes a result for an assertion message. */
export const shown = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
