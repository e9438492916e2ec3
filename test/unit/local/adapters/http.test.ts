import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { httpProblems } from '#api/problems';
import { loadApiRouter } from '#api/openapi/router';
import { type HttpServer, startHttpServer } from '#local/adapters/http';
import { demoRequest } from '../../api/api-events';

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

let server: HttpServer | undefined;

async function serve(handler: Handler): Promise<HttpServer> {
  server = await startHttpServer({ handler, port: 0, logger: { error: () => undefined } });
  return server;
}

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A handler that answers with the event it got, and remembers the context. */
function echo() {
  const calls: { event: APIGatewayProxyEventV2; context: Context }[] = [];
  const handler: Handler = async (event, context) => {
    calls.push({ event, context });
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) };
  };
  return { handler, calls };
}

/** Sends a body in chunks without Content-Length (chunked transfer encoding). */
function postChunked(
  url: string,
  chunks: number,
  chunkBytes: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    const chunk = Buffer.alloc(chunkBytes, 0x20);
    let sent = 0;
    const writeMore = () => {
      while (sent < chunks) {
        sent++;
        if (!req.write(chunk)) {
          req.once('drain', writeMore);
          return;
        }
      }
      req.end();
    };
    req.on('response', () => {
      sent = chunks; // the server has answered: stop sending
    });
    writeMore();
  });
}

describe('startHttpServer', () => {
  it('listens on 127.0.0.1 on a free port', async () => {
    // Act
    const { url, port } = await serve(echo().handler);

    // Assert
    expect(port).toBeGreaterThan(0);
    expect(url).toBe(`http://127.0.0.1:${port}`);
  });

  it('turns a request into an API Gateway HTTP API v2 event', async () => {
    // Arrange
    const { handler, calls } = echo();
    const { url } = await serve(handler);

    // Act
    const response = await fetch(`${url}/links?status=ACTIVE&namespace=a&namespace=b&limit=5`, {
      headers: { 'X-Trace-Id': 'abc', cookie: 'a=1; b=2' },
    });

    // Assert
    expect(response.status).toBe(200);
    const event = calls[0]!.event;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/links',
      rawQueryString: 'status=ACTIVE&namespace=a&namespace=b&limit=5',
      queryStringParameters: { status: 'ACTIVE', namespace: 'a,b', limit: '5' },
      cookies: ['a=1', 'b=2'],
      isBase64Encoded: false,
      requestContext: { http: { method: 'GET', path: '/links', sourceIp: '127.0.0.1' }, stage: '$default' },
    });
    expect(event.headers['x-trace-id']).toBe('abc');
    expect(event.body).toBeUndefined();
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(calls[0]!.context.awsRequestId).toBe(event.requestContext.requestId);
    expect(calls[0]!.context.getRemainingTimeInMillis()).toBeGreaterThan(0);
  });

  it('passes a JSON body as text and a binary body as base64', async () => {
    // Arrange
    const { handler, calls } = echo();
    const { url } = await serve(handler);
    const binary = Buffer.from([0xff, 0x00, 0xfe, 0x41]);

    // Act
    await fetch(`${url}/links`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"é":1}',
    });
    await fetch(`${url}/blob`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: binary,
    });

    // Assert
    expect(calls[0]!.event).toMatchObject({ body: '{"é":1}', isBase64Encoded: false });
    expect(calls[1]!.event).toMatchObject({ body: binary.toString('base64'), isBase64Encoded: true });
  });

  it('writes back the status, headers, cookies and a base64 body of the result', async () => {
    // Arrange
    const { url } = await serve(async () => ({
      statusCode: 202,
      headers: { Location: '/links/lnk_X', 'X-Count': 3 },
      cookies: ['session=1; HttpOnly'],
      body: Buffer.from('apiVersion: v1\n').toString('base64'),
      isBase64Encoded: true,
    }));

    // Act
    const response = await fetch(`${url}/links`, { method: 'POST' });

    // Assert
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe('/links/lnk_X');
    expect(response.headers.get('x-count')).toBe('3');
    expect(response.headers.get('set-cookie')).toBe('session=1; HttpOnly');
    expect(await response.text()).toBe('apiVersion: v1\n');
  });

  it('answers a plain string result as a 200 JSON body, as API Gateway does', async () => {
    // Arrange
    const { url } = await serve(async () => '{"ok":true}');

    // Act
    const response = await fetch(url);

    // Assert
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ ok: true });
  });

  it('answers a handler crash with a 500 problem that leaks nothing', async () => {
    // Arrange
    const logger = { error: vi.fn() };
    server = await startHttpServer({
      handler: async () => {
        throw new Error('table tether-links not found at 10.0.0.5');
      },
      logger,
    });

    // Act
    const response = await fetch(`${server.url}/links`);

    // Assert
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ code: 'INTERNAL', status: 500, instance: '/links' });
    expect(text).not.toMatch(/tether-links|10\.0\.0\.5/);
    expect(logger.error).toHaveBeenCalled();
  });

  it('answers a result it cannot write with a 500 problem', async () => {
    // Arrange
    const { url } = await serve(async () => ({ statusCode: 42, body: 'nope' }));

    // Act
    const response = await fetch(url);

    // Assert
    expect(response.status).toBe(500);
    expect(((await response.json()) as { code: string }).code).toBe('INTERNAL');
  });

  it('refuses a body declared over 1 MiB without calling the handler', async () => {
    // Arrange
    const { handler, calls } = echo();
    const { url } = await serve(handler);

    // Act
    const response = await fetch(`${url}/links`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(1024 * 1024 + 1, 0x20),
    });

    // Assert
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(((await response.json()) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
    expect(calls).toHaveLength(0);
  });

  it('refuses a chunked body once it passes 1 MiB', async () => {
    // Arrange
    const { handler, calls } = echo();
    const { url } = await serve(handler);

    // Act
    const response = await postChunked(`${url}/links`, 64, 64 * 1024);

    // Assert
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).code).toBe('PAYLOAD_TOO_LARGE');
    expect(calls).toHaveLength(0);
  });

  it('serves the API through the router and the problems middleware', async () => {
    // Arrange
    const router = loadApiRouter();
    const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyResultV2>(
      async (event: APIGatewayProxyEventV2) => {
        const request = router.match(event);
        return { statusCode: 200, body: JSON.stringify(request.body) };
      },
    ).use(httpProblems());
    const { url } = await serve(handler);
    const bad = demoRequest();
    bad.source.namespace = 'Kube_AI';

    // Act
    const ok = await fetch(`${url}/links`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(demoRequest()),
    });
    const invalid = await fetch(`${url}/links`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bad),
    });
    const wrongMethod = await fetch(`${url}/plans`, { method: 'GET' });

    // Assert
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { network: unknown }).network).toEqual({ mode: 'nat' });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('content-type')).toBe('application/problem+json');
    expect(await invalid.json()).toMatchObject({
      code: 'VALIDATION_FAILED',
      instance: '/links',
      errors: [{ path: '/source/namespace' }],
    });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });
});

describe('the caller of a request (x-tether-caller, else the operator)', () => {
  const OPERATOR = 'arn:aws:iam::000000000000:role/tether-operator';

  async function serveWithCallers() {
    const { handler, calls } = echo();
    server = await startHttpServer({
      handler,
      port: 0,
      logger: { error: () => undefined },
      callers: { operatorArn: OPERATOR },
    });
    return { url: server.url, calls };
  }

  const iamOf = (event: APIGatewayProxyEventV2) =>
    (event.requestContext as unknown as { authorizer?: { iam?: Record<string, unknown> } }).authorizer?.iam;

  it('passes the header’s principal as API Gateway’s IAM authorizer does', async () => {
    // Arrange
    const { url, calls } = await serveWithCallers();
    const alice = 'arn:aws:sts::111111111111:assumed-role/developer/alice';

    // Act
    const res = await fetch(`${url}/links`, { headers: { 'x-tether-caller': alice } });

    // Assert
    expect(res.status).toBe(200);
    expect(iamOf(calls[0]!.event)).toMatchObject({
      userArn: alice,
      accountId: '111111111111',
      userId: 'assumed-role/developer/alice',
    });
  });

  it('acts as the configured operator when the request names no caller', async () => {
    // Arrange
    const { url, calls } = await serveWithCallers();

    // Act
    await fetch(`${url}/links`);

    // Assert
    expect(iamOf(calls[0]!.event)).toMatchObject({ userArn: OPERATOR, accountId: '000000000000' });
  });

  it.each([['alice'], ['arn:aws:s3:::bucket'], ['arn:aws:iam::1111:user/alice'], ['']])(
    'refuses the caller %j with 400 and the header’s name, without calling the handler',
    async (value) => {
      // Arrange
      const { url, calls } = await serveWithCallers();

      // Act
      const res = await fetch(`${url}/links`, { headers: { 'x-tether-caller': value } });
      const problem = (await res.json()) as Record<string, any>;

      // Assert
      expect(res.status).toBe(400);
      expect(problem).toMatchObject({
        code: 'VALIDATION_FAILED',
        errors: [{ path: 'x-tether-caller', in: 'header' }],
      });
      expect(calls).toHaveLength(0);
    },
  );

  it('names no caller without `callers`: the events are as a bare API Gateway would send', async () => {
    // Arrange
    const { handler, calls } = echo();
    const plain = await serve(handler);

    // Act
    await fetch(`${plain.url}/links`, { headers: { 'x-tether-caller': 'arn:aws:iam::111111111111:user/a' } });

    // Assert
    expect(iamOf(calls[0]!.event)).toBeUndefined();
  });
});

/** Sends `raw` bytes as the request and reads the whole answer (the server closes). */
function rawRequest(url: string, raw: string): Promise<{ status: number; headers: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(raw));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const at = text.indexOf('\r\n\r\n');
      const head = at === -1 ? text : text.slice(0, at);
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
        headers: head.toLowerCase(),
        body: at === -1 ? '' : text.slice(at + 4),
      });
    });
  });
}

/** The API's router behind the problems middleware, as the API Lambda has it. */
function routed() {
  const router = loadApiRouter();
  return middy<APIGatewayProxyEventV2, APIGatewayProxyResultV2>(async (event: APIGatewayProxyEventV2) => {
    router.match(event);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
  }).use(httpProblems());
}

describe('refusals before the handler', () => {
  it('answers header fields over the limit with a 431 problem', async () => {
    // Arrange
    const { handler, calls } = echo();
    const { url } = await serve(handler);

    // Act
    const res = await rawRequest(
      url,
      `GET /links HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );

    // Assert
    expect(res.status).toBe(431);
    expect(res.headers).toContain('content-type: application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({
      type: 'urn:tether:problem:request-header-fields-too-large',
      status: 431,
      code: 'REQUEST_HEADER_FIELDS_TOO_LARGE',
      instance: '/links',
    });
    expect(calls).toHaveLength(0);
  });

  it('answers a method Node does not know as the router answers any other: 405 with Allow, or 404', async () => {
    // Arrange
    const { url } = await serve(routed());

    // Act
    const known = await rawRequest(url, 'BREW /links HTTP/1.1\r\nHost: x\r\n\r\n');
    const unknown = await rawRequest(url, 'BREW /nowhere HTTP/1.1\r\nHost: x\r\n\r\n');

    // Assert
    expect(known.status).toBe(405);
    expect(known.headers).toContain('allow: get, post');
    expect(known.headers).toContain('content-type: application/problem+json');
    expect(JSON.parse(known.body)).toMatchObject({ code: 'METHOD_NOT_ALLOWED', instance: '/links' });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
  });

  it('answers HEAD and other methods the API lacks with a problem (no body for HEAD)', async () => {
    // Arrange
    const { url } = await serve(routed());

    // Act
    const head = await fetch(`${url}/links`, { method: 'HEAD' });
    const patch = await fetch(`${url}/links`, { method: 'PATCH' });

    // Assert
    expect(head.status).toBe(405);
    expect(head.headers.get('content-type')).toBe('application/problem+json');
    expect(head.headers.get('allow')).toBe('GET, POST');
    expect(await head.text()).toBe('');
    expect(patch.status).toBe(405);
    expect(await patch.json()).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
  });

  it('answers a CONNECT through the router instead of dropping the connection', async () => {
    // Arrange
    const { url } = await serve(routed());

    // Act
    const res = await rawRequest(url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');

    // Assert
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
  });

  it('answers a malformed request with a 400 MALFORMED_REQUEST problem', async () => {
    // Arrange
    const { handler, calls } = echo();
    const { url } = await serve(handler);

    // Act
    const badHeader = await rawRequest(url, 'GET /links HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n');
    const badVersion = await rawRequest(url, 'GET /links HTTP/7.0\r\nHost: x\r\n\r\n');

    // Assert
    for (const res of [badHeader, badVersion]) {
      expect(res.status).toBe(400);
      expect(res.headers).toContain('content-type: application/problem+json');
      expect(JSON.parse(res.body)).toMatchObject({ code: 'MALFORMED_REQUEST', status: 400 });
    }
    expect(calls).toHaveLength(0);
  });

  it('serves a request whose Expect it does not know instead of a bare 417', async () => {
    // Arrange
    const { handler, calls } = echo();
    const { url } = await serve(handler);

    // Act
    const res = await rawRequest(
      url,
      'GET /links HTTP/1.1\r\nHost: x\r\nExpect: tea\r\nConnection: close\r\n\r\n',
    );

    // Assert
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(1);
  });
});
