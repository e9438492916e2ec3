/**
 * How an EKS cluster's API server authenticates a bearer token, as aws-iam-authenticator
 * does (kubernetes-sigs/aws-iam-authenticator, README "How does it work?" and
 * pkg/token/token.go `Verify`): the token is `k8s-aws-v1.` + base64url (no padding) of a
 * presigned STS `GetCallerIdentity` URL; the authenticator checks the URL's host (an STS
 * endpoint), path `/`, that only the expected query parameters are there, that `Action` is
 * `GetCallerIdentity`, that `x-k8s-aws-id` is among the signed headers, and that
 * `X-Amz-Date` is at most 15 minutes old; then it calls the URL with the header
 * `x-k8s-aws-id: <cluster name>` and `Accept: application/json`, and takes the caller
 * STS answers for. STS itself checks the signature (so a token made for another cluster,
 * whose signed `x-k8s-aws-id` differs, fails there) and `X-Amz-Expires`.
 *
 * The identity is then mapped to a Kubernetes user through the cluster's access entries or
 * `aws-auth` (`authenticateToCluster` in local/sandbox/eks.ts): EKS binds an entry to the
 * role's unique id, which STS returns in `UserId` (`AROA…:session`).
 */
import type { Caller } from '#local/sandbox/context';
import type { DeepReadonly } from '#local/sandbox/sandbox';
import type { SandboxState } from '#local/sandbox/state';

/** The token prefix of aws-iam-authenticator v1 tokens. */
export const TOKEN_PREFIX = 'k8s-aws-v1.';
/** aws-iam-authenticator's `maxTokenLenBytes`. */
const MAX_TOKEN_BYTES = 1024 * 4;
/** aws-iam-authenticator's `presignedURLExpiration`. */
const PRESIGNED_URL_EXPIRATION_MS = 15 * 60 * 1000;
/** The query parameters the authenticator accepts (its `parameterWhitelist`), lower case. */
const ALLOWED_PARAMETERS = new Set([
  'action',
  'version',
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-security-token',
  'x-amz-signature',
  'x-amz-signedheaders',
]);

/** Why a token was refused; the API server answers 401 Unauthorized to all of them. */
export class TokenRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenRejectedError';
  }
}

/** Who STS says called. */
export interface StsIdentity {
  readonly account: string;
  readonly arn: string;
  readonly userId: string;
}

/** How the authenticator reaches STS: GET the presigned URL with these headers. */
export type StsCall = (
  url: string,
  headers: Record<string, string>,
) => Promise<{ status: number; body: string }>;

/** What {@link reviewToken} checks against. */
export interface TokenReviewOptions {
  /** The cluster's id, sent as `x-k8s-aws-id` (EKS: the cluster name). */
  readonly clusterId: string;
  /**
   * The STS endpoints a token may name (`host[:port]`); for the sandbox, its HTTP door. The
   * authenticator accepts only `https` STS hostnames; the door is plain HTTP on loopback,
   * so its scheme is allowed here too.
   */
  readonly stsHosts: readonly string[];
  readonly callSts: StsCall;
  readonly now?: Date;
}

/** Verifies a `k8s-aws-v1.` token and returns the caller STS vouches for. */
export async function reviewToken(token: string, options: TokenReviewOptions): Promise<StsIdentity> {
  if (token.length > MAX_TOKEN_BYTES) throw new TokenRejectedError('token is too large');
  if (!token.startsWith(TOKEN_PREFIX))
    throw new TokenRejectedError(`token is missing expected "${TOKEN_PREFIX}" prefix`);
  const encoded = token.slice(TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(encoded)) throw new TokenRejectedError('illegal base64 data in token');
  const raw = Buffer.from(encoded, 'base64url').toString('utf8');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TokenRejectedError('malformed pre-signed URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new TokenRejectedError(`unexpected scheme "${url.protocol.replace(':', '')}" in pre-signed URL`);
  if (!options.stsHosts.includes(url.host))
    throw new TokenRejectedError(`unexpected hostname "${url.host}" in pre-signed URL`);
  if (url.pathname !== '/') throw new TokenRejectedError('unexpected path in pre-signed URL');
  const lower = new Map<string, string>();
  for (const [k, v] of url.searchParams) {
    if (!ALLOWED_PARAMETERS.has(k.toLowerCase()))
      throw new TokenRejectedError(`non-whitelisted query parameter "${k}"`);
    lower.set(k.toLowerCase(), v);
  }
  if (lower.get('action') !== 'GetCallerIdentity')
    throw new TokenRejectedError('unexpected action parameter in pre-signed URL');
  if (!(lower.get('x-amz-signedheaders') ?? '').split(';').includes('x-k8s-aws-id'))
    throw new TokenRejectedError('client did not sign the x-k8s-aws-id header in the pre-signed URL');
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(lower.get('x-amz-date') ?? '');
  if (!date) throw new TokenRejectedError('error parsing X-Amz-Date parameter');
  const signedAt = Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +date[4]!, +date[5]!, +date[6]!);
  if ((options.now ?? new Date()).getTime() > signedAt + PRESIGNED_URL_EXPIRATION_MS)
    throw new TokenRejectedError(
      `X-Amz-Date parameter is expired (15 minute expiration) ${lower.get('x-amz-date') ?? ''}`,
    );
  const response = await options.callSts(url.toString(), {
    'x-k8s-aws-id': options.clusterId,
    accept: 'application/json',
  });
  if (response.status !== 200)
    throw new TokenRejectedError(
      `sts getCallerIdentity failed: error from AWS (expected 200, got ${response.status}). Body: ${response.body}`,
    );
  const parsed = JSON.parse(response.body) as {
    GetCallerIdentityResponse?: {
      GetCallerIdentityResult?: { Account?: string; Arn?: string; UserId?: string };
    };
  };
  const r = parsed.GetCallerIdentityResponse?.GetCallerIdentityResult;
  if (!r?.Account || !r.Arn || !r.UserId)
    throw new TokenRejectedError('malformed GetCallerIdentity response');
  return { account: r.Account, arn: r.Arn, userId: r.UserId };
}

/**
 * The caller as the cluster's access entries and `aws-auth` see it. STS names an assumed
 * role without its path; EKS resolves the principal by the role's unique id (the `UserId`
 * before the colon), which also finds the path. A session of a role that no longer exists
 * under that id resolves to nothing.
 */
export function callerOfIdentity(
  state: DeepReadonly<SandboxState>,
  identity: StsIdentity,
): Caller | undefined {
  const m = /^arn:aws:sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(identity.arn);
  if (!m) return undefined;
  const [roleId = '', session = ''] = identity.userId.split(':');
  const role = Object.values(state.accounts[identity.account]?.iam.roles ?? {}).find(
    (r) => r.RoleId === roleId,
  );
  const roleName = m[2] ?? '';
  return {
    accountId: identity.account,
    arn: identity.arn,
    // The role under its current id; else the ARN as STS spells it, which no entry made
    // for a role with a path will match (and an entry for the same name is checked by id).
    principalArn: role?.Arn ?? `arn:aws:iam::${identity.account}:role/${roleName}`,
    userId: identity.userId,
    kind: 'role-session',
    roleName,
    sessionName: session,
    chained: false,
  };
}
