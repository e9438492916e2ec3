import { describe, expect, it } from 'vitest';
import type { ConfigMap, KubernetesApi } from '#aws/kubernetes';
import { readAwsAuth } from '#aws/kubernetes';
import { earlierKubernetesUsernames, kubernetesUsername } from '#link/names';
import { ensureAwsAuthEntry, entryBinding, removeAwsAuthEntry, ROLE_ID_TAG } from '#resources/access-entry';

/** An in-memory Kubernetes API holding ConfigMaps, with resourceVersions. */
function memoryKubernetes(initial: Record<string, string> = {}): KubernetesApi {
  const maps = new Map<string, ConfigMap>();
  let version = 1;
  if (Object.keys(initial).length) maps.set('kube-system/aws-auth', { data: initial, resourceVersion: '1' });
  return {
    async getConfigMap(ns, name) {
      return maps.get(`${ns}/${name}`);
    },
    async replaceConfigMap(ns, name, data) {
      maps.set(`${ns}/${name}`, { data, resourceVersion: String(++version) });
    },
    async createConfigMap(ns, name, data) {
      maps.set(`${ns}/${name}`, { data, resourceVersion: String(++version) });
    },
  };
}

const spec = {
  source: {
    accountId: '111111111111',
    region: 'eu-west-1',
    cluster: 'cluster-a',
    namespace: 'ns',
    serviceAccount: 'sa',
  },
  access: { groups: ['readers'] },
};
const ROLE = 'arn:aws:iam::333333333333:role/tether/tether-t-x';

describe('ensureAwsAuthEntry', () => {
  it('takes an entry with the username Tether wrote by default before as its own, and renames it', async () => {
    // Arrange
    const kube = memoryKubernetes({
      mapRoles: `- rolearn: arn:aws:iam::333333333333:role/tether-t-x\n  username: tether:cluster-a:ns:sa\n  groups:\n    - readers\n`,
    });
    // Act
    const result = await ensureAwsAuthEntry(
      kube,
      ROLE,
      spec.access,
      kubernetesUsername(spec),
      earlierKubernetesUsernames(spec),
    );
    // Assert
    expect(result).toMatchObject({ action: 'updated', username: kubernetesUsername(spec) });
    expect((await readAwsAuth(kube)).mapRoles).toEqual([
      {
        rolearn: 'arn:aws:iam::333333333333:role/tether-t-x',
        username: kubernetesUsername(spec),
        groups: ['readers'],
      },
    ]);
  });

  it('removes an entry with an earlier default username as Tether’s', async () => {
    const kube = memoryKubernetes({
      mapRoles: `- rolearn: arn:aws:iam::333333333333:role/tether-t-x\n  username: tether:cluster-a:ns:sa\n  groups:\n    - readers\n`,
    });
    const result = await removeAwsAuthEntry(
      kube,
      ROLE,
      kubernetesUsername(spec),
      earlierKubernetesUsernames(spec),
    );
    expect(result.action).toBe('deleted');
    expect((await readAwsAuth(kube)).mapRoles).toEqual([]);
  });

  it('refuses someone else’s mapping that grants other groups, and leaves it', async () => {
    const mapRoles = `- rolearn: arn:aws:iam::333333333333:role/tether-t-x\n  username: ops\n  groups:\n    - admins\n`;
    const kube = memoryKubernetes({ mapRoles });
    await expect(ensureAwsAuthEntry(kube, ROLE, spec.access, kubernetesUsername(spec))).rejects.toMatchObject(
      {
        code: 'CONFLICT_UNMANAGED_RESOURCE',
      },
    );
    expect((await kube.getConfigMap('kube-system', 'aws-auth'))?.data.mapRoles).toBe(mapRoles);
  });
});

describe('entryBinding', () => {
  const principal = {
    arn: ROLE,
    roleId: 'AROANEW',
    createdAt: new Date('2026-01-02T00:00:00Z'),
  };

  it('holds when the recorded role id is the role’s', () => {
    expect(entryBinding({ tags: { [ROLE_ID_TAG]: 'AROANEW' } }, principal).bound).toBe(true);
  });

  it('fails, naming both ids, when the recorded role id is another', () => {
    const binding = entryBinding({ tags: { [ROLE_ID_TAG]: 'AROAOLD' } }, principal);
    expect(binding.bound).toBe(false);
    expect(binding.detail).toContain('AROAOLD');
    expect(binding.detail).toContain('AROANEW');
  });

  it('judges an entry without a recorded id by time: older than its role is bound to an earlier role', () => {
    expect(entryBinding({ createdAt: new Date('2026-01-01T00:00:00Z') }, principal).bound).toBe(false);
    expect(entryBinding({ createdAt: new Date('2026-01-03T00:00:00Z') }, principal).bound).toBe(true);
  });
});
