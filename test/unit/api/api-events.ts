/** Builders of API Gateway HTTP API (payload v2) events and the demo request of the cross-account IRSA runbook. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { DEMO_REQUEST } from '#local/demo';

export interface EventOptions {
  readonly body?: unknown;
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly isBase64Encoded?: boolean;
}

export function apiEvent(method: string, path: string, options: EventOptions = {}): APIGatewayProxyEventV2 {
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const headers = {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...options.headers,
  };
  const query = options.query;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: query === undefined ? '' : new URLSearchParams(query).toString(),
    headers,
    ...(query === undefined ? {} : { queryStringParameters: query }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: 'req-test',
      routeKey: '$default',
      stage: '$default',
      time: '01/Jan/2025:00:00:00 +0000',
      timeEpoch: 1735689600000,
    },
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
}

/** The cross-account IRSA runbook's demo link (local/demo.ts), as a mutable body the tests can change. */
export function demoRequest(): Record<string, any> {
  return structuredClone(DEMO_REQUEST) as Record<string, any>;
}

export const LINK_ID = 'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5';
