/** The deployment's configuration: defaults that synthesize offline, a file, context on top, and checks. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../../infra/config';

const noContext = () => undefined;
const emptyDir = () => mkdtempSync(join(tmpdir(), 'tether-config-'));

describe('loadConfig', () => {
  it('gives the defaults when there is no file and no context, so synth needs no AWS account', () => {
    const config = loadConfig(noContext, emptyDir());
    expect(config.hub).toEqual(DEFAULT_CONFIG.hub);
    expect(config.memberRegions).toEqual([DEFAULT_CONFIG.hub.region]);
    expect(config.allowedAccessPolicies).not.toContain('AmazonEKSClusterAdminPolicy');
    expect(config.agentRoleName).toBe('tether-agent');
    expect(config.rolePath).toBe('/tether/');
  });

  it('reads tether.config.json, then lays the tether context object on top', () => {
    const dir = emptyDir();
    writeFileSync(
      join(dir, 'tether.config.json'),
      JSON.stringify({ hub: { account: '123456789012' }, tableName: 'from-file', logRetentionDays: 90 }),
    );
    const config = loadConfig((key) => (key === 'tether' ? '{"tableName":"from-context"}' : undefined), dir);
    expect(config.hub).toEqual({ account: '123456789012', region: DEFAULT_CONFIG.hub.region });
    expect(config.tableName).toBe('from-context');
    expect(config.logRetentionDays).toBe(90);
  });

  it('reads the file the tetherConfig context key names, and says when it is missing', () => {
    const dir = emptyDir();
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ memberAccounts: ['111111111111'] }));
    expect(
      loadConfig((key) => (key === 'tetherConfig' ? 'other.json' : undefined), dir).memberAccounts,
    ).toEqual(['111111111111']);
    expect(() => loadConfig((key) => (key === 'tetherConfig' ? 'absent.json' : undefined), dir)).toThrow(
      ConfigError,
    );
  });

  it.each([
    [{ hub: { account: '42', region: 'ap-southeast-1' } }, /hub.account/],
    [{ organization: { id: 'org', organizationalUnitIds: [] } }, /organization.id/],
    [{ logRetentionDays: 31 }, /logRetentionDays/],
    [{ allowedAccessPolicies: ['AmazonEKSComputePolicy'] }, /allowedAccessPolicies/],
    [{ rolePath: '/other/' }, /rolePath/],
    [{ memberRegions: ['mars-1'] }, /memberRegions/],
  ])('refuses %j', (overrides, message) => {
    expect(() => loadConfig((key) => (key === 'tether' ? overrides : undefined), emptyDir())).toThrow(
      message,
    );
  });
});
