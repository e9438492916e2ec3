/**
 * OIDC publishing (the self-managed OIDC runbook, docs/runbooks.md): for a cluster that is
 * not EKS (k3s, on-premises), IAM can trust its service-account tokens only if the issuer's
 * discovery document and JWKS are served over HTTPS. Tether serves them from its own S3
 * bucket (the hub stack's OIDC bucket), under the issuer's path:
 *
 * ```
 * https://<bucket>.s3.<region>.amazonaws.com/<account>/<region>/<cluster>/.well-known/openid-configuration
 * https://<bucket>.s3.<region>.amazonaws.com/<account>/<region>/<cluster>/keys.json
 * ```
 *
 * Readable publicly through a bucket policy on exactly those keys — not ACLs: the bucket
 * blocks public ACLs and ignores them, and only its policy may be public (Block Public
 * Access with `BlockPublicPolicy` and `RestrictPublicBuckets` off, `BlockPublicAcls` and
 * `IgnorePublicAcls` on; S3 user guide, "Blocking public access"). The runbook's
 * `--acl public-read` would be refused by such a bucket. Both documents are
 * `Content-Type: application/json`.
 *
 * The JWKS is checked with `jose` before anything is written: RSA (2,048 bits at least) or
 * EC (P-256, P-384, P-521) public keys only, each with a `kid`, none with a private member
 * (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`). A key that breaks a rule is refused with its
 * index and the rule, never its material: the upload is neither stored nor logged. Only the
 * public members are published.
 *
 * Rotation: a new JWKS is published with the keys it drops kept beside it, each stamped with
 * when it was dropped, until `retainRetiredKeysSeconds` (default 48 hours: longer than any
 * service-account token a cluster should issue) have passed, so a token signed by an old key
 * verifies until it expires.
 *
 * After writing, the documents are read back anonymously at their public URLs (as IAM and STS
 * read them) and checked: the discovery document's `issuer` is the URL it is served under,
 * its `jwks_uri` is the served JWKS, both are JSON.
 *
 * Thumbprints: IAM no longer uses the thumbprint of an issuer served by S3 (a trusted root
 * CA IAM knows): `CreateOpenIDConnectProvider` takes none (IAM user guide, "Create an OpenID
 * Connect identity provider"). It still needs one only for issuers whose certificate chains
 * to a CA IAM does not trust (self-hosted HTTPS), which Tether does not publish.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
  CreateBucketCommand,
  GetBucketPolicyCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
} from '@aws-sdk/client-s3';
import { importJWK, type JWK } from 'jose';
import { isAwsError } from '#aws/errors';
import { InvalidRequestError, UnsupportedClusterError } from '#link/errors';
import type { ClusterRef } from '#link/model';

import { DISCOVERY_PATH, JWKS_PATH } from './published-discovery';

export { DISCOVERY_PATH, JWKS_PATH } from './published-discovery';
/** How long a key dropped from the JWKS is still published, by default. */
export const RETAIN_RETIRED_KEYS_SECONDS = 48 * 3600;
/** Object metadata on keys.json: when each retired key was dropped (`kid` → ISO time). */
const RETIRED_METADATA = 'tether-retired';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const EC_CURVES: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
const RSA_ALGS = ['RS256', 'RS384', 'RS512'];

/** A public key as Tether publishes it: only the public members. */
export type PublicJwk = Pick<JWK, 'kty' | 'kid' | 'use' | 'alg' | 'n' | 'e' | 'crv' | 'x' | 'y'>;

/** The issuer URL Tether serves for a self-managed cluster. */
export function discoveryIssuer(bucket: string, bucketRegion: string, cluster: ClusterRef): string {
  return `https://${bucket}.s3.${bucketRegion}.amazonaws.com/${cluster.accountId}/${cluster.region}/${cluster.cluster}`;
}

/** What is wrong with an issuer Tether is asked to publish (a JSON Pointer per problem). */
export function issuerProblems(
  issuer: string,
  bucket: string,
  bucketRegion: string,
  at = '/oidc/issuer',
): { path: string; message: string }[] {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return [{ path: at, message: `${issuer} is not a URL` }];
  }
  if (url.protocol !== 'https:')
    return [{ path: at, message: `${issuer} is not https: IAM fetches issuers over HTTPS only` }];
  const host = `${bucket}.s3.${bucketRegion}.amazonaws.com`;
  if (url.host !== host) {
    return [
      { path: at, message: `${issuer} is not served by Tether's OIDC bucket: its host must be ${host}` },
    ];
  }
  if (url.search || url.hash || issuer.endsWith('/') || url.pathname.length <= 1) {
    return [
      { path: at, message: `${issuer} must be ${host}/<path>, without a trailing slash, query or fragment` },
    ];
  }
  return [];
}

/**
 * Checks a JWKS and returns its keys with only their public members. Throws
 * {@link InvalidRequestError} (400 VALIDATION_FAILED) naming each key at fault by index and
 * rule; the key material never appears in the message.
 */
export async function validateJwks(jwks: unknown, at = '/oidc/jwks'): Promise<PublicJwk[]> {
  const problems: { path: string; message: string }[] = [];
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(keys) || keys.length === 0) {
    throw new InvalidRequestError('The JWKS must be an object with a non-empty "keys" array', [
      { path: at, message: 'must be {"keys": [...]} with at least one key' },
    ]);
  }
  const out: PublicJwk[] = [];
  const kids = new Set<string>();
  for (const [i, raw] of keys.entries()) {
    const path = `${at}/keys/${i}`;
    if (typeof raw !== 'object' || raw === null) {
      problems.push({ path, message: 'is not a JSON Web Key' });
      continue;
    }
    const key = raw as Record<string, unknown>;
    const privateMembers = PRIVATE_MEMBERS.filter((m) => key[m] !== undefined);
    if (privateMembers.length) {
      // Name the members, never their values: the upload is a secret now, and is dropped.
      problems.push({
        path,
        message: `holds private key members (${privateMembers.join(', ')}): publish the public key only; this upload was not stored`,
      });
      continue;
    }
    if (key.kty !== 'RSA' && key.kty !== 'EC') {
      problems.push({ path, message: `kty ${String(key.kty)} is not allowed: RSA or EC public keys only` });
      continue;
    }
    if (typeof key.kid !== 'string' || key.kid === '') {
      problems.push({ path, message: 'has no kid: service-account tokens name their key by kid' });
      continue;
    }
    if (kids.has(key.kid)) {
      problems.push({ path, message: `repeats kid ${key.kid}` });
      continue;
    }
    if (key.use !== undefined && key.use !== 'sig') {
      problems.push({ path, message: `use ${String(key.use)}: signing keys only` });
      continue;
    }
    const alg =
      key.kty === 'RSA' ? (typeof key.alg === 'string' ? key.alg : 'RS256') : EC_CURVES[String(key.crv)];
    // STS takes RS256/384/512 and ES256/384/512 only (docs/aws-facts.md#web-identity-tokens).
    if (key.kty === 'RSA' && !RSA_ALGS.includes(alg ?? '')) {
      problems.push({ path, message: `RSA alg ${String(key.alg)} is not allowed: RS256, RS384 or RS512` });
      continue;
    }
    if (!alg || (key.kty === 'EC' && key.alg !== undefined && key.alg !== alg)) {
      problems.push({
        path,
        message: `EC curve ${String(key.crv)} with alg ${String(key.alg)} is not allowed: P-256/ES256, P-384/ES384, P-521/ES512`,
      });
      continue;
    }
    const publicOnly: PublicJwk = Object.fromEntries(
      ['kty', 'kid', 'use', 'alg', 'n', 'e', 'crv', 'x', 'y']
        .filter((m) => key[m] !== undefined)
        .map((m) => [m, key[m]]),
    ) as PublicJwk;
    if (key.kty === 'RSA' && Buffer.from(String(key.n ?? ''), 'base64url').length * 8 < 2048) {
      problems.push({ path, message: 'RSA modulus is shorter than 2,048 bits' });
      continue;
    }
    try {
      const imported = await importJWK(publicOnly as JWK, alg);
      if (!(imported instanceof Uint8Array) && imported.type !== 'public')
        throw new Error('not a public key');
    } catch {
      problems.push({ path, message: `is not a valid ${String(key.kty)} public key for ${alg}` });
      continue;
    }
    kids.add(key.kid);
    out.push(publicOnly);
  }
  if (problems.length) {
    throw new InvalidRequestError(
      `The JWKS is refused: ${problems[0]?.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
      problems,
    );
  }
  return out;
}

/** The discovery document of an issuer served by Tether (the fields IAM and STS read). */
export function discoveryDocument(issuer: string) {
  return {
    issuer,
    jwks_uri: `${issuer}/${JWKS_PATH}`,
    authorization_endpoint: 'urn:kubernetes:programmatic_authorization',
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'],
    claims_supported: ['sub', 'iss'],
  };
}

/** An anonymous HTTPS GET (IAM's and STS's view of a URL). In AWS: `fetch`; locally: the sandbox's. */
export type PublicFetch = (url: string) => Promise<{ status: number; contentType?: string; body?: string }>;

export interface DiscoveryDeps {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly bucketRegion: string;
  readonly fetchPublic: PublicFetch;
  readonly now: () => Date;
  /** @default {@link RETAIN_RETIRED_KEYS_SECONDS} */
  readonly retainRetiredKeysSeconds?: number;
}

const keyOf = (issuer: string, bucket: string, bucketRegion: string, file: string) =>
  `${issuer.slice(`https://${bucket}.s3.${bucketRegion}.amazonaws.com/`.length)}/${file}`;

async function readObject(s3: S3Client, Bucket: string, Key: string) {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket, Key }));
    return { body: (await out.Body?.transformToString()) ?? '', metadata: out.Metadata ?? {} };
  } catch (err) {
    if (isAwsError(err, 'NoSuchKey', 'NotFound')) return undefined;
    throw err;
  }
}

/**
 * Publishes (or republishes, on rotation) an issuer's discovery document and JWKS; writes
 * only what differs. Throws {@link InvalidRequestError} for a bad issuer or JWKS (nothing
 * written), {@link UnsupportedClusterError} when the documents are not served as they must be.
 */
export async function publishDiscovery(deps: DiscoveryDeps, issuer: string, jwks: unknown) {
  const problems = issuerProblems(issuer, deps.bucket, deps.bucketRegion);
  if (problems.length) throw new InvalidRequestError(problems[0]?.message ?? 'bad issuer', problems);
  const keys = await validateJwks(jwks);
  const { s3, bucket, bucketRegion } = deps;
  const jwksKey = keyOf(issuer, bucket, bucketRegion, JWKS_PATH);
  const discoveryKey = keyOf(issuer, bucket, bucketRegion, DISCOVERY_PATH);
  const now = deps.now();
  const keep = (deps.retainRetiredKeysSeconds ?? RETAIN_RETIRED_KEYS_SECONDS) * 1000;

  // Keys the new set drops stay published until no token they signed can still be valid.
  const current = await readObject(s3, bucket, jwksKey);
  const previousKeys = current ? ((JSON.parse(current.body) as { keys?: PublicJwk[] }).keys ?? []) : [];
  const previouslyRetired = JSON.parse(current?.metadata[RETIRED_METADATA] ?? '{}') as Record<string, string>;
  const newKids = new Set(keys.map((k) => k.kid));
  const retired: Record<string, string> = {};
  const kept: PublicJwk[] = [];
  for (const old of previousKeys) {
    if (!old.kid || newKids.has(old.kid)) continue;
    const since = previouslyRetired[old.kid] ?? now.toISOString();
    if (Date.parse(since) + keep > now.getTime()) {
      retired[old.kid] = since;
      kept.push(old);
    }
  }
  const published = { keys: [...keys, ...kept] };
  const jwksBody = JSON.stringify(published);
  const discoveryBody = JSON.stringify(discoveryDocument(issuer));
  const writes: string[] = [];
  const retiredText = JSON.stringify(retired);
  if (!current || current.body !== jwksBody || (current.metadata[RETIRED_METADATA] ?? '{}') !== retiredText) {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: jwksKey,
        Body: jwksBody,
        ContentType: 'application/json',
        CacheControl: 'max-age=300',
        Metadata: { [RETIRED_METADATA]: retiredText },
      }),
    );
    writes.push(JWKS_PATH);
  }
  const served = await readObject(s3, bucket, discoveryKey);
  if (served?.body !== discoveryBody) {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: discoveryKey,
        Body: discoveryBody,
        ContentType: 'application/json',
        CacheControl: 'max-age=300',
      }),
    );
    writes.push(DISCOVERY_PATH);
  }
  await checkServed(
    deps.fetchPublic,
    issuer,
    published.keys.map((k) => k.kid ?? ''),
  );
  return {
    action: !current ? 'created' : writes.length ? 'updated' : 'unchanged',
    issuer,
    jwksUri: `${issuer}/${JWKS_PATH}`,
    kids: keys.map((k) => k.kid),
    retiredKids: Object.keys(retired),
    writes,
  };
}

/** Reads the documents back as IAM and STS will, and checks them (see the module comment). */
async function checkServed(fetchPublic: PublicFetch, issuer: string, kids: readonly string[]) {
  const fail = (why: string) =>
    new UnsupportedClusterError(`The OIDC discovery of ${issuer} is not served as IAM needs it: ${why}`);
  const discovery = await fetchPublic(`${issuer}/${DISCOVERY_PATH}`);
  if (discovery.status !== 200) throw fail(`GET ${issuer}/${DISCOVERY_PATH} answers ${discovery.status}`);
  if (!discovery.contentType?.startsWith('application/json'))
    throw fail('the discovery document is not application/json');
  const doc = JSON.parse(discovery.body ?? '{}') as { issuer?: unknown; jwks_uri?: unknown };
  if (doc.issuer !== issuer)
    throw fail(`its issuer is ${String(doc.issuer)}, not the URL it is served under`);
  if (doc.jwks_uri !== `${issuer}/${JWKS_PATH}`)
    throw fail(`its jwks_uri ${String(doc.jwks_uri)} is not the served JWKS`);
  const jwks = await fetchPublic(String(doc.jwks_uri));
  if (jwks.status !== 200 || !jwks.contentType?.startsWith('application/json')) {
    throw fail(`GET ${String(doc.jwks_uri)} answers ${jwks.status} ${jwks.contentType ?? ''}`);
  }
  const served = ((JSON.parse(jwks.body ?? '{}') as { keys?: { kid?: string }[] }).keys ?? []).map(
    (k) => k.kid,
  );
  if (served.join() !== kids.join()) throw fail('the served JWKS is not the one just published');
}

/** Removes an issuer's documents (with the issuer's last link). */
export async function unpublishDiscovery(
  deps: Pick<DiscoveryDeps, 's3' | 'bucket' | 'bucketRegion'>,
  issuer: string,
) {
  for (const file of [DISCOVERY_PATH, JWKS_PATH]) {
    await deps.s3.send(
      new DeleteObjectCommand({
        Bucket: deps.bucket,
        Key: keyOf(issuer, deps.bucket, deps.bucketRegion, file),
      }),
    );
  }
  return { action: 'deleted', issuer };
}

/** Block Public Access of Tether's OIDC bucket: ACLs blocked and ignored, its public policy allowed. */
export const DISCOVERY_BUCKET_PUBLIC_ACCESS_BLOCK = {
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: false,
  RestrictPublicBuckets: false,
} as const;

/** The bucket policy of Tether's OIDC bucket: public reads of exactly the discovery keys (as the hub stack writes it). */
export function discoveryBucketPolicy(bucket: string) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'PublicOidcDiscovery',
        Effect: 'Allow',
        Principal: '*',
        Action: 's3:GetObject',
        Resource: [`arn:aws:s3:::${bucket}/*/${DISCOVERY_PATH}`, `arn:aws:s3:::${bucket}/*/${JWKS_PATH}`],
      },
    ],
  };
}

/**
 * Makes Tether's OIDC bucket as the hub stack does (the local runtime's stand-in for CDK):
 * public ACLs blocked and ignored, a public policy allowed, and that policy on exactly the
 * discovery keys.
 */
export async function ensureDiscoveryBucket(s3: S3Client, bucket: string, region: string) {
  const wanted = DISCOVERY_BUCKET_PUBLIC_ACCESS_BLOCK;
  const policy = JSON.stringify(discoveryBucketPolicy(bucket));
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    // An existing bucket set up as wanted is left alone: a restart writes nothing.
    const [block, current] = await Promise.all([
      s3
        .send(new GetPublicAccessBlockCommand({ Bucket: bucket }))
        .then((o) => o.PublicAccessBlockConfiguration)
        .catch(() => undefined),
      s3
        .send(new GetBucketPolicyCommand({ Bucket: bucket }))
        .then((o) => o.Policy)
        .catch(() => undefined),
    ]);
    const same =
      block !== undefined &&
      Object.entries(wanted).every(([k, v]) => block[k as keyof typeof wanted] === v) &&
      current !== undefined &&
      JSON.stringify(JSON.parse(current)) === policy;
    if (same) return;
  } catch (err) {
    if (!isAwsError(err, 'NotFound', 'NoSuchBucket')) throw err;
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        ...(region === 'us-east-1'
          ? {}
          : { CreateBucketConfiguration: { LocationConstraint: region as never } }),
      }),
    );
  }
  await s3.send(
    new PutPublicAccessBlockCommand({
      Bucket: bucket,
      PublicAccessBlockConfiguration: wanted,
    }),
  );
  await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy }));
}
