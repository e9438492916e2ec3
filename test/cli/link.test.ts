/**
 * The `tether` binary (package.json "bin", a process per command) against a local runtime
 * started here: a link made with `--wait` until ACTIVE, read back as tables, JSON and YAML,
 * its kubeconfig merged into an existing kubeconfig, deleted; and the error cases, each with
 * its problem code and exit code. test/cli/flows.test.ts runs the other flows in-process.
 */
import { readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ONBOARD_STEPS } from '#link/model';
import { type Harness, startHarness } from '../e2e/harness';
import { spawnSync } from 'node:child_process';
import { BIN, type CliOptions, cleanEnv, linkCreate, REPO_ROOT, shown, tempDir, tether } from './run-cli';

const DEMO_SOURCE = '111111111111/ap-southeast-1/cluster-a/kubeai-chatbot/kubeai-chatbot';
const CLUSTER_B = '222222222222/ap-southeast-1/cluster-b';
const CLUSTER_B_ARN = 'arn:aws:eks:ap-southeast-1:222222222222:cluster/cluster-b';
const ONBOARD_LABELS = [
  'Resolve clusters and NAT IPs',
  'Ensure OIDC provider',
  'Ensure workload role',
  'Ensure target role',
  'Ensure access entry',
  'Ensure egress allowance',
  'Render kubeconfig',
  'Verify role chain',
];
const ESC = String.fromCharCode(27);

let h: Harness;
let cli: (args: readonly string[], options?: CliOptions) => ReturnType<typeof tether>;
let demoId: string;

beforeAll(async () => {
  h = await startHarness();
  cli = (args, options = {}) =>
    tether(args, { ...options, env: { TETHER_ENDPOINT: h.rt.url, ...options.env } });
});
afterAll(async () => {
  await h?.close();
});

describe('tether link create --wait (flags)', () => {
  it('shows each step as it completes, as plain lines off a terminal, and ends ACTIVE with exit 0', async () => {
    const r = await cli(linkCreate(DEMO_SOURCE, CLUSTER_B, '--policy', 'AmazonEKSViewPolicy', '--wait'));
    expect(r.code, shown(r)).toBe(0);
    const id = /Link (lnk_[0-9A-Z]{26}): ACTIVE/.exec(r.stdout)?.[1];
    expect(id, shown(r)).toBeDefined();
    demoId = id!;
    expect(r.stdout).toMatch(/Request req_\S+ accepted \(202\): 1 link/);
    for (const label of ONBOARD_LABELS) expect(r.stdout).toMatch(new RegExp(`✓ ${label}\\s+\\d[\\d.]* m?s`));
    expect(r.stdout).toMatch(/✓ Ensure OIDC provider\s+\d[\d.]* m?s\s+created/);
    expect(r.stdout).toMatch(/✓ Verify role chain\s+\d[\d.]* m?s\s+(\d+)\/\1 hops hold/);
    // Each step once, in a pipe: no redrawing, no colour.
    expect(r.stdout.match(/✓ Render kubeconfig/g)).toHaveLength(1);
    expect(r.stdout).not.toContain(ESC);
    expect(r.stderr).toBe('');
  });
});

describe('reading links', () => {
  it('link list: a table, and JSON and YAML that parse', async () => {
    const [table, json, yaml] = await Promise.all([
      cli(['link', 'list']),
      cli(['link', 'list', '-o', 'json']),
      cli(['link', 'list', '--output', 'yaml', '--status', 'ACTIVE']),
    ]);
    expect(table.code, shown(table)).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+SOURCE\s+TARGET\s+ACCESS\s+AGE$/);
    expect(lines.find((l) => l.startsWith(demoId))).toMatch(
      /ACTIVE\s+cluster-a\/kubeai-chatbot\/kubeai-chatbot\s+222222222222\/cluster-b\s+AmazonEKSViewPolicy \(cluster\)/,
    );
    const page = JSON.parse(json.stdout);
    expect(page.items.map((l: any) => l.id)).toContain(demoId);
    const fromYaml = YAML.parse(yaml.stdout);
    expect(fromYaml.items.every((l: any) => l.status === 'ACTIVE')).toBe(true);
    expect(fromYaml.items.map((l: any) => l.id)).toContain(demoId);
  });

  it('link get: the details as text, the link as JSON', async () => {
    const [text, json] = await Promise.all([
      cli(['link', 'get', demoId]),
      cli(['link', 'get', demoId, '-o', 'json']),
    ]);
    expect(text.code, shown(text)).toBe(0);
    expect(text.stdout).toMatch(/^Status:\s+ACTIVE$/m);
    expect(text.stdout).toMatch(
      /^Source:\s+kubeai-chatbot\/kubeai-chatbot in cluster-a \(111111111111, ap-southeast-1\)$/m,
    );
    expect(text.stdout).toMatch(
      /^Annotation:\s+eks\.amazonaws\.com\/role-arn=arn:aws:iam::111111111111:role\/tether\//m,
    );
    expect(text.stdout).toMatch(/Ensure egress allowance\s+SUCCEEDED\s+1\s/);
    const link = JSON.parse(json.stdout);
    expect(link).toMatchObject({ id: demoId, status: 'ACTIVE' });
    expect(Object.keys(link.steps).sort()).toEqual([...ONBOARD_STEPS].sort());
  });
});

describe('tether link kubeconfig', () => {
  it('writes the kubeconfig to stdout', async () => {
    const r = await cli(['link', 'kubeconfig', demoId]);
    expect(r.code, shown(r)).toBe(0);
    const config = YAML.parse(r.stdout);
    expect(config.kind).toBe('Config');
    // Named by the target cluster's ARN, as aws eks update-kubeconfig names it.
    expect(config.contexts[0].name).toBe(CLUSTER_B_ARN);
    expect(config.users[0].name).toMatch(/^arn:aws:iam::222222222222:role\/tether\/tether-t-/);
  });

  it('merges into an existing kubeconfig without losing its clusters, users, contexts or current context', async () => {
    const dir = tempDir();
    const path = join(dir, 'config');
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        '# my own clusters',
        'clusters:',
        '- name: kind-dev',
        '  cluster: {server: "https://127.0.0.1:6443"}',
        'contexts:',
        '- name: kind-dev',
        '  context: {cluster: kind-dev, user: kind-dev}',
        'current-context: kind-dev',
        'preferences: {colors: true}',
        'users:',
        '- name: kind-dev',
        '  user: {token: not-a-secret}',
        '',
      ].join('\n'),
      { mode: 0o640 },
    );
    const r = await cli(['link', 'kubeconfig', demoId, '--kubeconfig', path]);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout).toBe(`Added new context ${CLUSTER_B_ARN} to ${path}\n`);
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('# my own clusters');
    const merged = YAML.parse(text);
    expect(merged['current-context']).toBe('kind-dev');
    expect(merged.preferences).toEqual({ colors: true });
    expect(merged.contexts.map((c: any) => c.name)).toEqual(['kind-dev', CLUSTER_B_ARN]);
    expect(merged.clusters.map((c: any) => c.name)).toEqual(['kind-dev', CLUSTER_B_ARN]);
    expect(merged.users[0]).toEqual({ name: 'kind-dev', user: { token: 'not-a-secret' } });
    expect(merged.users[1].user.exec.args).toContain('get-token');
    expect(statSync(path).mode & 0o777).toBe(0o640);

    // Again, under an alias, as the current context: updated in place, nothing doubled.
    const again = await cli([
      'link',
      'kubeconfig',
      demoId,
      '--kubeconfig',
      path,
      '--alias',
      'b',
      '--set-context',
    ]);
    expect(again.code, shown(again)).toBe(0);
    expect(again.stdout).toContain(`Added new context b to ${path}`);
    expect(again.stdout).toContain('Current context: b');
    const third = await cli(['link', 'kubeconfig', demoId, '--kubeconfig', path, '--alias', 'b']);
    expect(third.stdout).toContain(`Updated context b in ${path}`);
    const final = YAML.parse(readFileSync(path, 'utf8'));
    expect(final['current-context']).toBe('b');
    expect(final.contexts.map((c: any) => c.name)).toEqual(['kind-dev', CLUSTER_B_ARN, 'b']);
    expect(final.clusters).toHaveLength(2);
    expect(final.users).toHaveLength(2);
  });
});

describe('errors: the problem code on stderr and a stable exit code', () => {
  it('LINK_NOT_FOUND (exit 1)', async () => {
    const r = await cli(['link', 'get', 'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error LINK_NOT_FOUND: Link lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5 does not exist\n');
    expect(r.stdout).toBe('');
  });

  it('VALIDATION_FAILED with the pointer of each invalid field (exit 1)', async () => {
    const r = await cli(
      linkCreate('1/mars/cluster-a/Bad_NS/sa', CLUSTER_B, '--policy', 'AmazonEKSViewPolicy'),
    );
    expect(r.code, shown(r)).toBe(1);
    expect(r.stderr).toMatch(/^error VALIDATION_FAILED: /);
    expect(r.stderr).toContain('/source/accountId (body)');
    expect(r.stderr).toContain('/source/region (body)');
    expect(r.stderr).toContain('/source/namespace (body)');
  });

  // Every usage error is covered in-process (test/unit/cli/program.test.ts); a few through the binary.
  it('usage errors exit 2 and send nothing', async () => {
    h.rt.sandbox.resetCalls();
    const cases = await Promise.all([
      cli(['link', 'create', '--source', DEMO_SOURCE, '--policy', 'AmazonEKSViewPolicy']),
      cli(['link', 'get', 'not-a-link']),
      cli(['link', 'list', '--output', 'xml']),
    ]);
    for (const r of cases) {
      expect(r.code, shown(r)).toBe(2);
      expect(r.stderr).toMatch(/^error/);
      expect(r.stdout).toBe('');
    }
    expect(cases[0]!.stderr).toContain('--target ACCOUNT/REGION/CLUSTER');
    expect(cases[1]!.stderr).toContain('"not-a-link" is not a link id');
    expect(h.rt.sandbox.callCounts()).toBe(0);
  });

  it('an endpoint that does not answer exits 4', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    const r = await tether(['link', 'list'], { env: { TETHER_ENDPOINT: `http://127.0.0.1:${port}` } });
    expect(r.code, shown(r)).toBe(4);
    expect(r.stderr).toBe(
      `error ENDPOINT_UNREACHABLE: cannot reach http://127.0.0.1:${port}: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:${port})\n`,
    );
  });

  it('--help lists the commands and the exit codes (exit 0)', async () => {
    const r = await tether(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Exit codes:');
    for (const code of [
      '0  ok',
      '1  the API answered',
      '2  usage error',
      '3  a link ended FAILED',
      '4  the endpoint',
      '5  --wait',
    ]) {
      expect(r.stdout).toContain(code);
    }
    const link = await tether(['link', '--help']);
    for (const cmd of [
      'create',
      'list',
      'get',
      'wait',
      'delete',
      'reconcile',
      'kubeconfig',
      'runs',
      'verify',
    ]) {
      expect(link.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
    }
  });
});

describe('tether link delete --wait', () => {
  it('follows the offboard steps to DELETED; the kubeconfig is then refused with LINK_NOT_READY', async () => {
    const r = await cli(['link', 'delete', demoId, '--wait']);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout).toContain(`Link ${demoId} is DELETING`);
    for (const label of [
      'Revoke egress allowance',
      'Remove access entry',
      'Remove target role',
      'Release workload role',
      'Release OIDC provider',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`✓ ${label}\\s+\\d[\\d.]* m?s\\s+\\S`));
    }
    // Only the offboard's steps: the onboard's are on the record but are not this run's.
    expect(r.stdout).not.toContain('Ensure');
    expect(r.stdout).toContain(`Link ${demoId}: DELETED`);
    const kube = await cli(['link', 'kubeconfig', demoId]);
    expect(kube.code).toBe(1);
    expect(kube.stderr).toMatch(/^error LINK_NOT_READY: /);
    const gone = await cli(['link', 'delete', demoId]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error LINK_NOT_FOUND: /);
  });
});

describe('the package bin', () => {
  it('is cli/bin.mjs, an executable that runs on Node as it is, linked into node_modules/.bin by npm ci', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.bin).toEqual({ tether: 'cli/bin.mjs' });
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const direct = spawnSync(BIN, ['--version'], { cwd: REPO_ROOT, env: cleanEnv(), encoding: 'utf8' });
    expect(direct.stdout).toBe(`${pkg.version}\n`);
    // npm ci runs `prepare`, which links the project's own bin (npm links only the dependencies').
    expect(pkg.scripts.prepare).toBe('node cli/link-bin.mjs');
    const linked = spawnSync(process.execPath, ['cli/link-bin.mjs'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(linked.status, linked.stderr).toBe(0);
    const bin = join(REPO_ROOT, 'node_modules', '.bin', 'tether');
    expect(readlinkSync(bin)).toBe(join('..', '..', 'cli', 'bin.mjs'));
    const viaBin = spawnSync(bin, ['--version'], { cwd: REPO_ROOT, env: cleanEnv(), encoding: 'utf8' });
    expect(viaBin.stdout).toBe(`${pkg.version}\n`);
    const npx = spawnSync('npm', ['exec', '--offline', '--', 'tether', '--version'], {
      cwd: REPO_ROOT,
      env: cleanEnv(),
      encoding: 'utf8',
    });
    expect(npx.stdout.trim().split('\n').at(-1), npx.stderr).toBe(pkg.version);
  });
});

describe('tether link create --identity roles-anywhere', () => {
  it('shows the CA Secret Tether made once, with its key, and sends a given CA certificate', async () => {
    const made = await cli(
      linkCreate(
        '111111111111/ap-southeast-1/cluster-a/ra/made',
        CLUSTER_B,
        '--policy',
        'AmazonEKSViewPolicy',
        '--network',
        'none',
        '--identity',
        'roles-anywhere',
      ),
    );
    expect(made.code, shown(made)).toBe(0);
    expect(made.stdout).toContain('shown this once');
    const secret = YAML.parse(made.stdout.slice(made.stdout.indexOf('apiVersion: v1')));
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.stringData['tls.key']).toContain('PRIVATE KEY');
    // The same CA given as a file: no new Secret.
    const file = join(tempDir(), 'ca.pem');
    writeFileSync(file, secret.stringData['tls.crt']);
    const given = await cli(
      linkCreate(
        '111111111111/ap-southeast-1/cluster-a/ra/given',
        CLUSTER_B,
        '--policy',
        'AmazonEKSViewPolicy',
        '--network',
        'none',
        '--identity',
        'roles-anywhere',
        '--ca-certificate',
        file,
      ),
    );
    expect(given.code, shown(given)).toBe(0);
    expect(given.stdout).not.toContain('PRIVATE KEY');
    const usage = await cli(
      linkCreate(
        DEMO_SOURCE,
        CLUSTER_B,
        '--policy',
        'AmazonEKSViewPolicy',
        '--ca-certificate',
        file,
        '--identity',
        'irsa',
      ),
    );
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--ca-certificate goes with --identity roles-anywhere');
  });
});
