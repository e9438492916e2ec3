/**
 * The clusters' Kubernetes APIs over TLS: each served at the endpoint and with the CA the
 * sandbox then returns from DescribeCluster, refusing requests the authenticator refuses,
 * and serving a cluster added while running. (The whole chain with kubectl is in
 * test/e2e/real-tools.test.ts.)
 */
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsDoor, startAwsDoor } from '#local/adapters/aws-http/index';
import { type KubeApis, startKubeApis } from '#local/adapters/kube-api';
import { Sandbox } from '#local/sandbox/index';
import { TOKEN_PREFIX } from '#local/sandbox/kube-api/authenticate';

let sb: Sandbox;
let door: AwsDoor;
let kube: KubeApis;

const cluster = (accountId: string, region: string, name: string) =>
  sb.state().accounts[accountId]?.regions[region]?.eks.clusters[name];

/** GET `path` on `endpoint`, trusting only the cluster's CA as DescribeCluster returns it. */
function get(
  endpoint: string,
  caData: string,
  path: string,
  token?: string,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${endpoint}${path}`,
      {
        ca: Buffer.from(caData, 'base64').toString('utf8'),
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  sb = Sandbox.open();
  door = await startAwsDoor(sb);
  kube = await startKubeApis(sb, { stsHost: door.host });
}, 120_000);
afterAll(async () => {
  await kube?.close();
  await door?.close();
});

describe('the Kubernetes API doors', () => {
  it('serves each cluster over TLS at the endpoint and with the CA DescribeCluster returns', async () => {
    const b = cluster('222222222222', 'ap-southeast-1', 'cluster-b')!;
    expect(b.endpoint).toBe(kube.endpoints.get('222222222222/ap-southeast-1/cluster-b'));
    expect(b.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(Buffer.from(b.certificateAuthorityData, 'base64').toString()).toBe(b.kubeApiCa?.certPem);
    const res = await get(b.endpoint, b.certificateAuthorityData, '/api/v1/namespaces');
    expect(res).toEqual({
      status: 401,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Unauthorized',
        reason: 'Unauthorized',
        code: 401,
      },
    });
  });

  it('refuses a token whose presigned URL names another STS host, without calling it', async () => {
    const b = cluster('222222222222', 'ap-southeast-1', 'cluster-b')!;
    const before = sb.calls().length;
    const url =
      'https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id';
    const res = await get(
      b.endpoint,
      b.certificateAuthorityData,
      '/api',
      `${TOKEN_PREFIX}${Buffer.from(url).toString('base64url')}`,
    );
    expect(res.status).toBe(401);
    expect(kube.log.at(-1)?.reason).toBe('unexpected hostname "sts.amazonaws.com" in pre-signed URL');
    expect(sb.calls().length).toBe(before);
  });

  it("does not trust another cluster's CA", async () => {
    const b = cluster('222222222222', 'ap-southeast-1', 'cluster-b')!;
    const d = cluster('333333333333', 'eu-west-1', 'cluster-d')!;
    await expect(get(b.endpoint, d.certificateAuthorityData, '/api')).rejects.toThrow();
  });

  it('serves a cluster added while it runs', async () => {
    sb.addEksCluster({
      accountId: '444444444444',
      region: 'us-west-2',
      name: 'late',
      authenticationMode: 'API',
    });
    await kube.ready();
    const late = cluster('444444444444', 'us-west-2', 'late')!;
    expect(late.endpoint).toBe(kube.endpoints.get('444444444444/us-west-2/late'));
    expect((await get(late.endpoint, late.certificateAuthorityData, '/version')).status).toBe(401);
  });
});
