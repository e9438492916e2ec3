/**
 * The sandbox's second door: the same {@link Sandbox} (same state, trust evaluation and
 * call log as the in-process SDK plugin) served over HTTP on loopback, as AWS speaks it,
 * so the unmodified AWS CLI and SDKs work against it with `AWS_ENDPOINT_URL`:
 *
 * - STS (`awsQuery`): AssumeRoleWithWebIdentity (unsigned), AssumeRole, GetCallerIdentity —
 *   header-signed or presigned (what `aws eks get-token` makes and aws-iam-authenticator
 *   calls back with `x-k8s-aws-id`), answered in XML or, to `Accept: application/json`, JSON;
 * - IAM (`awsQuery`): every operation the sandbox implements (`aws iam get-role`, …);
 * - EKS (`restJson1`): DescribeCluster, ListClusters and the access-entry reads and writes
 *   of protocols.ts;
 * - the OIDC issuers the sandbox hosts: `/oidc/<issuer host/path>/.well-known/openid-configuration`
 *   and `/oidc/<issuer host/path>/keys` (the discovery document points `jwks_uri` there).
 *
 * Every signed request's SigV4 signature is checked against the secret of the credentials
 * the sandbox issued (sigv4.ts), inside `Sandbox.invoke`, so refusals are in the call log
 * like any other failed call. The service is the one the credential scope names; an
 * unsigned query request may only be AssumeRoleWithWebIdentity.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SandboxError } from '#local/sandbox/errors';
import { discoveryOf, jwksOf } from '#local/sandbox/oidc-issuers';
import type { Sandbox, ServiceName } from '#local/sandbox/sandbox';
import {
  eksRoute,
  queryError,
  queryInput,
  queryJsonResponse,
  queryResponse,
  restJsonBody,
} from './protocols';
import { type IncomingSigned, signedRequestInfo, verifySignature } from './sigv4';

/** Largest request body the door reads. */
const MAX_BODY_BYTES = 1024 * 1024;

/** Options of {@link startAwsDoor}. */
export interface AwsDoorOptions {
  /** @default 0 (any free port) */
  readonly port?: number;
  /** The time signatures are checked against. @default the clock */
  readonly now?: () => Date;
}

/** The running door. */
export interface AwsDoor {
  /** `http://127.0.0.1:<port>`: what `AWS_ENDPOINT_URL` takes. */
  readonly url: string;
  /** `127.0.0.1:<port>`: the host presigned STS URLs name. */
  readonly host: string;
  readonly port: number;
  /** The URL of an issuer's discovery document on this door. */
  discoveryUrl(issuer: string): string;
  close(): Promise<void>;
}

/** Which query service a `Version` names, for unsigned requests. */
const VERSIONS: Record<string, 'sts' | 'iam'> = { '2011-06-15': 'sts', '2010-05-08': 'iam' };

/** The errors each protocol's clients expect for the door's own refusals. */
const EKS_CODES: Record<string, string> = {
  SignatureDoesNotMatch: 'InvalidSignatureException',
  InvalidClientTokenId: 'UnrecognizedClientException',
  MissingAuthenticationToken: 'MissingAuthenticationTokenException',
};

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

/**
 * Starts the door on 127.0.0.1.
 *
 * @example
 * const door = await startAwsDoor(sandbox);
 * // AWS_ENDPOINT_URL=door.url aws sts get-caller-identity
 */
export async function startAwsDoor(sandbox: Sandbox, options: AwsDoorOptions = {}): Promise<AwsDoor> {
  let host = '';
  const server = createServer((req, res) => {
    serve(sandbox, req, res, () => host, options.now).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`Internal error: ${err instanceof Error ? err.message : String(err)}`);
      } else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  return {
    url,
    host,
    port,
    discoveryUrl: (issuer) =>
      `${url}/oidc/${issuer.replace(/^https:\/\//, '')}/.well-known/openid-configuration`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function serve(
  sandbox: Sandbox,
  req: IncomingMessage,
  res: ServerResponse,
  doorHost: () => string,
  now?: () => Date,
): Promise<void> {
  const body = await readBody(req);
  const send = (r: Reply) => {
    res.writeHead(r.status, { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) });
    res.end(r.body);
  };
  const requestId = randomUUID();
  if (body === undefined) {
    send({ status: 413, headers: { 'content-type': 'text/plain' }, body: 'Request body too large' });
    req.resume();
    return;
  }
  const url = new URL(req.url ?? '/', 'http://door');
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
  const method = req.method ?? 'GET';
  if (method === 'GET' && rawPath.startsWith('/oidc/')) {
    send(oidcDocument(sandbox, rawPath, `http://${doorHost()}`));
    return;
  }
  const headers = headersOf(req);
  const contentType = headers['content-type'] ?? '';
  // Query protocol: parameters in the query string (GET, presigned) and/or the form body.
  const params = new URLSearchParams(url.search);
  if (method === 'POST' && contentType.startsWith('application/x-www-form-urlencoded'))
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.append(k, v);
  const incoming: IncomingSigned = { method, rawPath, query: new URLSearchParams(url.search), headers, body };

  let signed: ReturnType<typeof signedRequestInfo>;
  const action = params.get('Action');
  const queryService = (): 'sts' | 'iam' =>
    signed?.service === 'iam' || signed?.service === 'sts'
      ? signed.service
      : (VERSIONS[params.get('Version') ?? ''] ?? 'sts');
  try {
    signed = signedRequestInfo(incoming);
  } catch (err) {
    send(errorReply(action ? queryService() : 'eks', err, requestId));
    return;
  }
  const service: ServiceName | undefined = action
    ? queryService()
    : signed?.service === 'eks' || rawPath.startsWith('/clusters')
      ? 'eks'
      : undefined;
  if (!service) {
    send({
      status: 404,
      headers: { 'content-type': 'text/plain' },
      body: `No route for ${method} ${rawPath}`,
    });
    return;
  }
  let operation: string;
  let input: Record<string, unknown>;
  if (service === 'eks') {
    let json: Record<string, unknown> = {};
    try {
      json = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      send(errorReply('eks', new SandboxError('BadRequestException', 'Malformed JSON body'), requestId));
      return;
    }
    const route = eksRoute(method, rawPath, json, url.searchParams);
    if (!route) {
      send(
        errorReply(
          'eks',
          new SandboxError('UnsupportedOperation', `The sandbox door does not serve ${method} ${rawPath}`, {
            statusCode: 404,
          }),
          requestId,
        ),
      );
      return;
    }
    ({ operation, input } = route);
  } else {
    operation = action ?? '';
    input = queryInput(params);
  }
  const anonymous = signed === undefined;
  if (anonymous && !(service === 'sts' && operation === 'AssumeRoleWithWebIdentity')) {
    send(
      errorReply(
        service,
        new SandboxError('MissingAuthenticationToken', 'Request is missing Authentication Token', {
          statusCode: 403,
        }),
        requestId,
      ),
    );
    return;
  }
  try {
    const output = await sandbox.invoke(service, operation, input, {
      accessKeyId: signed?.accessKeyId ?? '',
      region: signed?.region ?? 'us-east-1',
      door: 'http',
      ...(signed ? { authenticate: (cred) => verifySignature(incoming, signed!, cred, now?.()) } : {}),
    });
    if (service === 'eks') {
      send({
        status: 200,
        headers: { 'content-type': 'application/json', 'x-amzn-requestid': requestId },
        body: restJsonBody(output),
      });
    } else if ((headers.accept ?? '').includes('application/json')) {
      send({
        status: 200,
        headers: { 'content-type': 'application/json', 'x-amzn-requestid': requestId },
        body: queryJsonResponse(operation, output, requestId),
      });
    } else {
      send({
        status: 200,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body: queryResponse(service, operation, output, requestId),
      });
    }
  } catch (err) {
    send(errorReply(service, err, requestId, (headers.accept ?? '').includes('application/json')));
  }
}

function errorReply(service: ServiceName, err: unknown, requestId: string, json = false): Reply {
  const e =
    err instanceof SandboxError
      ? err
      : new SandboxError('InternalFailure', err instanceof Error ? err.message : String(err), {
          statusCode: 500,
        });
  if (service === 'eks') {
    const code = EKS_CODES[e.code] ?? e.code;
    return {
      status: e.statusCode,
      headers: {
        'content-type': 'application/json',
        'x-amzn-errortype': code,
        'x-amzn-requestid': requestId,
      },
      body: JSON.stringify({ message: e.message, ...e.extra }),
    };
  }
  if (json)
    return {
      status: e.statusCode,
      headers: { 'content-type': 'application/json', 'x-amzn-requestid': requestId },
      body: JSON.stringify({
        Error: { Code: e.code, Message: e.message, Type: e.statusCode < 500 ? 'Sender' : 'Receiver' },
        RequestId: requestId,
      }),
    };
  return {
    status: e.statusCode,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: queryError(service, e.code, e.message, e.statusCode, requestId),
  };
}

/** `/oidc/<issuer host/path>/.well-known/openid-configuration` or `/oidc/<…>/keys`. */
function oidcDocument(sandbox: Sandbox, rawPath: string, doorUrl: string): Reply {
  const m = /^\/oidc\/(.+?)\/(\.well-known\/openid-configuration|keys)$/.exec(rawPath);
  const issuer = m ? `https://${m[1]}` : '';
  const hosted = sandbox.issuerKey(issuer) !== undefined;
  if (!m || !hosted)
    return { status: 404, headers: { 'content-type': 'application/json' }, body: '{"message":"Not Found"}' };
  const doc =
    m[2] === 'keys'
      ? sandbox.peek((state) => jwksOf(state as never, issuer))
      : discoveryOf(issuer, `${doorUrl}/oidc/${m[1]}/keys`);
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) };
}
