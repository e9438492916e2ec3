/**
 * `tether cluster register | get | delete`, in-process (`run()` of cli/program.ts) against a
 * local runtime: a self-managed cluster registered from a JWKS file, shown, rotated, refused
 * with a private key (exit code of an API error, nothing stored), and forgotten.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '#cli/program';
import { EXIT } from '#cli/exit-codes';
import { type Harness, startHarness } from '../e2e/harness';
import { memoryIo } from '../unit/cli/io';
import { type CliResult, shown, tempDir } from './run-cli';

const REF = '111111111111/eu-west-1/k3s-cli';

let h: Harness;
let dir: string;

async function cli(args: readonly string[], input?: string): Promise<CliResult> {
  const io = memoryIo({ HOME: tempDir('tether-home-') }, input);
  const code = await run(['--endpoint', h.rt.url, ...args], io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

async function keyFiles(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const pub: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const priv: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const file = (name: string, jwk: JWK) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify({ keys: [jwk] }));
    return path;
  };
  return { pub: file(`${kid}.json`, pub), priv: file(`${kid}-private.json`, priv), d: String(priv.d) };
}

beforeAll(async () => {
  h = await startHarness();
  dir = tempDir('tether-jwks-');
});
afterAll(async () => {
  await h?.close();
});

describe('tether cluster', () => {
  it('refuses a JWKS file holding a private key: API error exit code, the key not echoed, nothing stored', async () => {
    // Arrange
    const files = await keyFiles('cli-a');
    // Act
    const r = await cli(['cluster', 'register', REF, '--jwks', files.priv]);
    // Assert
    expect(r.code, shown(r)).toBe(EXIT.API_ERROR);
    expect(r.stderr).toMatch(/VALIDATION_FAILED/);
    expect(r.stderr + r.stdout).not.toContain(files.d);
    expect((await cli(['cluster', 'get', REF])).stderr).toMatch(/CLUSTER_NOT_REGISTERED/);
  });

  it('registers from a JWKS file, shows the issuer to configure, rotates from stdin, and forgets', async () => {
    // Arrange
    const a = await keyFiles('cli-a');
    const b = await keyFiles('cli-b');
    // Act
    const registered = await cli(['cluster', 'register', REF, '--jwks', a.pub]);
    const shownAfter = await cli(['cluster', 'get', REF, '-o', 'json']);
    const rotated = await cli(['cluster', 'register', REF, '--jwks', '-'], readFileSync(b.pub, 'utf8'));
    const forgotten = await cli(['cluster', 'delete', REF]);
    // Assert
    expect(registered.code, shown(registered)).toBe(0);
    expect(registered.stdout).toMatch(
      /Issuer:\s+https:\/\/tether-oidc-000000000000\.s3\.ap-southeast-1\.amazonaws\.com\/111111111111\/eu-west-1\/k3s-cli/,
    );
    expect(registered.stdout).toMatch(/Keys:\s+cli-a/);
    expect(JSON.parse(shownAfter.stdout)).toMatchObject({ cluster: 'k3s-cli', links: 0 });
    expect(rotated.code, shown(rotated)).toBe(0);
    expect(rotated.stdout).toMatch(/Keys:\s+cli-b/);
    expect(forgotten.code, shown(forgotten)).toBe(0);
    expect((await h.api('GET', `/clusters/${REF}`)).status).toBe(404);
  });

  it('refuses a malformed cluster reference as a usage error', async () => {
    const r = await cli(['cluster', 'get', 'k3s-lab']);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(/ACCOUNT\/REGION\/NAME/);
  });
});
