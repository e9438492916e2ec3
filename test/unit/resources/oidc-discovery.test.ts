/**
 * OIDC publishing for self-managed clusters, against the sandbox's S3 under the real SDK: a
 * real RSA key pair, its JWKS published under the issuer's path in Tether's bucket, and a
 * service-account token signed with the private key that verifies with `jose` against the
 * discovery document and JWKS as an anonymous reader (IAM, STS) finds them. Rotation keeps
 * the old key until its tokens expire. Bad input is refused before any write.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  GetPublicAccessBlockCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  type S3Client,
  CreateBucketCommand,
} from '@aws-sdk/client-s3';
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK, jwtVerify, SignJWT } from 'jose';
import { CreateOpenIDConnectProviderCommand, CreateRoleCommand } from '@aws-sdk/client-iam';
import { AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import { beforeEach, describe, expect, it } from 'vitest';
import { InvalidRequestError } from '#link/errors';
import { Sandbox } from '#local/sandbox/index';
import {
  discoveryBucketPolicy,
  discoveryIssuer,
  ensureDiscoveryBucket,
  publishDiscovery,
  unpublishDiscovery,
  type DiscoveryDeps,
} from '#resources/oidc-discovery';
import { clientsFor } from '../local/sandbox/helpers';

const BUCKET = 'tether-oidc-000000000000';
const REGION = 'ap-southeast-1';
const CLUSTER = { accountId: '111111111111', region: 'eu-west-1', cluster: 'k3s-lab' };
const ISSUER = discoveryIssuer(BUCKET, REGION, CLUSTER);
const SUB = 'system:serviceaccount:apps:reporter';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

let sb: Sandbox;
let s3: S3Client;
let clock: Date;
let deps: DiscoveryDeps;

async function rsaKey(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } as JWK };
}

/** A projected service-account token, as the cluster's API server signs it. */
function token(key: { kid: string; privateKey: PrivateKey }, lifetimeSeconds = 3600) {
  const now = Math.floor(clock.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .setIssuer(ISSUER)
    .setSubject(SUB)
    .setAudience('sts.amazonaws.com')
    .setIssuedAt(now)
    .setExpirationTime(now + lifetimeSeconds)
    .sign(key.privateKey);
}

/** Verifies a token as STS does: the JWKS the published discovery document points to, iss and aud. */
async function verifiedByPublished(jwt: string) {
  const jwks = sb.issuerJwks(ISSUER);
  if (!jwks) throw new Error('no JWKS published for the issuer');
  const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks as { keys: JWK[] }), {
    issuer: ISSUER,
    audience: 'sts.amazonaws.com',
    currentDate: clock,
  });
  return payload;
}

beforeEach(async () => {
  sb = Sandbox.open();
  ({ s3 } = clientsFor(sb, sb.hubCredentials(), REGION));
  await ensureDiscoveryBucket(s3, BUCKET, REGION);
  clock = new Date('2026-11-29T08:00:00Z');
  deps = {
    s3,
    bucket: BUCKET,
    bucketRegion: REGION,
    fetchPublic: async (url) => sb.anonymousGet(url),
    now: () => clock,
  };
});

describe('the sandbox’s S3 Block Public Access, as S3 documents it', () => {
  it('refuses a public bucket policy on a new bucket (all four settings on by default)', async () => {
    await s3.send(
      new CreateBucketCommand({
        Bucket: 'plain-bucket',
        CreateBucketConfiguration: { LocationConstraint: REGION },
      }),
    );
    const refused = await s3
      .send(
        new PutBucketPolicyCommand({
          Bucket: 'plain-bucket',
          Policy: JSON.stringify(discoveryBucketPolicy('plain-bucket')),
        }),
      )
      .catch((err: Error) => err);
    expect((refused as Error).name).toBe('AccessDenied');
    expect((refused as Error).message).toContain('BlockPublicPolicy');
  });

  it('keeps public ACLs blocked on Tether’s bucket: only its policy is public', async () => {
    const block = await s3.send(new GetPublicAccessBlockCommand({ Bucket: BUCKET }));
    expect(block.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: false,
      RestrictPublicBuckets: false,
    });
    const acl = await s3
      .send(new PutObjectCommand({ Bucket: BUCKET, Key: 'x/keys.json', Body: '{}', ACL: 'public-read' }))
      .catch((err: Error) => err);
    expect((acl as Error).name).toBe('AccessDenied');
  });

  it('serves anonymously only the discovery keys, nothing else of the bucket', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'x/secret.json', Body: '{}' }));
    expect(sb.anonymousGet(`https://${BUCKET}.s3.${REGION}.amazonaws.com/x/secret.json`).status).toBe(403);
  });
});

describe('the sandbox’s STS and a published issuer', () => {
  it('takes a token of the published issuer as AWS does, and refuses one signed by a key that is not published', async () => {
    // Arrange: the issuer published, registered as an OIDC provider, and a role trusting its service account.
    const key = await rsaKey('key-1');
    const stranger = await rsaKey('key-1');
    await publishDiscovery(deps, ISSUER, { keys: [key.jwk] });
    const { iam, sts } = clientsFor(sb, sb.rootCredentials(CLUSTER.accountId), REGION);
    const hostPath = ISSUER.replace('https://', '');
    await iam.send(
      new CreateOpenIDConnectProviderCommand({ Url: ISSUER, ClientIDList: ['sts.amazonaws.com'] }),
    );
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'reporter',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Federated: `arn:aws:iam::${CLUSTER.accountId}:oidc-provider/${hostPath}` },
              Action: 'sts:AssumeRoleWithWebIdentity',
              Condition: {
                StringEquals: { [`${hostPath}:sub`]: SUB, [`${hostPath}:aud`]: 'sts.amazonaws.com' },
              },
            },
          ],
        }),
      }),
    );
    const assume = (jwt: string) =>
      sts.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: `arn:aws:iam::${CLUSTER.accountId}:role/reporter`,
          RoleSessionName: 'reporter',
          WebIdentityToken: jwt,
        }),
      );

    // Act
    const accepted = await assume(await token(key, 24 * 3600));
    const refused = await assume(await token(stranger, 24 * 3600)).catch((err: Error) => err);

    // Assert
    expect(accepted.AssumedRoleUser?.Arn).toBe(
      `arn:aws:sts::${CLUSTER.accountId}:assumed-role/reporter/reporter`,
    );
    expect((refused as Error).name).toBe('InvalidIdentityTokenException');
  });

  it('takes a token signed with a published EC P-256 key (ES256), as STS takes RS256/384/512 and ES256/384/512', async () => {
    // Arrange: STS API reference, AssumeRoleWithWebIdentity: "Tokens must be signed using either
    // RSA keys (RS256, RS384, or RS512) or ECDSA keys (ES256, ES384, or ES512)".
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const ec = { ...(await exportJWK(publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' } as JWK;
    await publishDiscovery(deps, ISSUER, { keys: [ec] });
    const { iam, sts } = clientsFor(sb, sb.rootCredentials(CLUSTER.accountId), REGION);
    const hostPath = ISSUER.replace('https://', '');
    await iam.send(
      new CreateOpenIDConnectProviderCommand({ Url: ISSUER, ClientIDList: ['sts.amazonaws.com'] }),
    );
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'ec-reporter',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Federated: `arn:aws:iam::${CLUSTER.accountId}:oidc-provider/${hostPath}` },
              Action: 'sts:AssumeRoleWithWebIdentity',
              Condition: { StringEquals: { [`${hostPath}:sub`]: SUB } },
            },
          ],
        }),
      }),
    );
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'ec-1' })
      .setIssuer(ISSUER)
      .setSubject(SUB)
      .setAudience('sts.amazonaws.com')
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);

    // Act
    const accepted = await sts.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: `arn:aws:iam::${CLUSTER.accountId}:role/ec-reporter`,
        RoleSessionName: 'ec',
        WebIdentityToken: jwt,
      }),
    );

    // Assert
    expect(accepted.SubjectFromWebIdentityToken).toBe(SUB);
  });
});

describe('publishDiscovery', () => {
  it('publishes discovery and JWKS as JSON under the issuer’s path, and a signed token verifies against them', async () => {
    // Arrange
    const key = await rsaKey('key-1');
    // Act
    const published = await publishDiscovery(deps, ISSUER, { keys: [key.jwk] });
    // Assert
    expect(published).toMatchObject({ action: 'created', jwksUri: `${ISSUER}/keys.json`, kids: ['key-1'] });
    const discovery = sb.anonymousGet(`${ISSUER}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect(discovery.contentType).toBe('application/json');
    expect(JSON.parse(discovery.body ?? '{}')).toMatchObject({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/keys.json`,
    });
    expect(sb.anonymousGet(`${ISSUER}/keys.json`).contentType).toBe('application/json');
    const payload = await verifiedByPublished(await token(key));
    expect(payload.sub).toBe(SUB);
  });

  it('publishes only public members, and a second run with the same JWKS writes nothing', async () => {
    const key = await rsaKey('key-1');
    await publishDiscovery(deps, ISSUER, { keys: [{ ...key.jwk, x5t: 'ignored' }] });
    const before = sb.callCounts({ mutating: true });
    const again = await publishDiscovery(deps, ISSUER, { keys: [{ ...key.jwk, x5t: 'ignored' }] });
    expect(again.action).toBe('unchanged');
    expect(sb.callCounts({ mutating: true })).toBe(before);
    const served = JSON.parse(sb.anonymousGet(`${ISSUER}/keys.json`).body ?? '{}');
    expect(Object.keys(served.keys[0]).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
  });

  it('accepts EC public keys', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'ec-1' };
    expect((await publishDiscovery(deps, ISSUER, { keys: [jwk] })).kids).toEqual(['ec-1']);
  });

  it('on rotation keeps the old key until its tokens can no longer be valid, then drops it', async () => {
    // Arrange
    const old = await rsaKey('key-1');
    const fresh = await rsaKey('key-2');
    await publishDiscovery(deps, ISSUER, { keys: [old.jwk] });
    const oldToken = await token(old, 24 * 3600);
    // Act: the cluster rotates to key-2.
    clock = new Date(clock.getTime() + 3600_000);
    const rotated = await publishDiscovery(deps, ISSUER, { keys: [fresh.jwk] });
    // Assert: both verify.
    expect(rotated).toMatchObject({ action: 'updated', kids: ['key-2'], retiredKids: ['key-1'] });
    expect((await verifiedByPublished(oldToken)).sub).toBe(SUB);
    expect((await verifiedByPublished(await token(fresh))).sub).toBe(SUB);
    // Act: 48 hours after the rotation, the old key goes.
    clock = new Date(clock.getTime() + 48 * 3600_000 + 1000);
    const later = await publishDiscovery(deps, ISSUER, { keys: [fresh.jwk] });
    // Assert
    expect(later.retiredKids).toEqual([]);
    await expect(verifiedByPublished(await token(old))).rejects.toThrow();
    expect((await verifiedByPublished(await token(fresh))).sub).toBe(SUB);
  });

  it('removes both documents with the issuer’s last link', async () => {
    const key = await rsaKey('key-1');
    await publishDiscovery(deps, ISSUER, { keys: [key.jwk] });
    await unpublishDiscovery(deps, ISSUER);
    expect(sb.anonymousGet(`${ISSUER}/.well-known/openid-configuration`).status).toBe(403);
    expect(sb.issuerJwks(ISSUER)).toBeUndefined();
  });
});

describe('publishDiscovery refuses bad input, changing nothing', () => {
  const refusal = async (issuer: string, jwks: unknown) => {
    const before = sb.callCounts({ mutating: true });
    const err = await publishDiscovery(deps, issuer, jwks).catch((e: Error) => e);
    expect(sb.callCounts({ mutating: true })).toBe(before);
    expect(err).toBeInstanceOf(InvalidRequestError);
    return err as InvalidRequestError;
  };

  it('a JWKS with a private key, without echoing any of it', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const secret = { ...(await exportJWK(privateKey)), kid: 'oops' };
    const err = await refusal(ISSUER, { keys: [secret] });
    expect(err.errors[0]?.message).toMatch(/private key members \(d, p, q, dp, dq, qi\)/);
    const said = JSON.stringify({ message: err.message, errors: err.errors });
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'n']) {
      expect(said).not.toContain(String((secret as Record<string, unknown>)[member]).slice(0, 16));
    }
    expect(sb.anonymousGet(`${ISSUER}/keys.json`).status).toBe(403);
  });

  it('a symmetric key, a key without kid, a short RSA key', async () => {
    // jose will not make a 1,024-bit key; Node will.
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const err = await refusal(ISSUER, {
      keys: [
        { kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' },
        { ...(await rsaKey('x')).jwk, kid: undefined },
        { ...short, kid: 'short' },
      ],
    });
    expect(err.errors.map((e) => e.path)).toEqual([
      '/oidc/jwks/keys/0',
      '/oidc/jwks/keys/1',
      '/oidc/jwks/keys/2',
    ]);
    expect(err.errors[2]?.message).toContain('2,048');
  });

  it('an RSA key for an algorithm STS does not take (PS256)', async () => {
    const key = await rsaKey('pss');
    const err = await refusal(ISSUER, { keys: [{ ...key.jwk, alg: 'PS256' }] });
    expect(err.errors[0]?.message).toBe('RSA alg PS256 is not allowed: RS256, RS384 or RS512');
  });

  it('an issuer that is not https', async () => {
    const key = await rsaKey('key-1');
    const err = await refusal(ISSUER.replace('https:', 'http:'), { keys: [key.jwk] });
    expect(err.errors[0]?.message).toContain('not https');
  });

  it('an issuer that does not match the bucket URL', async () => {
    const key = await rsaKey('key-1');
    const err = await refusal('https://oidc.example.com/k3s-lab', { keys: [key.jwk] });
    expect(err.errors[0]?.message).toContain(`${BUCKET}.s3.${REGION}.amazonaws.com`);
  });
});
