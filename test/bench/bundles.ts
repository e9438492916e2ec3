/**
 * `npm run bench` (its last part): each Lambda function's bundle as CDK makes it (one
 * synth of the hub stack into a scratch directory, real esbuild bundling), its size, the
 * SDK clients it carries, and its module-load (init) time: the bundle imported in a fresh
 * Node process, BUNDLE_RUNS times (default 5), median and worst. Figures, not assertions.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { STACKS, buildApp, newApp } from '../../infra/app';
import { loadConfig } from '../../infra/config';

const RUNS = Number(process.env.BUNDLE_RUNS ?? 5);

/** Milliseconds to import the bundle, measured inside a fresh process. */
function initTime(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(`file://${file}`)}); process.stdout.write(String(performance.now() - t));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', AWS_REGION: 'ap-southeast-1', NODE_OPTIONS: '--enable-source-maps' },
  });
  if (run.status !== 0) throw new Error(`loading ${file} failed: ${run.stderr}`);
  return Number(run.stdout);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

export function benchBundles(): void {
  const outdir = mkdtempSync(join(tmpdir(), 'tether-bundles-'));
  try {
    const started = performance.now();
    const app = newApp({ outdir });
    buildApp({ app, config: loadConfig((k) => app.node.tryGetContext(k)), nag: false });
    const assembly = app.synth();
    console.log(
      `\nLambda bundles (synth of ${STACKS.hub}: ${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    const template = assembly.getStackByName(STACKS.hub).template as {
      Resources: Record<string, { Type: string; Properties: any; Metadata?: Record<string, string> }>;
    };
    const rows: string[][] = [['function', 'bundle', 'gzip', 'SDK clients', 'init median', 'init max']];
    for (const r of Object.values(template.Resources)) {
      if (r.Type !== 'AWS::Lambda::Function') continue;
      const dir = join(outdir, r.Metadata?.['aws:asset:path'] ?? '');
      const file = join(dir, 'index.mjs');
      const body = readFileSync(file);
      const name = String(r.Properties.FunctionName);
      const meta = JSON.parse(readFileSync(join(dir, 'index.meta.json'), 'utf8')) as { inputs: object };
      const clients = [
        ...new Set(
          Object.keys(meta.inputs)
            .map((i) => /node_modules\/@aws-sdk\/(client-[a-z0-9-]+)\//.exec(i)?.[1])
            .filter((c): c is string => c !== undefined),
        ),
      ].sort();
      const times = Array.from({ length: RUNS }, () => initTime(file));
      rows.push([
        name,
        kb(statSync(file).size),
        kb(gzipSync(body).length),
        clients.map((c) => c.replace('client-', '')).join(' '),
        `${median(times).toFixed(0)} ms`,
        `${Math.max(...times).toFixed(0)} ms`,
      ]);
    }
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0))) ?? [];
    for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  '));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) benchBundles();
