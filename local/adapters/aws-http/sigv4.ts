/**
 * Signature Version 4, checked the way AWS checks it, for the HTTP door: the request's
 * canonical form and string to sign are rebuilt with the SDK's own signer pieces
 * (`@smithy/signature-v4`: canonical headers, query and request, string to sign, signing
 * key), then the signature is compared in constant time.
 *
 * AWS references: IAM user guide, "Create a signed AWS API request" (header auth) and
 * "Authentication methods: query parameters" (presigned URLs: `X-Amz-Expires`, at most
 * 604,800 s; only S3 signs the payload as `UNSIGNED-PAYLOAD`); STS API reference, common errors
 * (`SignatureDoesNotMatch`, `IncompleteSignature`, `MissingAuthenticationToken`,
 * `InvalidClientTokenId`).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { getCanonicalHeaders, getSigningKey, SignatureV4Base } from '@smithy/signature-v4';
import type { Checksum, HttpRequest, QueryParameterBag, SourceData } from '@smithy/types';
import { SandboxError } from '#local/sandbox/errors';

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** How far a header-signed request's `X-Amz-Date` may be from the server's clock (AWS: 15 minutes). */
const MAX_SKEW_MS = 15 * 60 * 1000;
/** The longest presigned URL validity SigV4 allows (7 days). */
const MAX_EXPIRES_S = 604_800;

/** The SHA-256 (or HMAC-SHA-256 with a secret) the signer pieces take, on node:crypto. */
class Sha256 implements Checksum {
  readonly #hash;
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {
    throw new Error('not supported');
  }
}

function toBytes(data: SourceData): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** Gives access to the SDK signer's canonical request and string to sign. */
class Canonicalizer extends SignatureV4Base {
  constructor(service: string, region: string) {
    super({ service, region, credentials: { accessKeyId: '', secretAccessKey: '' }, sha256: Sha256 });
  }
  canonicalRequest(request: HttpRequest, headers: Record<string, string>, payloadHash: string): string {
    return this.createCanonicalRequest(request, headers, payloadHash);
  }
  stringToSign(longDate: string, scope: string, canonicalRequest: string): Promise<string> {
    return this.createStringToSign(longDate, scope, canonicalRequest, ALGORITHM);
  }
}

/** The parts of a SigV4-signed request that name the key and scope. */
export interface SignedRequestInfo {
  readonly accessKeyId: string;
  readonly shortDate: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  readonly longDate: string;
  /** Presigned (query parameters) rather than the Authorization header. */
  readonly presigned: boolean;
  /** `X-Amz-Expires` of a presigned request, seconds. */
  readonly expiresSeconds?: number;
  readonly sessionToken?: string;
}

/** An incoming HTTP request as the door saw it. */
export interface IncomingSigned {
  readonly method: string;
  /** The path as sent (still percent-encoded). */
  readonly rawPath: string;
  readonly query: URLSearchParams;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

const incomplete = (message: string) => new SandboxError('IncompleteSignature', message, { statusCode: 400 });

/**
 * Reads the SigV4 parameters of a request, or undefined if it carries none (an anonymous
 * request). A malformed Authorization header or credential scope is `IncompleteSignature`.
 */
export function signedRequestInfo(req: IncomingSigned): SignedRequestInfo | undefined {
  const auth = req.headers.authorization;
  let credential: string;
  let signedHeaders: string;
  let signature: string;
  let longDate: string;
  let presigned = false;
  let expiresSeconds: number | undefined;
  let sessionToken: string | undefined;
  if (auth) {
    if (!auth.startsWith(`${ALGORITHM} `))
      throw incomplete(`Unsupported AWS 'algorithm': '${auth.split(' ')[0] ?? ''}'`);
    const fields = Object.fromEntries(
      auth
        .slice(ALGORITHM.length + 1)
        .split(',')
        .map((p) => p.trim().split('=', 2) as [string, string]),
    );
    credential = fields.Credential ?? '';
    signedHeaders = fields.SignedHeaders ?? '';
    signature = fields.Signature ?? '';
    longDate = req.headers['x-amz-date'] ?? '';
    sessionToken = req.headers['x-amz-security-token'];
    if (!credential || !signedHeaders || !signature)
      throw incomplete(
        `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=${auth}`,
      );
  } else if (req.query.get('X-Amz-Algorithm')) {
    if (req.query.get('X-Amz-Algorithm') !== ALGORITHM) throw incomplete('Unsupported X-Amz-Algorithm');
    presigned = true;
    credential = req.query.get('X-Amz-Credential') ?? '';
    signedHeaders = req.query.get('X-Amz-SignedHeaders') ?? '';
    signature = req.query.get('X-Amz-Signature') ?? '';
    longDate = req.query.get('X-Amz-Date') ?? '';
    sessionToken = req.query.get('X-Amz-Security-Token') ?? undefined;
    expiresSeconds = Number(req.query.get('X-Amz-Expires'));
    if (!credential || !signedHeaders || !signature || !longDate || !Number.isInteger(expiresSeconds))
      throw incomplete(
        'AWS query-string parameters must include X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature',
      );
  } else return undefined;
  const [accessKeyId = '', shortDate = '', region = '', service = '', terminator = ''] =
    credential.split('/');
  if (terminator !== 'aws4_request' || !/^\d{8}$/.test(shortDate))
    throw incomplete(`Credential should be scoped to a valid region and service. Credential=${credential}`);
  if (!/^\d{8}T\d{6}Z$/.test(longDate))
    throw incomplete('Date must be in ISO-8601 basic format (X-Amz-Date)');
  if (!longDate.startsWith(shortDate))
    throw new SandboxError(
      'SignatureDoesNotMatch',
      `Credential should be scoped to a valid date: ${shortDate} is not ${longDate.slice(0, 8)}`,
      { statusCode: 403 },
    );
  return {
    accessKeyId,
    shortDate,
    region,
    service,
    signedHeaders: signedHeaders.split(';'),
    signature,
    longDate,
    presigned,
    ...(expiresSeconds !== undefined ? { expiresSeconds } : {}),
    ...(sessionToken !== undefined ? { sessionToken } : {}),
  };
}

function dateOf(longDate: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(longDate);
  if (!m) return Number.NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/**
 * Checks the request's signature with `secretAccessKey` and its session token against the
 * credentials the sandbox issued. Throws the {@link SandboxError} AWS answers with:
 * `InvalidClientTokenId` (a session token that is not the key's), `SignatureDoesNotMatch`
 * (a signature of other content or key, or a header-signed request out of the 15-minute
 * window), `RequestExpired` for a presigned URL past `X-Amz-Date` + `X-Amz-Expires` (the code
 * STS uses there is unconfirmed; the SDK treats it as a clock-skew error).
 */
export async function verifySignature(
  req: IncomingSigned,
  info: SignedRequestInfo,
  credentials: { secretAccessKey: string; sessionToken?: string },
  now: Date = new Date(),
): Promise<void> {
  if ((credentials.sessionToken ?? undefined) !== info.sessionToken)
    throw new SandboxError('InvalidClientTokenId', 'The security token included in the request is invalid.', {
      statusCode: 403,
    });
  const signedAt = dateOf(info.longDate);
  if (info.presigned) {
    const expires = info.expiresSeconds ?? 0;
    if (expires < 1 || expires > MAX_EXPIRES_S)
      throw new SandboxError(
        'AuthorizationQueryParametersError',
        'X-Amz-Expires must be between 1 and 604800 seconds',
        {
          statusCode: 400,
        },
      );
    if (now.getTime() > signedAt + expires * 1000)
      throw new SandboxError(
        'RequestExpired',
        `Request has expired. (sandbox: signed ${info.longDate}, valid ${expires} s)`,
        {
          statusCode: 403,
        },
      );
  } else if (Math.abs(now.getTime() - signedAt) > MAX_SKEW_MS) {
    throw new SandboxError(
      'SignatureDoesNotMatch',
      `Signature expired: ${info.longDate} is now earlier than the 15-minute window around the server's time`,
      { statusCode: 403 },
    );
  }
  if (!info.signedHeaders.includes('host'))
    throw new SandboxError(
      'SignatureDoesNotMatch',
      "'Host' must be a 'SignedHeader' in the AWS Authorization.",
      {
        statusCode: 403,
      },
    );
  const headers: Record<string, string> = {};
  for (const name of info.signedHeaders) headers[name] = req.headers[name] ?? '';
  const query: QueryParameterBag = {};
  for (const [k, v] of req.query) {
    if (k === 'X-Amz-Signature') continue;
    const prev = query[k];
    query[k] = prev === undefined || prev === null ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const request: HttpRequest = {
    method: req.method,
    protocol: 'http:',
    hostname: headers.host ?? '',
    path: req.rawPath,
    query,
    headers,
  };
  const canonicalHeaders = getCanonicalHeaders(request, undefined, new Set(info.signedHeaders));
  // Outside S3 the payload is hashed for presigned requests too (an empty GET body hashes
  // to the empty string's digest), as botocore's and the SDK's signers do.
  const payloadHash =
    req.headers['x-amz-content-sha256'] ?? createHash('sha256').update(req.body).digest('hex');
  const signer = new Canonicalizer(info.service, info.region);
  const canonical = signer.canonicalRequest(request, canonicalHeaders, payloadHash);
  const scope = `${info.shortDate}/${info.region}/${info.service}/aws4_request`;
  const stringToSign = await signer.stringToSign(info.longDate, scope, canonical);
  const key = await getSigningKey(
    Sha256,
    { accessKeyId: info.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    info.shortDate,
    info.region,
    info.service,
  );
  const expected = createHmac('sha256', key).update(stringToSign).digest();
  const given = Buffer.from(info.signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new SandboxError(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      { statusCode: 403 },
    );
}
