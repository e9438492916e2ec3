/**
 * Self-managed clusters' publishing under concurrency (`#resources/self-managed-cluster`),
 * against the sandbox's S3 and the embedded table: however a rotation interleaves with an
 * onboard's publishing, the last write is the latest registration's keys.
 */
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterRef } from '#link/model';
import type { StepDeps } from '#resources/deps';
import { ensureDiscoveryBucket } from '#resources/oidc-discovery';
import { checkRegistration, publishCluster, registerCluster } from '#resources/self-managed-cluster';
import type { ClusterStore } from '#store/clusters';
import { REGION, type SandboxRuntime, startSandboxRuntime, unique } from './support';

const BUCKET = 'tether-oidc-000000000000';

let sr: SandboxRuntime;
let deps: StepDeps;

async function publicKey(kid: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
}

const served = (ref: ClusterRef) =>
  (
    JSON.parse(
      sr.sandbox.anonymousGet(
        `https://${BUCKET}.s3.${REGION}.amazonaws.com/${ref.accountId}/${ref.region}/${ref.cluster}/keys.json`,
      ).body ?? '{"keys":[]}',
    ) as { keys: JWK[] }
  ).keys.map((k) => k.kid);

beforeAll(async () => {
  sr = await startSandboxRuntime();
  deps = {
    ...sr.runtime,
    oidcPublishing: {
      bucket: BUCKET,
      region: REGION,
      fetchPublic: async (url) => sr.sandbox.anonymousGet(url),
    },
  };
  await ensureDiscoveryBucket(sr.clients.hubS3(REGION), BUCKET, REGION);
});
afterAll(async () => {
  await sr?.close();
});

describe('publishCluster', () => {
  it('publishes again when a rotation landed while it was publishing an older registration', async () => {
    // Arrange: the onboard reads registration v1; a rotation to key b lands right after its publish.
    const ref = { accountId: '111111111111', region: 'eu-west-1', cluster: unique('k3s') };
    await registerCluster(deps, ref, { jwks: { keys: [await publicKey('a')] } });
    const b = await publicKey('b');
    const store = deps.clusters as ClusterStore;
    let reads = 0;
    const racing: ClusterStore = Object.assign(Object.create(store), {
      async get(r: ClusterRef) {
        reads += 1;
        if (reads === 2) {
          // The rotation's write, between the onboard's publish and its re-read.
          const current = await store.get(r);
          if (current) await store.put({ ...current, keys: [b] }, current.version);
        }
        return store.get(r);
      },
    });
    // Act
    const published = await publishCluster({ ...deps, clusters: racing }, ref);
    // Assert
    expect(reads).toBeGreaterThanOrEqual(3);
    expect(published.kids).toEqual(['b']);
    expect(served(ref)).toEqual(['b', 'a']);
  });
});

describe('checkRegistration', () => {
  it('names every problem at once, with paths, and never the key material', async () => {
    // Arrange
    const ref = { accountId: '111111111111', region: 'eu-west-1', cluster: 'k3s-lab' };
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const secret = { ...(await exportJWK(privateKey)), kid: 'x' };
    // Act
    const err = (await checkRegistration(deps.oidcPublishing!, ref, {
      issuer: 'http://example.com/k3s',
      jwks: { keys: [secret] },
      openidConfiguration: { issuer: 'https://kubernetes.default.svc' },
    }).catch((e: Error) => e)) as Error & { errors: { path: string }[] };
    // Assert
    expect(err.name).toBe('InvalidRequestError');
    expect(err.errors.map((e) => e.path)).toEqual(['/issuer', '/jwks/keys/0', '/openidConfiguration/issuer']);
    expect(JSON.stringify(err.errors) + err.message).not.toContain(String(secret.d));
  });
});
