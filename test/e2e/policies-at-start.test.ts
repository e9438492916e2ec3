/**
 * The policies are read when the control plane starts (docs/architecture.md#who-may-link-what):
 * a policy file that does not validate stops the start with its file and line, before the
 * data directory is taken; the policies of another folder decide instead of the defaults.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolvePolicyDir } from '#api/authorization';
import { startLocalRuntime } from '#local/runtime';
import { demoRequest, harnessFor } from './harness';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A policy folder with the shipped schema and one policy file. */
function policyFolder(policy: string): string {
  const dir = tempDir('tether-policies-');
  copyFileSync(join(resolvePolicyDir(), 'tether.cedarschema'), join(dir, 'tether.cedarschema'));
  writeFileSync(join(dir, 'team.cedar'), policy);
  return dir;
}

describe('starting with the policies of a folder', () => {
  it('stops at a policy that does not validate, naming its file and line, and leaves the data directory free', async () => {
    // Arrange
    const policyDir = policyFolder(
      '// Everyone reads\npermit (principal, action == Tether::Action::"ReadLink", resource)\nwhen { resource.owner == principal };\n',
    );
    const dataDir = tempDir('tether-start-');

    // Act
    const starting = startLocalRuntime({ dataDir, policyDir });

    // Assert
    await expect(starting).rejects.toMatchObject({
      name: 'PolicyFileError',
      message: expect.stringMatching(/team\.cedar:3:8: .*attribute `owner`/),
    });
    const rt = await startLocalRuntime({ dataDir });
    await rt.close();
  });

  it('decides with them: a folder that permits only reads refuses the operator a new link', async () => {
    // Arrange
    const policyDir = policyFolder('permit (principal, action == Tether::Action::"ReadLink", resource);\n');
    const h = harnessFor(await startLocalRuntime({ policyDir, retryIntervalMs: 1 }));

    try {
      // Act
      const created = await h.api('POST', '/links', demoRequest());
      const listed = await h.api('GET', '/links');

      // Assert
      expect(created.status).toBe(403);
      expect(created.body).toMatchObject({ code: 'ACCESS_DENIED', action: 'CreateLink' });
      expect(created.body.detail).toMatch(/no policy permits it/);
      expect(listed.status).toBe(200);
    } finally {
      await h.close();
    }
  });
});
