/**
 * Spec-driven routing and validation: `api/openapi.yaml` decides which routes exist and what
 * a valid request is, here in the Lambda and in the local HTTP adapter alike. `match` turns an
 * API Gateway HTTP API (payload v2) event into an {@link ApiRequest} — operation, path
 * parameters, query, headers and a body with the schema's defaults filled in — or throws an
 * {@link ApiError} with a stable code and, for VALIDATION_FAILED, one message per field.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { ApiError, type FieldError } from '#api/problems';
import { assertJsonContentType, checkJsonStructure, MAX_BODY_BYTES } from './body-checks';
import { fieldErrors, validationFailed } from './messages';
import {
  absolutize,
  type JsonSchema,
  loadSpec,
  mergeParameters,
  type ParameterObject,
  parametersSchema,
  resolveRef,
  resolveSpecPath,
  SPEC_ID,
} from './spec';

/** A request the spec accepts. */
export interface ApiRequest {
  readonly operationId: string;
  /** Path parameters, percent-decoded. */
  readonly pathParams: Record<string, string>;
  /**
   * Query parameters after validation, with the spec's defaults filled in (as strings, like
   * every query value: `limit` is `'25'` when absent).
   */
  readonly query: Record<string, string>;
  /** Every request header, names lower-cased. */
  readonly headers: Record<string, string>;
  /** The parsed JSON body with defaults filled in; `undefined` for operations without a body. */
  readonly body: unknown;
}

export interface ApiOperation {
  readonly operationId: string;
  readonly method: string;
  readonly path: string;
}

export interface ApiRouter {
  /** Routes and validates the event; throws {@link ApiError}. */
  match(event: APIGatewayProxyEventV2): ApiRequest;
  /** Every operation of the spec, in the spec's order. */
  operations(): ApiOperation[];
  /** The parsed OpenAPI document. */
  readonly spec: Readonly<Record<string, unknown>>;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const routers = new Map<string, ApiRouter>();

/** The router for a spec, compiled once per path. */
export function loadApiRouter(specPath?: string): ApiRouter {
  const path = resolveSpecPath(specPath);
  let router = routers.get(path);
  if (router === undefined) {
    router = compileRouter(loadSpec(path));
    routers.set(path, router);
  }
  return router;
}

interface CompiledOperation extends ApiOperation {
  readonly spec: JsonSchema;
  readonly pathParams: ValidateFunction;
  readonly query: ValidateFunction;
  readonly queryNames: readonly string[];
  readonly headers: ValidateFunction;
  readonly headerNames: ReadonlyMap<string, string>;
  readonly body?: { readonly required: boolean; readonly validate: ValidateFunction };
}

interface CompiledPath {
  readonly template: string;
  readonly segments: readonly ({ readonly literal: string } | { readonly param: string })[];
  readonly operations: ReadonlyMap<string, CompiledOperation>;
}

function compileRouter(spec: Record<string, unknown>): ApiRouter {
  const ajvOptions = {
    strict: false,
    allErrors: true,
    discriminator: true,
    verbose: true,
    allowUnionTypes: true,
  } as const;
  // Bodies: defaults land in the body, no type coercion.
  const bodyAjv = new Ajv2020({ ...ajvOptions, useDefaults: true });
  // Parameters are strings on the wire: coerce them to the schema's types to check them.
  const paramAjv = new Ajv2020({ ...ajvOptions, useDefaults: true, coerceTypes: true });
  for (const ajv of [bodyAjv, paramAjv]) {
    addFormats(ajv);
    ajv.addSchema(spec, SPEC_ID);
  }

  const resolve = <T>(value: unknown): T => resolveRef(spec, value) as T;
  const paths: CompiledPath[] = [];
  const specPaths = (spec.paths ?? {}) as Record<string, Record<string, unknown>>;
  for (const [template, pathItemRaw] of Object.entries(specPaths)) {
    const pathItem = resolve<Record<string, unknown>>(pathItemRaw);
    const shared = ((pathItem.parameters ?? []) as unknown[]).map((p) => resolve<ParameterObject>(p));
    const operations = new Map<string, CompiledOperation>();
    for (const method of HTTP_METHODS) {
      const op = pathItem[method] as Record<string, unknown> | undefined;
      if (op === undefined) continue;
      const own = ((op.parameters ?? []) as unknown[]).map((p) => resolve<ParameterObject>(p));
      const params = mergeParameters(shared, own);
      const operationId = String(op.operationId ?? `${method} ${template}`);
      const byLocation = (where: ParameterObject['in']) => params.filter((p) => p.in === where);
      const headerParams = byLocation('header');
      const queryParams = byLocation('query');
      const compiled: CompiledOperation = {
        spec,
        operationId,
        method: method.toUpperCase(),
        path: template,
        pathParams: paramAjv.compile(parametersSchema(byLocation('path'), false, false)),
        query: paramAjv.compile(parametersSchema(queryParams, false, false)),
        queryNames: queryParams.map((p) => p.name),
        headers: paramAjv.compile(parametersSchema(headerParams, true, true)),
        headerNames: new Map(headerParams.map((p) => [p.name.toLowerCase(), p.name])),
        ...(op.requestBody === undefined
          ? {}
          : { body: compileBody(bodyAjv, resolve(op.requestBody), operationId) }),
      };
      operations.set(compiled.method, compiled);
    }
    paths.push({ template, segments: templateSegments(template), operations });
  }
  // Literal segments win over parameters (`/links/search` before `/links/{id}`).
  const ranked = [...paths].sort((a, b) => literalRank(b) - literalRank(a));

  return {
    spec,
    operations: () =>
      paths.flatMap((p) =>
        [...p.operations.values()].map(({ operationId, method, path }) => ({ operationId, method, path })),
      ),
    match: (event) => matchEvent(ranked, event),
  };
}

function compileBody(
  ajv: Ajv2020,
  requestBody: { required?: boolean; content?: Record<string, { schema?: unknown }> },
  operationId: string,
): { required: boolean; validate: ValidateFunction } {
  const schema = requestBody.content?.['application/json']?.schema;
  if (schema === undefined) throw new Error(`OpenAPI: ${operationId} has no application/json request body`);
  return { required: requestBody.required === true, validate: ajv.compile(absolutize(schema) as JsonSchema) };
}

function templateSegments(template: string): CompiledPath['segments'] {
  return template
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      const param = /^\{([^}]+)\}$/.exec(s)?.[1];
      return param === undefined ? { literal: s } : { param };
    });
}

function literalRank(path: CompiledPath): number {
  // Earlier literal segments weigh more.
  return path.segments.reduce((rank, s, i) => rank + ('literal' in s ? 2 ** (16 - i) : 0), 0);
}

// ---- matching --------------------------------------------------------------------------

function matchEvent(paths: readonly CompiledPath[], event: APIGatewayProxyEventV2): ApiRequest {
  const method = (event.requestContext?.http?.method ?? '').toUpperCase();
  const rawPath = stripStage(
    event.rawPath ?? event.requestContext?.http?.path ?? '/',
    event.requestContext?.stage,
  );
  const segments = rawPath.split('/').filter((s) => s !== '');

  let allowed: string[] | undefined;
  for (const path of paths) {
    const raw = matchSegments(path, segments);
    if (raw === undefined) continue;
    const operation = path.operations.get(method);
    if (operation === undefined) {
      allowed ??= [...path.operations.keys()];
      continue;
    }
    return validateRequest(operation, raw, event);
  }
  if (allowed !== undefined) {
    throw new ApiError(
      'METHOD_NOT_ALLOWED',
      `${rawPath} does not allow ${method}; it allows ${allowed.join(', ')}.`,
      {
        headers: { allow: allowed.join(', ') },
      },
    );
  }
  throw new ApiError('ROUTE_NOT_FOUND', `There is no route ${rawPath}.`);
}

/** API Gateway puts a named stage in front of the path (`/prod/links`); `$default` has none. */
function stripStage(path: string, stage: string | undefined): string {
  if (stage === undefined || stage === '' || stage === '$default') return path;
  const prefix = `/${stage}`;
  if (path === prefix) return '/';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
}

function matchSegments(path: CompiledPath, segments: readonly string[]): Record<string, string> | undefined {
  if (path.segments.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, segment] of path.segments.entries()) {
    const actual = segments[i] ?? '';
    if ('literal' in segment) {
      if (segment.literal !== actual) return undefined;
    } else {
      params[segment.param] = decodeSegment(actual);
    }
  }
  return params;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function validateRequest(
  operation: CompiledOperation,
  pathParams: Record<string, string>,
  event: APIGatewayProxyEventV2,
): ApiRequest {
  const headers = lowerCaseHeaders(event.headers);
  const errors: FieldError[] = [];

  if (!operation.pathParams({ ...pathParams })) {
    errors.push(...fieldErrors(operation.spec, operation.pathParams.errors, 'path'));
  }

  const rawQuery = queryParameters(event);
  const coercedQuery: Record<string, unknown> = { ...rawQuery };
  if (!operation.query(coercedQuery))
    errors.push(...fieldErrors(operation.spec, operation.query.errors, 'query'));
  const query: Record<string, string> = { ...rawQuery };
  for (const name of operation.queryNames) {
    // Defaults the schema filled in, as the strings a client would have sent.
    const value = coercedQuery[name];
    if (!(name in query) && value !== undefined) query[name] = String(value);
  }

  if (!operation.headers({ ...headers })) {
    errors.push(...fieldErrors(operation.spec, operation.headers.errors, 'header', operation.headerNames));
  }
  if (errors.length > 0) throw validationFailed(errors);

  const body = operation.body === undefined ? undefined : readBody(operation, operation.body, event, headers);
  return { operationId: operation.operationId, pathParams, query, headers, body };
}

function lowerCaseHeaders(headers: APIGatewayProxyEventV2['headers'] | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) result[name.toLowerCase()] = value;
  }
  return result;
}

function queryParameters(event: APIGatewayProxyEventV2): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) result[name] = value;
  }
  return result;
}

function readBody(
  operation: CompiledOperation,
  spec: NonNullable<CompiledOperation['body']>,
  event: APIGatewayProxyEventV2,
  headers: Record<string, string>,
): unknown {
  const raw = event.body === undefined || event.body === null ? undefined : event.body;
  const bytes =
    raw === undefined
      ? undefined
      : event.isBase64Encoded
        ? Buffer.from(raw, 'base64')
        : Buffer.from(raw, 'utf8');
  if (bytes === undefined || bytes.length === 0) {
    if (spec.required) {
      throw validationFailed([
        { path: '', in: 'body', message: 'The request body is required: a JSON object.' },
      ]);
    }
    return undefined;
  }
  if (bytes.length > MAX_BODY_BYTES) {
    throw new ApiError(
      'PAYLOAD_TOO_LARGE',
      `The request body is ${bytes.length} bytes; at most ${MAX_BODY_BYTES} bytes are accepted.`,
    );
  }
  assertJsonContentType(headers['content-type']);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError('MALFORMED_JSON', 'The request body is not valid UTF-8.');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : 'syntax error';
    throw new ApiError('MALFORMED_JSON', `The request body is not valid JSON: ${reason}`);
  }
  const structure = checkJsonStructure(text);
  if (structure !== undefined) throw new ApiError('MALFORMED_JSON', structure);

  let valid: boolean;
  try {
    valid = spec.validate(body) as boolean;
  } catch {
    // Ajv's uniqueItems compares items with fast-deep-equal, which calls an object's own
    // `toString`/`valueOf`: a body with such keys throws instead of failing. No schema of
    // ours allows those keys, so the body is invalid whatever the comparison would say.
    throw new ApiError(
      'VALIDATION_FAILED',
      'The request body has keys no schema allows (such as toString or valueOf).',
      {
        errors: [{ path: '', in: 'body', message: 'keys such as toString or valueOf are not allowed' }],
      },
    );
  }
  if (!valid) throw validationFailed(fieldErrors(operation.spec, spec.validate.errors, 'body'));
  return body;
}
