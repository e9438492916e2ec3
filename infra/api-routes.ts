/**
 * The API's routes, derived from `api/openapi.yaml` (OpenAPI 3.1, the source of truth).
 * API Gateway imports OpenAPI 3.0 only, so the hub stack does not import the document: it
 * reads each operation's method and path from it and makes one route per operation, each
 * with IAM authorization. `test/infra/hub-stack.test.ts` checks every operation has a route
 * and every route an operation.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { REPO_ROOT } from './bundles';

export const OPENAPI_PATH = `${REPO_ROOT}api/openapi.yaml`;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface ApiRoute {
  readonly operationId: string;
  /** Upper-case HTTP method. */
  readonly method: string;
  /** The path as API Gateway writes it (`/links/{id}`: the same syntax as OpenAPI). */
  readonly path: string;
  /** Whether the operation asks for the `sigv4` security scheme (or inherits it). */
  readonly sigv4: boolean;
  /** The operation's `x-amazon-apigateway-auth` type (`AWS_IAM` on every operation). */
  readonly authType: string | undefined;
}

/**
 * Every operation of the spec as a route.
 *
 * @example
 * apiRoutes().find((r) => r.operationId === 'getLink'); // { method: 'GET', path: '/links/{id}', … }
 */
export function apiRoutes(specText: string = readFileSync(OPENAPI_PATH, 'utf8')): ApiRoute[] {
  const spec = parse(specText) as {
    paths?: Record<
      string,
      Record<
        string,
        {
          operationId?: string;
          security?: Record<string, unknown>[];
          'x-amazon-apigateway-auth'?: { type?: string };
        }
      >
    >;
    security?: Record<string, unknown>[];
  };
  const routes: ApiRoute[] = [];
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      if (!op.operationId) throw new Error(`${method.toUpperCase()} ${path} has no operationId`);
      const security = op.security ?? spec.security ?? [];
      routes.push({
        operationId: op.operationId,
        method: method.toUpperCase(),
        path,
        sigv4: security.some((req) => 'sigv4' in req),
        authType: op['x-amazon-apigateway-auth']?.type,
      });
    }
  }
  return routes;
}
