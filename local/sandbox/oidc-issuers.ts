/**
 * The OIDC issuers the sandbox hosts: each EKS cluster's service-account issuer holds a
 * signing key, serves its discovery document and JWKS, and signs projected
 * service-account tokens — what the kubelet mounts into a pod for IRSA.
 *
 * AWS references:
 * - EKS user guide, "IAM roles for service accounts" / "Create an IAM OIDC provider for your
 *   cluster": every cluster has an OIDC issuer URL `https://oidc.eks.<region>.amazonaws.com/id/<ID>`
 *   serving `/.well-known/openid-configuration` and its JWKS (`/keys`), RS256.
 * - Kubernetes docs, "Service account token volume projection": the token's claims —
 *   `iss`, `sub` = `system:serviceaccount:<ns>:<sa>`, `aud` (the projection's audience; for
 *   IRSA `sts.amazonaws.com`, set by the EKS pod identity webhook), `exp`, `iat`, `nbf` and
 *   the `kubernetes.io` claim naming the namespace, service account and pod. The EKS pod
 *   identity webhook's default expiration is 86,400 s.
 */
import { createHash, generateKeyPair, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { importJWK, type JWK, SignJWT } from 'jose';
import type { IssuerKeyState, SandboxState } from './state';

/** The audience of IRSA tokens (EKS pod identity webhook default). */
export const IRSA_AUDIENCE = 'sts.amazonaws.com';
/** The lifetime of a projected token the EKS pod identity webhook asks for, in seconds. */
export const DEFAULT_TOKEN_SECONDS = 86_400;
const ALG = 'RS256';

/** A new RS256 signing key for `issuer`. */
export async function newIssuerKey(issuer: string, now: Date = new Date()): Promise<IssuerKeyState> {
  // Node's generator, on its thread pool; jose signs and verifies with it.
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const privateJwk = privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  // The kid is the key's thumbprint-like digest, as Kubernetes derives its `kid` from the public key.
  const kid = createHash('sha256')
    .update(`${issuer}|${String(privateJwk.n)}`)
    .digest('base64url')
    .slice(0, 43);
  return { kid, privateJwk, createdAt: now.toISOString() };
}

/** The public half of a key, as it appears in the issuer's JWKS. */
export function publicJwk(key: IssuerKeyState): JWK {
  const { kty, n, e } = key.privateJwk as { kty: string; n: string; e: string };
  return { kty, n, e, kid: key.kid, alg: ALG, use: 'sig' };
}

/** The issuer's JWKS document (`{ keys: [...] }`). */
export function jwksOf(state: SandboxState, issuer: string): { keys: JWK[] } {
  const key = state.issuerKeys?.[issuer];
  return { keys: key ? [publicJwk(key)] : [] };
}

/**
 * The issuer's discovery document, as EKS serves it at
 * `<issuer>/.well-known/openid-configuration` (EKS user guide, IRSA).
 */
export function discoveryOf(issuer: string, jwksUri: string): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: jwksUri,
    authorization_endpoint: 'urn:kubernetes:programmatic_authorization',
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    claims_supported: ['sub', 'iss'],
    id_token_signing_alg_values_supported: [ALG],
  };
}

/** Every OIDC issuer of the sandbox's EKS clusters. */
export function clusterIssuers(state: SandboxState): string[] {
  const out: string[] = [];
  for (const account of Object.values(state.accounts))
    for (const region of Object.values(account.regions))
      for (const cluster of Object.values(region.eks.clusters))
        if (cluster.oidcIssuer) out.push(cluster.oidcIssuer);
  return out;
}

/** What {@link mintServiceAccountToken} signs. */
export interface ServiceAccountTokenSpec {
  readonly issuer: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** @default 'sts.amazonaws.com' */
  readonly audience?: string;
  /** @default 86400 */
  readonly expiresInSeconds?: number;
  /** The issue time. @default now */
  readonly now?: Date;
}

/**
 * A projected service-account token signed with `key`, with the claims the kubelet's
 * TokenRequest puts in it (Kubernetes docs, service account token volume projection).
 */
export async function mintServiceAccountToken(
  key: IssuerKeyState,
  spec: ServiceAccountTokenSpec,
): Promise<string> {
  const now = Math.floor((spec.now ?? new Date()).getTime() / 1000);
  const privateKey = await importJWK(key.privateJwk as JWK, ALG);
  return new SignJWT({
    'kubernetes.io': {
      namespace: spec.namespace,
      pod: { name: `${spec.serviceAccount}-sandbox`, uid: randomUUID() },
      serviceaccount: { name: spec.serviceAccount, uid: randomUUID() },
    },
  })
    .setProtectedHeader({ alg: ALG, kid: key.kid })
    .setIssuer(spec.issuer)
    .setSubject(`system:serviceaccount:${spec.namespace}:${spec.serviceAccount}`)
    .setAudience([spec.audience ?? IRSA_AUDIENCE])
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (spec.expiresInSeconds ?? DEFAULT_TOKEN_SECONDS))
    .sign(privateKey);
}
