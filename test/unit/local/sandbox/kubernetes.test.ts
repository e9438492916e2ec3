import { describe, expect, it } from 'vitest';
import { Sandbox } from '#local/sandbox/index';
import { agentCredentials, rejectionOf } from './helpers';

type ConfigMapOut = { configMap: { data: Record<string, string>; metadata: { resourceVersion: string } } };

async function setup() {
  const sb = Sandbox.open();
  const { accessKeyId } = await agentCredentials(sb, '333333333333');
  const call = (op: string, input: Record<string, unknown>) =>
    sb.invoke('kubernetes', op, input, { accessKeyId, region: 'eu-west-1' });
  return { sb, call };
}

const ref = { clusterName: 'cluster-c', namespace: 'kube-system', name: 'aws-auth' };

describe('kubernetes', () => {
  it('serves the seeded aws-auth ConfigMap of the CONFIG_MAP cluster', async () => {
    const { call } = await setup();
    const out = (await call('GetConfigMap', ref)) as ConfigMapOut;
    expect(out.configMap.data.mapRoles).toContain('arn:aws:iam::333333333333:role/cluster-c-node-role');
    expect(out.configMap.metadata.resourceVersion).toMatch(/^\d+$/);
  });

  it('replaces with optimistic concurrency on resourceVersion', async () => {
    const { call, sb } = await setup();
    const { configMap } = (await call('GetConfigMap', ref)) as ConfigMapOut;
    const data = {
      mapRoles: `${configMap.data.mapRoles}- rolearn: arn:aws:iam::333333333333:role/x\n  username: x\n`,
    };
    const replaced = (await call('ReplaceConfigMap', {
      ...ref,
      data,
      resourceVersion: configMap.metadata.resourceVersion,
    })) as ConfigMapOut;
    expect(replaced.configMap.data).toEqual(data);
    expect(replaced.configMap.metadata.resourceVersion).not.toBe(configMap.metadata.resourceVersion);
    const stale = await rejectionOf(
      call('ReplaceConfigMap', { ...ref, data, resourceVersion: configMap.metadata.resourceVersion }),
    );
    expect(stale).toMatchObject({ code: 'Conflict' });
    expect(sb.callCounts({ accountId: '333333333333', mutating: true })).toBe(2);
  });

  it('reports NotFound and AlreadyExists with Kubernetes reasons', async () => {
    const { call } = await setup();
    expect(await rejectionOf(call('GetConfigMap', { ...ref, clusterName: 'cluster-d' }))).toMatchObject({
      code: 'NotFound',
    });
    await call('CreateConfigMap', { ...ref, clusterName: 'cluster-d', data: { mapRoles: '' } });
    expect(
      await rejectionOf(call('CreateConfigMap', { ...ref, clusterName: 'cluster-d', data: {} })),
    ).toMatchObject({ code: 'AlreadyExists' });
  });
});
