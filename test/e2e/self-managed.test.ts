/**
 * Self-managed clusters publishing OIDC discovery to S3 (the k3s runbook), end to end through
 * the HTTP API: a cluster that is not EKS is registered with its JWKS
 * (`PUT /clusters/{accountId}/{region}/{name}`); its first link publishes the discovery
 * document and JWKS in Tether's OIDC bucket, makes the IAM OIDC provider, the workload role
 * and the target side; a real RSA key pair signs a service-account token that verifies with
 * `jose` against the published documents and that the sandbox's STS takes for
 * AssumeRoleWithWebIdentity, as AWS does. A new JWKS (rotation) republishes at once and
 * keeps the old key while its tokens can be valid; the last link's offboard removes the
 * documents and everything else. Bad registrations are 400/403/422 and change nothing.
 */
import {
  GetRoleCommand,
  GetOpenIDConnectProviderCommand,
  ListOpenIDConnectProvidersCommand,
} from '@aws-sdk/client-iam';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK, jwtVerify, SignJWT } from 'jose';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachSandbox } from '#local/adapters/sdk-plugin';
import { configureRuntime } from '#functions/runtime';
import { localOidcBucket, LOCAL_HUB_ACCOUNT_ID, LOCAL_HUB_REGION } from '#local/runtime';
import { roleArn, workloadRoleName } from '#link/names';
import { demoRequest, type Harness, startHarness } from './harness';
import { tetherResources } from './invariants';
import { byHand } from './probe';

const SOURCE = '111111111111';
const OTHER = '333333333333';
const CLUSTER = { accountId: SOURCE, region: 'eu-west-1', cluster: 'k3s-lab' };
const PATH = `/clusters/${SOURCE}/eu-west-1/k3s-lab`;
const BUCKET = localOidcBucket(LOCAL_HUB_ACCOUNT_ID);
const HOST = `${BUCKET}.s3.${LOCAL_HUB_REGION}.amazonaws.com`;
const ISSUER = `https://${HOST}/${SOURCE}/eu-west-1/k3s-lab`;
const NS = 'reports';
const SA = 'reporter';
const OWNER = { 'x-tether-caller': `arn:aws:sts::${SOURCE}:assumed-role/platform/alice` };
const STRANGER = { 'x-tether-caller': `arn:aws:sts::${OTHER}:assumed-role/platform/mallory` };

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
interface Key {
  readonly kid: string;
  readonly privateKey: PrivateKey;
  readonly jwk: JWK;
  readonly privateJwk: JWK;
}

let h: Harness;
let oldKey: Key;
let newKey: Key;
let stranger: Key;
let linkId: string;

async function rsaKey(kid: string): Promise<Key> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return {
    kid,
    privateKey,
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' },
  };
}

/** A projected service-account token, as the cluster's API server signs it. */
function token(key: Key, serviceAccount = SA, lifetimeSeconds = 3600) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ 'kubernetes.io': { namespace: NS, serviceaccount: { name: serviceAccount } } })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .setIssuer(ISSUER)
    .setSubject(`system:serviceaccount:${NS}:${serviceAccount}`)
    .setAudience('sts.amazonaws.com')
    .setIssuedAt(now)
    .setExpirationTime(now + lifetimeSeconds)
    .sign(key.privateKey);
}

/** What an anonymous reader (IAM, STS) gets at a URL. */
const publicGet = (url: string) => h.rt.sandbox.anonymousGet(url);

/** Verifies a token as STS does: the discovery document, its jwks_uri, then iss, aud and signature. */
async function verifiedByPublished(jwt: string) {
  const discovery = publicGet(`${ISSUER}/.well-known/openid-configuration`);
  const doc = JSON.parse(discovery.body ?? '{}') as { issuer: string; jwks_uri: string };
  const jwks = JSON.parse(publicGet(doc.jwks_uri).body ?? '{}') as { keys: JWK[] };
  const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks), {
    issuer: doc.issuer,
    audience: 'sts.amazonaws.com',
  });
  return payload;
}

/** The sandbox's STS, unsigned, as a pod's SDK calls AssumeRoleWithWebIdentity. */
function webIdentity(
  jwt: string,
  role = roleArn(SOURCE, workloadRoleName({ ...CLUSTER, namespace: NS, serviceAccount: SA })),
) {
  const sts = attachSandbox(
    new STSClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
      maxAttempts: 1,
    }),
    h.rt.sandbox,
    'sts',
  );
  return sts.send(
    new AssumeRoleWithWebIdentityCommand({ RoleArn: role, RoleSessionName: 'pod', WebIdentityToken: jwt }),
  );
}

const registration = (keys: JWK[], extra: Record<string, unknown> = {}) => ({
  kind: 'self-managed',
  jwks: { keys },
  ...extra,
});

const linkRequest = (network: Record<string, unknown>) =>
  demoRequest({
    source: { ...CLUSTER, namespace: NS, serviceAccount: SA },
    identity: { mode: 'irsa' },
    network,
  });

const CIDRS = { mode: 'cidrs', cidrs: ['52.94.76.0/24'] };

beforeAll(async () => {
  h = await startHarness();
  [oldKey, newKey, stranger] = await Promise.all([
    rsaKey('k3s-2026-a'),
    rsaKey('k3s-2026-b'),
    rsaKey('k3s-2026-a'),
  ]);
});
afterAll(async () => {
  await h?.close();
});

describe('PUT /clusters/{accountId}/{region}/{name}: bad registrations change nothing', () => {
  const cases: [string, () => Record<string, unknown>, Record<string, string>, number, string, RegExp][] = [
    [
      'a JWKS holding a private key',
      () => registration([oldKey.privateJwk]),
      OWNER,
      400,
      'VALIDATION_FAILED',
      /private key members \(d, p, q, dp, dq, qi\).*not stored/,
    ],
    [
      'a key without kid',
      () => registration([{ ...oldKey.jwk, kid: undefined }]),
      OWNER,
      400,
      'VALIDATION_FAILED',
      /no kid/,
    ],
    [
      'an issuer that is not https',
      () => registration([oldKey.jwk], { issuer: ISSUER.replace('https:', 'http:') }),
      OWNER,
      400,
      'VALIDATION_FAILED',
      /not https/,
    ],
    [
      'an issuer that is not the bucket URL',
      () => registration([oldKey.jwk], { issuer: 'https://oidc.example.com/k3s-lab' }),
      OWNER,
      400,
      'VALIDATION_FAILED',
      /not served by Tether's OIDC bucket/,
    ],
    [
      "an issuer in the bucket but under another cluster's path",
      () => registration([oldKey.jwk], { issuer: `https://${HOST}/${OTHER}/eu-west-1/k3s-lab` }),
      OWNER,
      400,
      'VALIDATION_FAILED',
      /is not the issuer Tether serves/,
    ],
    [
      'a discovery document naming another issuer',
      () =>
        registration([oldKey.jwk], {
          openidConfiguration: { issuer: 'https://kubernetes.default.svc', jwks_uri: `${ISSUER}/keys.json` },
        }),
      OWNER,
      400,
      'VALIDATION_FAILED',
      /openidConfiguration\/issuer/,
    ],
    [
      'a caller of another account',
      () => registration([oldKey.jwk]),
      STRANGER,
      403,
      'ACCESS_DENIED',
      /may not RegisterCluster/,
    ],
  ];
  for (const [what, body, caller, status, code, detail] of cases) {
    it(`refuses ${what} with ${status} ${code}`, async () => {
      // Arrange
      h.rt.sandbox.resetCalls();
      // Act
      const res = await h.api('PUT', PATH, body(), caller);
      // Assert
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.code).toBe(code);
      expect(JSON.stringify(res.body)).toMatch(detail);
      // The private material is never echoed.
      expect(res.text).not.toContain(String(oldKey.privateJwk.d));
      expect((await h.api('GET', PATH)).body.code).toBe('CLUSTER_NOT_REGISTERED');
      // Refused before any account is read.
      expect(h.rt.sandbox.calls()).toEqual([]);
      expect(publicGet(`${ISSUER}/keys.json`).status).not.toBe(200);
    });
  }

  it('refuses to register an EKS cluster (EKS serves its issuer) with 422 UNSUPPORTED_CLUSTER', async () => {
    const res = await h.api(
      'PUT',
      `/clusters/${SOURCE}/ap-southeast-1/cluster-a`,
      registration([oldKey.jwk]),
      OWNER,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.code).toBe('UNSUPPORTED_CLUSTER');
    expect(res.body.detail).toMatch(/is an EKS cluster/);
    expect((await h.api('GET', `/clusters/${SOURCE}/ap-southeast-1/cluster-a`)).status).toBe(404);
  });

  it('refuses a Region of another partition with 422 PARTITION_UNSUPPORTED', async () => {
    const res = await h.api(
      'PUT',
      `/clusters/${SOURCE}/cn-north-1/k3s-lab`,
      registration([oldKey.jwk]),
      OWNER,
    );
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('PARTITION_UNSUPPORTED');
  });
});

describe('PUT /clusters/…: any JWKS (property)', () => {
  const FUZZ_PATH = `/clusters/${SOURCE}/eu-west-1/k3s-fuzz`;
  const member = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme-ascii' });
  const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

  it('answers 200/201 or a 400 problem, never stores a key with private members, never echoes them', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20261129);
    console.log(`self-managed JWKS property seed ${seed} (replay: FUZZ_SEED=${seed})`);
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            kty: fc.constantFrom('RSA', 'EC', 'oct', 'OKP'),
            kid: member,
            use: fc.constantFrom('sig', 'enc'),
            alg: fc.constantFrom('RS256', 'ES256', 'HS256', 'none'),
            n: fc.oneof(fc.constant(String(oldKey.jwk.n)), member),
            e: fc.constantFrom('AQAB', 'AQ'),
            crv: fc.constantFrom('P-256', 'P-384', 'secp256k1'),
            x: member,
            y: member,
            ...Object.fromEntries(
              PRIVATE.map((m) => [
                m,
                fc.string({ minLength: 12, maxLength: 40, unit: 'grapheme-ascii' }).map((v) => `SECRET${v}`),
              ]),
            ),
          },
          { requiredKeys: ['kty'] },
        ),
        async (key) => {
          const res = await h.api('PUT', FUZZ_PATH, registration([key as JWK]), OWNER);
          expect([200, 201, 400], res.text).toContain(res.status);
          const hasPrivate = PRIVATE.some((m) => (key as Record<string, unknown>)[m] !== undefined);
          if (hasPrivate) {
            expect(res.status, res.text).toBe(400);
            expect(res.body.code).toBe('VALIDATION_FAILED');
          }
          expect(res.text).not.toContain('SECRET');
          const stored = await h.api('GET', FUZZ_PATH, undefined, OWNER);
          if (stored.status === 200) {
            for (const k of stored.body.keys as Record<string, unknown>[])
              for (const m of PRIVATE) expect(k[m]).toBeUndefined();
          }
        },
      ),
      { numRuns: 40, seed },
    );
    // Arrange the rest of the suite: nothing of this cluster stays.
    if ((await h.api('GET', FUZZ_PATH, undefined, OWNER)).status === 200)
      expect((await h.api('DELETE', FUZZ_PATH, undefined, OWNER)).status).toBe(204);
  });
});

describe('registering a self-managed cluster', () => {
  it('stores the public keys and the issuer Tether serves, and publishes nothing before a link', async () => {
    // Act
    const res = await h.api(
      'PUT',
      PATH,
      registration([oldKey.jwk], {
        openidConfiguration: { issuer: ISSUER, jwks_uri: `${ISSUER}/keys.json` },
      }),
      OWNER,
    );
    // Assert
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      ...CLUSTER,
      kind: 'self-managed',
      issuer: ISSUER,
      jwksUri: `${ISSUER}/keys.json`,
      links: 0,
    });
    expect(res.body.keys).toEqual([oldKey.jwk]);
    const read = await h.api('GET', PATH, undefined, OWNER);
    expect(read.status).toBe(200);
    expect(read.body.issuer).toBe(ISSUER);
    expect((await h.api('GET', PATH, undefined, STRANGER)).status).toBe(403);
    expect(publicGet(`${ISSUER}/.well-known/openid-configuration`).status).not.toBe(200);
  });

  it('refuses network nat for it with 422 UNSUPPORTED_CLUSTER (no VPC to read), in a plan and a request', async () => {
    // Arrange
    h.rt.sandbox.resetCalls();
    // Act
    const plan = await h.api('POST', '/plans', linkRequest({ mode: 'nat' }), OWNER);
    const create = await h.api('POST', '/links', linkRequest({ mode: 'nat' }), OWNER);
    // Assert
    for (const res of [plan, create]) {
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body.code).toBe('UNSUPPORTED_CLUSTER');
      expect(res.body.detail).toMatch(/self-managed.*"cidrs"/);
    }
    expect((await h.api('GET', '/links')).body.items).toEqual([]);
    expect(h.rt.sandbox.calls().filter((c) => c.mutating)).toEqual([]);
  });

  it('refuses mode pod-identity for it with 422 UNSUPPORTED_CLUSTER (an EKS feature), in a plan and a request', async () => {
    // Arrange
    h.rt.sandbox.resetCalls();
    const body = { ...linkRequest(CIDRS), identity: { mode: 'pod-identity' } };
    // Act
    const plan = await h.api('POST', '/plans', body, OWNER);
    const create = await h.api('POST', '/links', body, OWNER);
    // Assert
    for (const res of [plan, create]) {
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body.code).toBe('UNSUPPORTED_CLUSTER');
      expect(res.body.detail).toMatch(/self-managed: EKS Pod Identity runs only in EKS clusters/);
    }
    expect(h.rt.sandbox.calls().filter((c) => c.mutating)).toEqual([]);
  });

  it('plans a link with explicit CIDRs without reading the cluster from EKS', async () => {
    // Arrange
    h.rt.sandbox.resetCalls();
    // Act
    const res = await h.api('POST', '/plans', linkRequest(CIDRS), OWNER);
    // Assert
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const check = res.body.checks.find(
      (c: { check: string }) => c.check === `cluster ${SOURCE}/eu-west-1/k3s-lab`,
    );
    expect(check?.detail).toContain(`self-managed, issuer ${ISSUER}`);
    expect(res.body.targets[0].approval).toBe('required');
    expect(h.rt.sandbox.calls().filter((c) => c.accountId === SOURCE && c.service === 'eks')).toEqual([]);
    expect(h.rt.sandbox.calls().filter((c) => c.mutating)).toEqual([]);
  });
});

describe('a link from the self-managed cluster', () => {
  it('ends ACTIVE with the documents published, the provider made and every hop verified', async () => {
    // Act
    const res = await h.api('POST', '/links', linkRequest(CIDRS), OWNER);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    linkId = res.body.links[0].id;
    const approved = await h.approve({ id: linkId, target: { accountId: '222222222222' } }, 'k3s reporter');
    expect(approved.status, JSON.stringify(approved.body)).toBe(202);
    const link = await h.settle(linkId);
    // Assert
    expect(link.status, JSON.stringify(link.error ?? link.steps)).toBe('ACTIVE');
    expect(link.outputs.resolved.source).toMatchObject({ kind: 'self-managed', issuer: ISSUER, natIps: [] });
    expect(link.steps.oidcProvider.result.discovery).toMatchObject({ action: 'created', kids: [oldKey.kid] });
    const hops = link.steps.verify.result.hops as { hop: string; ok: boolean }[];
    expect(hops.find((x) => x.hop === 'published-discovery')?.ok).toBe(true);
    expect(hops.every((x) => x.ok)).toBe(true);
    expect(link.outputs.egress.cidrs).toEqual(['52.94.76.0/24']);
  });

  it('serves the discovery document and JWKS publicly as application/json, and nothing else of the bucket', () => {
    const discovery = publicGet(`${ISSUER}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect(discovery.contentType).toMatch(/^application\/json/);
    const doc = JSON.parse(discovery.body ?? '{}');
    expect(doc.issuer).toBe(ISSUER);
    expect(doc.jwks_uri).toBe(`${ISSUER}/keys.json`);
    const jwks = publicGet(`${ISSUER}/keys.json`);
    expect(jwks.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(jwks.body ?? '{}').keys).toEqual([oldKey.jwk]);
    const bucket = h.rt.sandbox.state().accounts[LOCAL_HUB_ACCOUNT_ID]?.s3?.buckets?.[BUCKET] as any;
    expect(bucket?.PublicAccessBlock).toMatchObject({ BlockPublicAcls: true, IgnorePublicAcls: true });
    expect(publicGet(`https://${HOST}/${SOURCE}/eu-west-1/k3s-lab/other.json`).status).toBe(403);
  });

  it('makes the IAM OIDC provider for the served issuer, audience sts.amazonaws.com', async () => {
    const { iam } = byHand(h.rt.sandbox, SOURCE, 'eu-west-1');
    const arn = `arn:aws:iam::${SOURCE}:oidc-provider/${ISSUER.replace('https://', '')}`;
    const providers =
      (await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList ?? [];
    expect(providers.map((p) => p.Arn)).toContain(arn);
    const provider = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    expect(provider.ClientIDList).toEqual(['sts.amazonaws.com']);
    const role = await iam.send(
      new GetRoleCommand({ RoleName: workloadRoleName({ ...CLUSTER, namespace: NS, serviceAccount: SA }) }),
    );
    const trust = JSON.parse(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? '{}'));
    expect(trust.Statement[0].Principal.Federated).toBe(arn);
    expect(trust.Statement[0].Condition.StringEquals).toEqual({
      [`${ISSUER.replace('https://', '')}:sub`]: `system:serviceaccount:${NS}:${SA}`,
      [`${ISSUER.replace('https://', '')}:aud`]: 'sts.amazonaws.com',
    });
  });

  it("verifies the cluster's signed token with jose against the published documents, as STS does", async () => {
    const payload = await verifiedByPublished(await token(oldKey));
    expect(payload.sub).toBe(`system:serviceaccount:${NS}:${SA}`);
    await expect(verifiedByPublished(await token(stranger))).rejects.toThrow(/signature/);
  });

  it("lets the sandbox's STS take the token for the workload role, and goes on through the target role", async () => {
    // Act
    const session = await webIdentity(await token(oldKey));
    const otherSa = await webIdentity(await token(oldKey, 'intruder')).catch((e: Error) => e);
    const forged = await webIdentity(await token(stranger)).catch((e: Error) => e);
    // Assert
    expect(session.SubjectFromWebIdentityToken).toBe(`system:serviceaccount:${NS}:${SA}`);
    expect((otherSa as Error).name).toBe('AccessDenied');
    expect((forged as Error).name).toBe('InvalidIdentityTokenException');
    const link = (await h.api('GET', `/links/${linkId}`)).body;
    const sts = attachSandbox(
      new STSClient({
        region: 'eu-west-1',
        credentials: {
          accessKeyId: session.Credentials?.AccessKeyId ?? '',
          secretAccessKey: session.Credentials?.SecretAccessKey ?? '',
          sessionToken: session.Credentials?.SessionToken ?? '',
        },
        maxAttempts: 1,
      }),
      h.rt.sandbox,
      'sts',
    );
    const target = await sts.send(
      new AssumeRoleCommand({ RoleArn: link.outputs.targetRoleArn, RoleSessionName: 'kubectl' }),
    );
    expect(target.AssumedRoleUser?.Arn).toContain(':assumed-role/tether-t-');
  });

  it('refuses to forget the cluster while the link uses it (409 CLUSTER_IN_USE)', async () => {
    const res = await h.api('DELETE', PATH, undefined, OWNER);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('CLUSTER_IN_USE');
    expect((await h.api('GET', PATH)).body.links).toBe(1);
  });
});

describe('reconciling the link', () => {
  it('re-runs the ensures, republishing nothing that is already served', async () => {
    // Arrange
    h.rt.sandbox.resetCalls();
    // Act
    const res = await h.api('POST', `/links/${linkId}/reconcile`, undefined, OWNER);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const link = await h.settle(linkId);
    // Assert
    expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
    expect(link.steps.oidcProvider.result.discovery.action).toBe('unchanged');
    expect(h.rt.sandbox.calls().filter((c) => c.mutating)).toEqual([]);
  });
});

describe('the drift sweep', () => {
  it('finds the JWKS gone from the bucket (published-discovery), and its reconcile publishes it again', async () => {
    // Arrange: someone deletes the JWKS from Tether's bucket; STS can no longer check tokens.
    const s3 = attachSandbox(
      new S3Client({
        region: LOCAL_HUB_REGION,
        credentials: h.rt.sandbox.rootCredentials(LOCAL_HUB_ACCOUNT_ID),
      }),
      h.rt.sandbox,
      's3',
    );
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${SOURCE}/eu-west-1/k3s-lab/keys.json` }));
    expect(publicGet(`${ISSUER}/keys.json`).status).not.toBe(200);

    // Act
    const swept = await h.api('POST', '/_sandbox/sweep?wait=true');

    // Assert
    expect(swept.status, JSON.stringify(swept.body)).toBe(200);
    const drifted = swept.body.drifted.find((d: { linkId: string }) => d.linkId === linkId);
    expect(drifted?.failed.map((f: { hop: string }) => f.hop)).toEqual(['published-discovery']);
    expect(drifted?.reconcile).toBe(true);
    const link = await h.settle(linkId);
    expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
    // The publisher found the JWKS absent and wrote it (created), the discovery document as it was.
    expect(link.steps.oidcProvider.result.discovery.action).toBe('created');
    expect(publicGet(`${ISSUER}/keys.json`).status).toBe(200);
    expect((await webIdentity(await token(oldKey))).SubjectFromWebIdentityToken).toContain(SA);
  });
});

describe('key rotation (PUT again with a new JWKS)', () => {
  it('republishes at once, keeping the old key, so tokens of both keys are taken', async () => {
    // Arrange
    const before = await token(oldKey);
    // Act
    const res = await h.api('PUT', PATH, registration([newKey.jwk]), OWNER);
    // Assert
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.keys).toEqual([newKey.jwk]);
    expect(res.body.published).toMatchObject({
      action: 'updated',
      kids: [newKey.kid],
      retiredKids: [oldKey.kid],
    });
    const served = JSON.parse(publicGet(`${ISSUER}/keys.json`).body ?? '{}').keys.map((k: JWK) => k.kid);
    expect(served).toEqual([newKey.kid, oldKey.kid]);
    expect((await webIdentity(before)).SubjectFromWebIdentityToken).toContain(SA);
    expect((await webIdentity(await token(newKey))).SubjectFromWebIdentityToken).toContain(SA);
    const verify = await h.api('POST', `/links/${linkId}/verify`);
    expect(verify.status, JSON.stringify(verify.body)).toBe(200);
    expect(verify.body.verification.ok, JSON.stringify(verify.body)).toBe(true);
    expect(verify.body.verification.hops.map((x: { hop: string }) => x.hop)).toContain('published-discovery');
  });

  it('drops the old key once no token it signed can still be valid (48 hours after)', async () => {
    // Arrange: Tether's clock 49 hours on.
    const base = h.rt.runtime;
    configureRuntime({ ...base, now: () => new Date(Date.now() + 49 * 3600_000) });
    try {
      // Act
      const res = await h.api('PUT', PATH, registration([newKey.jwk]), OWNER);
      // Assert
      expect(res.status).toBe(200);
      expect(res.body.published.retiredKids).toEqual([]);
      const served = JSON.parse(publicGet(`${ISSUER}/keys.json`).body ?? '{}').keys.map((k: JWK) => k.kid);
      expect(served).toEqual([newKey.kid]);
      const stale = await webIdentity(await token(oldKey, SA, 72 * 3600)).catch((e: Error) => e);
      expect((stale as Error).name).toBe('InvalidIdentityTokenException');
      // Verify checks the keys registered now, not those of the onboard (dropped by now).
      const verify = await h.api('POST', `/links/${linkId}/verify`);
      expect(verify.body.verification.ok, JSON.stringify(verify.body)).toBe(true);
    } finally {
      configureRuntime(base);
    }
  });
});

describe('offboarding', () => {
  let secondId: string;

  it("keeps the documents while another link uses the issuer: a second workload's link shares them", async () => {
    // Arrange: a second workload of the same cluster, no network rule (nothing to approve).
    const body = demoRequest({
      source: { ...CLUSTER, namespace: NS, serviceAccount: 'auditor' },
      identity: { mode: 'irsa' },
      network: { mode: 'none' },
    });
    const res = await h.api('POST', '/links', body, OWNER);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    secondId = res.body.links[0].id;
    const second = await h.settle(secondId);
    expect(second.status, JSON.stringify(second.error)).toBe('ACTIVE');
    expect(second.steps.oidcProvider.result).toMatchObject({
      action: 'unchanged',
      discovery: { action: 'unchanged' },
    });
    // Act: the first link goes.
    const del = await h.api('DELETE', `/links/${linkId}`, undefined, OWNER);
    expect(del.status).toBe(202);
    const first = await h.settle(linkId);
    // Assert
    expect(first.status, JSON.stringify(first.error)).toBe('DELETED');
    expect(first.steps.releaseOidcProvider.result).toMatchObject({ action: 'kept', remainingLinks: 1 });
    expect(publicGet(`${ISSUER}/keys.json`).status).toBe(200);
    const session = await webIdentity(
      await token(newKey, 'auditor'),
      roleArn(SOURCE, workloadRoleName({ ...CLUSTER, namespace: NS, serviceAccount: 'auditor' })),
    );
    expect(session.SubjectFromWebIdentityToken).toBe(`system:serviceaccount:${NS}:auditor`);
  });

  it("removes the published documents with the issuer's last link, and everything else; the cluster can then be forgotten", async () => {
    // Act
    const del = await h.api('DELETE', `/links/${secondId}`, undefined, OWNER);
    expect(del.status).toBe(202);
    const link = await h.settle(secondId);
    // Assert
    expect(link.status, JSON.stringify(link.error)).toBe('DELETED');
    expect(link.steps.releaseOidcProvider.result).toMatchObject({ action: 'deleted', discovery: 'deleted' });
    expect(publicGet(`${ISSUER}/.well-known/openid-configuration`).status).not.toBe(200);
    expect(publicGet(`${ISSUER}/keys.json`).status).not.toBe(200);
    expect(tetherResources(h.rt.sandbox)).toEqual([]);
    const forget = await h.api('DELETE', PATH, undefined, OWNER);
    expect(forget.status).toBe(204);
    expect((await h.api('GET', PATH)).status).toBe(404);
  });
});
