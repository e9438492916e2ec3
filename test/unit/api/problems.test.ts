import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { LinkNotFoundError, ThrottledError } from '#link/errors';
import { API_ERROR_CODES, ApiError, httpProblems, problemResponse } from '#api/problems';
import { apiEvent } from './api-events';

function parseBody(response: APIGatewayProxyStructuredResultV2): Record<string, unknown> {
  return JSON.parse(response.body ?? '') as Record<string, unknown>;
}

describe('API_ERROR_CODES', () => {
  it('gives each stable code its HTTP status', () => {
    const statuses = Object.fromEntries(
      Object.entries(API_ERROR_CODES).map(([code, { status }]) => [code, status]),
    );
    expect(statuses).toEqual({
      VALIDATION_FAILED: 400,
      MALFORMED_JSON: 400,
      UNSUPPORTED_MEDIA_TYPE: 415,
      ROUTE_NOT_FOUND: 404,
      METHOD_NOT_ALLOWED: 405,
      LINK_NOT_FOUND: 404,
      CLUSTER_NOT_REGISTERED: 404,
      CLUSTER_IN_USE: 409,
      ACCESS_DENIED: 403,
      CLUSTER_NOT_FOUND: 422,
      ACCOUNT_NOT_REACHABLE: 422,
      IDEMPOTENCY_KEY_REUSED: 422,
      IDEMPOTENCY_KEY_IN_FLIGHT: 409,
      CONFLICT_UNMANAGED_RESOURCE: 409,
      LINK_NOT_READY: 409,
      LINK_BUSY: 409,
      NOT_AWAITING_APPROVAL: 409,
      LINK_SPEC_MISMATCH: 409,
      QUOTA_EXCEEDED: 422,
      INVALID_CURSOR: 400,
      PAYLOAD_TOO_LARGE: 413,
      MALFORMED_REQUEST: 400,
      REQUEST_TIMEOUT: 408,
      REQUEST_HEADER_FIELDS_TOO_LARGE: 431,
      IDENTITY_MODE_UNSUPPORTED: 422,
      UNSUPPORTED_CLUSTER: 422,
      PARTITION_UNSUPPORTED: 422,
      INTERNAL: 500,
      AWS_UNAVAILABLE: 503,
    });
  });
});

describe('ApiError', () => {
  it('takes its status and title from the code and exposes only 4xx', () => {
    // Act
    const notFound = new ApiError('LINK_NOT_FOUND', 'Link lnk_X does not exist');
    const internal = new ApiError('INTERNAL');

    // Assert
    expect(notFound).toMatchObject({ name: 'ApiError', code: 'LINK_NOT_FOUND', status: 404, expose: true });
    expect(notFound.detail).toBe('Link lnk_X does not exist');
    expect(internal).toMatchObject({ status: 500, expose: false, detail: API_ERROR_CODES.INTERNAL.title });
  });
});

describe('problemResponse', () => {
  it('renders an ApiError as an RFC 9457 problem', () => {
    // Arrange
    const err = new ApiError('VALIDATION_FAILED', 'source.namespace must be …', {
      errors: [{ path: '/source/namespace', in: 'body', message: 'source.namespace must be …' }],
      extensions: { hint: 'see the spec', status: 299 },
    });

    // Act
    const response = problemResponse(err, '/links', { requestId: 'req-1' });

    // Assert
    expect(response.statusCode).toBe(400);
    expect(response.headers).toMatchObject({ 'content-type': 'application/problem+json' });
    expect(parseBody(response)).toEqual({
      type: 'urn:tether:problem:validation-failed',
      title: API_ERROR_CODES.VALIDATION_FAILED.title,
      status: 400,
      detail: 'source.namespace must be …',
      instance: '/links',
      code: 'VALIDATION_FAILED',
      requestId: 'req-1',
      errors: [{ path: '/source/namespace', in: 'body', message: 'source.namespace must be …' }],
      hint: 'see the spec',
    });
  });

  it('sends the headers of the error, such as Allow', () => {
    // Act
    const response = problemResponse(new ApiError('METHOD_NOT_ALLOWED', 'no', { headers: { Allow: 'GET' } }));

    // Assert
    expect(response.statusCode).toBe(405);
    expect(response.headers).toMatchObject({ allow: 'GET' });
  });

  it('turns an unknown error into a 500 that leaks nothing', () => {
    // Arrange
    const err = new Error('connect ECONNREFUSED 10.1.2.3:8000 arn:aws:iam::111111111111:role/secret');

    // Act
    const response = problemResponse(err, '/links');

    // Assert
    expect(response.statusCode).toBe(500);
    const body = parseBody(response);
    expect(body).toMatchObject({ code: 'INTERNAL', status: 500, title: 'Internal error' });
    expect(response.body).not.toMatch(/ECONNREFUSED|10\.1\.2\.3|arn:aws|secret|stack/);
  });

  it.each([
    ['a string', 'boom'],
    ['undefined', undefined],
    [
      'an object with an unknown code',
      Object.assign(new Error('db password=hunter2'), { code: 'ECONNRESET' }),
    ],
    [
      'an error that may not be shown',
      Object.assign(new Error('hunter2'), { code: 'LINK_NOT_FOUND', expose: false }),
    ],
    ['an error that claims INTERNAL', Object.assign(new Error('hunter2'), { code: 'INTERNAL' })],
    ['an ApiError INTERNAL with a detail', new ApiError('INTERNAL', 'hunter2 at line 3')],
  ])('turns %s into a generic 500', (_case, err) => {
    // Act
    const response = problemResponse(err);

    // Assert
    expect(response.statusCode).toBe(500);
    expect(parseBody(response).code).toBe('INTERNAL');
    expect(response.body).not.toContain('hunter2');
  });

  it('maps a domain error whose code is an API code, with its message as detail', () => {
    // Act
    const response = problemResponse(
      new LinkNotFoundError('Link lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5 does not exist'),
    );

    // Assert
    expect(response.statusCode).toBe(404);
    expect(parseBody(response)).toMatchObject({
      code: 'LINK_NOT_FOUND',
      detail: 'Link lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5 does not exist',
    });
  });

  it('answers AWS throttling past the retries with 503 AWS_UNAVAILABLE and Retry-After, without its message', () => {
    // Act
    const response = problemResponse(new ThrottledError('IAM throttled CreateRole for role tether-w-abc'));

    // Assert
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('2');
    expect(parseBody(response).code).toBe('AWS_UNAVAILABLE');
    expect(response.body).not.toContain('tether-w-abc');
  });

  it('leaves a Node network error that did not come from an AWS client a generic 500', () => {
    // Act
    const response = problemResponse(
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    );

    // Assert
    expect(response.statusCode).toBe(500);
  });
});

describe('httpProblems', () => {
  const context = { awsRequestId: 'ctx' } as Context;

  it('answers a handler error with a problem for the request path', async () => {
    // Arrange
    const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(async () => {
      throw new ApiError('LINK_BUSY', 'A reconcile is running');
    }).use(httpProblems());

    // Act
    const response = await handler(apiEvent('POST', '/links/lnk_X/reconcile'), context);

    // Assert
    expect(response.statusCode).toBe(409);
    expect(JSON.parse(response.body ?? '')).toMatchObject({
      code: 'LINK_BUSY',
      instance: '/links/lnk_X/reconcile',
      requestId: 'req-test',
    });
  });

  it('logs an unexpected error and answers a generic 500', async () => {
    // Arrange
    const logger = { error: vi.fn() };
    const cause = new TypeError("Cannot read properties of undefined (reading 'Item')");
    const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(async () => {
      throw cause;
    }).use(httpProblems({ logger }));

    // Act
    const response = await handler(apiEvent('GET', '/links'), context);

    // Assert
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('Item');
    expect(logger.error).toHaveBeenCalledWith(expect.any(String), cause);
  });
});
