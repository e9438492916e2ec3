/** Builders of API Gateway HTTP API (payload v2) events and the demo request of seed 000. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

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

/** Seed 000: workload kubeai-chatbot in cluster-a (account A) → cluster-b (account B), view access. */
export function demoRequest() {
  return {
    source: {
      accountId: '111111111111',
      region: 'ap-southeast-1',
      cluster: 'cluster-a',
      namespace: 'kubeai-chatbot',
      serviceAccount: 'kubeai-chatbot',
    },
    targets: [
      {
        accountId: '222222222222',
        region: 'ap-southeast-1',
        cluster: 'cluster-b',
        access: {
          policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
          scope: { type: 'cluster' },
        },
      },
    ],
  } as Record<string, any>;
}

export const LINK_ID = 'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5';
