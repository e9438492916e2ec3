/**
 * The local HTTP adapter: a Node `http` server that turns each request into the event API
 * Gateway's HTTP API sends a Lambda (payload format 2.0), calls the same handler the Lambda
 * runs, and writes the handler's result back. Bodies over 1 MiB are refused before they are
 * buffered, and a handler that throws gets a 500 problem, never a dropped connection.
 *
 * What Node's HTTP parser refuses before any handler runs (header fields over its limit, a
 * method it does not know, a malformed request, a request that takes too long) is answered
 * as `application/problem+json` too, with the same stable codes; a method Node knows but the
 * API does not (HEAD, PATCH, CONNECT, …) reaches the router, which answers 405 or 404.
 *
 * Where API Gateway's IAM authorizer names the caller (`requestContext.authorizer.iam`), the
 * adapter names the principal of the `x-tether-caller` header (an IAM or STS ARN; the local
 * runtime only), else its configured operator — so the demo works with no header at all.
 */
import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  maxHeaderSize,
  STATUS_CODES,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type {
  APIGatewayEventRequestContextIAMAuthorizer,
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { ApiError, problemResponse } from '#api/problems';
import { type Caller, callerFromArn } from '#link/caller';

/** The header that names the caller on the local runtime (API Gateway's IAM authorizer does it in AWS). */
export const CALLER_HEADER = 'x-tether-caller';

/** Largest body the adapter reads (bytes). API Gateway's own limit is larger; the API's is 64 KiB. */
export const MAX_HTTP_BODY_BYTES = 1024 * 1024;
/** API Gateway HTTP APIs give an integration at most 30 s. */
const LAMBDA_TIMEOUT_MS = 30_000;
const FUNCTION_NAME = 'tether-api';

export interface HttpServerOptions {
  readonly handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;
  /** Interface to listen on; 127.0.0.1 by default. */
  readonly host?: string;
  /** Port to listen on; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Where a handler crash is logged; `console` by default. */
  readonly logger?: { error(message: string, ...details: unknown[]): void };
  /**
   * Name a caller on every request, as API Gateway's IAM authorizer does: the ARN of the
   * `x-tether-caller` header, else `operatorArn`. Without it the events carry no caller.
   */
  readonly callers?: { readonly operatorArn: string };
}

export interface HttpServer {
  /** `http://host:port`, without a trailing slash. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const host = opts.host ?? '127.0.0.1';
  const logger = opts.logger ?? console;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res, opts, logger).catch((err: unknown) => {
      logger.error('Local HTTP adapter failed to answer a request', err);
      if (!res.headersSent) writeResult(res, problemResponse(err, pathOf(req.url)));
      else res.destroy();
    });
  };
  const server = createServer(onRequest);
  // An `Expect` other than 100-continue: served as if absent (RFC 9110 allows it), not a bare 417.
  server.on('checkExpectation', onRequest);
  // CONNECT: the router answers (no route is an authority), then the connection closes.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    answerOnSocket(socket, () => callHandler(opts.handler, logger, partsOf(req)));
  });
  // Refused by the parser before any handler: a problem like every other refusal.
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    answerOnSocket(socket, () => parserRefusal(err, opts.handler, logger));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  opts: HttpServerOptions,
  logger: NonNullable<HttpServerOptions['logger']>,
): Promise<void> {
  const body = await readBody(req);
  if (body === undefined) {
    // Too large: answer now and close, without reading the rest.
    res.setHeader('connection', 'close');
    writeResult(
      res,
      problemResponse(
        new ApiError('PAYLOAD_TOO_LARGE', `The request body is over ${MAX_HTTP_BODY_BYTES} bytes.`),
        pathOf(req.url),
      ),
    );
    req.resume();
    return;
  }
  const event = toEvent(partsOf(req), body);
  if (opts.callers) {
    const refusal = nameCaller(event, opts.callers.operatorArn);
    if (refusal) return writeResult(res, refusal);
  }
  writeResult(res, await callHandlerWith(opts.handler, logger, event));
}

/** What the event is made of: an `IncomingMessage`, or what the parser saw of a refused one. */
interface RequestParts {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersion: string;
  readonly remoteAddress: string | undefined;
}

function partsOf(req: IncomingMessage): RequestParts {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers: req.headers,
    httpVersion: req.httpVersion,
    remoteAddress: req.socket.remoteAddress,
  };
}

async function callHandler(
  handler: HttpServerOptions['handler'],
  logger: NonNullable<HttpServerOptions['logger']>,
  parts: RequestParts,
  body: Buffer = Buffer.alloc(0),
): Promise<APIGatewayProxyStructuredResultV2> {
  return callHandlerWith(handler, logger, toEvent(parts, body));
}

async function callHandlerWith(
  handler: HttpServerOptions['handler'],
  logger: NonNullable<HttpServerOptions['logger']>,
  event: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    return toStructured(await handler(event, fakeContext(event.requestContext.requestId)));
  } catch (err) {
    logger.error('API handler threw', err);
    return problemResponse(err, event.rawPath, { requestId: event.requestContext.requestId });
  }
}

/**
 * Names the caller as API Gateway's IAM authorizer would: the principal of the
 * `x-tether-caller` header, else the operator. A header that is no principal ARN is refused.
 */
function nameCaller(
  event: APIGatewayProxyEventV2,
  operatorArn: string,
): APIGatewayProxyStructuredResultV2 | undefined {
  const named = event.headers[CALLER_HEADER];
  const caller = named === undefined ? callerFromArn(operatorArn) : callerFromArn(named.trim());
  if (caller) {
    withIamAuthorizer(event, caller);
    return undefined;
  }
  return problemResponse(
    new ApiError('VALIDATION_FAILED', `The ${CALLER_HEADER} header must be an IAM or STS principal ARN`, {
      errors: [
        {
          path: CALLER_HEADER,
          in: 'header',
          message:
            'must be an ARN such as arn:aws:iam::111111111111:user/alice or arn:aws:sts::111111111111:assumed-role/developer/alice',
        },
      ],
    }),
    event.rawPath,
    { requestId: event.requestContext.requestId },
  );
}

/**
 * The answer to a request Node's parser refused (`clientError`): a problem with the code of
 * the refusal. A method the parser does not know goes to the handler, so it gets the router's
 * 405 (with `Allow`) or 404, as any other method the API lacks.
 */
async function parserRefusal(
  err: NodeJS.ErrnoException & { rawPacket?: Buffer },
  handler: HttpServerOptions['handler'],
  logger: NonNullable<HttpServerOptions['logger']>,
): Promise<APIGatewayProxyStructuredResultV2> {
  const seen = parseRawRequest(err.rawPacket);
  const path = seen ? pathOf(seen.url) : undefined;
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return problemResponse(
        new ApiError(
          'REQUEST_HEADER_FIELDS_TOO_LARGE',
          `The request line and header fields are over ${maxHeaderSize} bytes.`,
        ),
        path,
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return problemResponse(new ApiError('REQUEST_TIMEOUT', 'The request did not arrive in time.'), path);
    case 'HPE_INVALID_METHOD':
      if (seen) return callHandler(handler, logger, seen);
      break;
  }
  return problemResponse(
    new ApiError(
      'MALFORMED_REQUEST',
      `The request is not well-formed HTTP/1.1 (${err.code ?? 'parse error'}).`,
    ),
    path,
  );
}

/** The request line and header fields of a raw request, as far as they can be read. */
function parseRawRequest(raw: Buffer | undefined): RequestParts | undefined {
  if (!raw || raw.length === 0) return undefined;
  const [line = '', ...fields] = raw.toString('latin1').split('\r\n\r\n', 1)[0]!.split('\r\n');
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(\d\.\d)$/.exec(line);
  if (!match) return undefined;
  const headers: IncomingHttpHeaders = {};
  for (const field of fields) {
    const colon = field.indexOf(':');
    if (colon > 0) headers[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
  }
  return { method: match[1]!, url: match[2]!, headers, httpVersion: match[3]!, remoteAddress: undefined };
}

/** Writes a result straight to the socket (no `ServerResponse` exists) and closes it. */
function answerOnSocket(socket: Duplex, answer: () => Promise<APIGatewayProxyStructuredResultV2>): void {
  answer()
    .then((result) => {
      if (!socket.writable) return socket.destroy();
      const status = result.statusCode ?? 200;
      const body =
        result.body === undefined
          ? Buffer.alloc(0)
          : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
      const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`];
      for (const [name, value] of Object.entries(result.headers ?? {})) {
        const lower = name.toLowerCase();
        if (lower !== 'content-length' && lower !== 'connection') head.push(`${lower}: ${String(value)}`);
      }
      head.push(`content-length: ${body.length}`, 'connection: close', '', '');
      socket.end(Buffer.concat([Buffer.from(head.join('\r\n'), 'latin1'), body]));
    })
    .catch(() => socket.destroy());
}

function pathOf(target: string | undefined): string {
  const url = target ?? '/';
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/** The body, or `undefined` when it is over {@link MAX_HTTP_BODY_BYTES} (checked before buffering it all). */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > MAX_HTTP_BODY_BYTES) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_HTTP_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const TEXT_MEDIA_TYPE =
  /^(text\/.*|application\/(json|.*\+json|xml|.*\+xml|yaml|x-yaml|javascript|x-www-form-urlencoded|graphql))$/;

/** The API Gateway HTTP API (payload format 2.0) event for a request. */
function toEvent(req: RequestParts, body: Buffer): APIGatewayProxyEventV2 {
  const url = req.url;
  const hashless = url.split('#', 1)[0] ?? '';
  const queryAt = hashless.indexOf('?');
  const rawPath = queryAt === -1 ? hashless : hashless.slice(0, queryAt);
  const rawQueryString = queryAt === -1 ? '' : hashless.slice(queryAt + 1);

  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (name === 'cookie') {
      cookies = (Array.isArray(value) ? value.join('; ') : value).split(';').map((c) => c.trim());
      continue;
    }
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }

  // API Gateway joins repeated query parameters with commas.
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    query[name] = name in query ? `${query[name]},${value}` : value;
  }

  const now = new Date();
  const requestId = randomUUID();
  const method = req.method.toUpperCase();
  const hostHeader = headers.host ?? 'localhost';
  const domainName = hostHeader.replace(/:\d+$/, '');
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (cookies !== undefined) event.cookies = cookies;
  if (Object.keys(query).length > 0) event.queryStringParameters = query;
  if (body.length > 0) {
    const text = isTextMediaType(headers['content-type']) ? utf8(body) : undefined;
    event.body = text ?? body.toString('base64');
    event.isBase64Encoded = text === undefined;
  }
  return event;
}

/** Adds the caller as API Gateway's IAM authorizer does (`requestContext.authorizer.iam`). */
function withIamAuthorizer(event: APIGatewayProxyEventV2, caller: Caller): void {
  const name = caller.arn.split(':').slice(5).join(':');
  const authorizer: APIGatewayEventRequestContextIAMAuthorizer = {
    iam: {
      accessKey: 'ASIALOCALCALLER00000',
      accountId: caller.accountId,
      callerId: name,
      cognitoIdentity: null,
      principalOrgId: caller.organizationId ?? (null as unknown as string),
      userArn: caller.arn,
      userId: name,
    },
  };
  (event.requestContext as { authorizer?: unknown }).authorizer = authorizer;
}

function isTextMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  const mediaType = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return mediaType === '' || TEXT_MEDIA_TYPE.test(mediaType);
}

function utf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, as `requestContext.time`. */
function apiGatewayTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

function fakeContext(awsRequestId: string): Context {
  const deadline = Date.now() + LAMBDA_TIMEOUT_MS;
  const region = process.env.AWS_REGION ?? 'us-east-1';
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${FUNCTION_NAME}`,
    memoryLimitInMB: '1024',
    awsRequestId,
    logGroupName: `/aws/lambda/${FUNCTION_NAME}`,
    logStreamName: `local/${awsRequestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * A handler's result as API Gateway reads it: a structured result as is; a string, or an
 * object without `statusCode`, as a 200 JSON body.
 */
function toStructured(result: APIGatewayProxyResultV2): APIGatewayProxyStructuredResultV2 {
  if (
    typeof result === 'object' &&
    result !== null &&
    'statusCode' in result &&
    result.statusCode !== undefined
  ) {
    return result as APIGatewayProxyStructuredResultV2;
  }
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: typeof result === 'string' ? result : JSON.stringify(result ?? null),
  };
}

function writeResult(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const body =
    result.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  if (result.cookies !== undefined && result.cookies.length > 0) headers['set-cookie'] = result.cookies;
  headers['content-length'] = String(body.length);
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(body);
}
