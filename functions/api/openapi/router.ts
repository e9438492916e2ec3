/**
 * Spec-driven routing and validation: `api/openapi.yaml` decides which routes exist and what
 * a valid request is, here in the Lambda and in the local HTTP adapter alike. `match` turns an
 * API Gateway HTTP API (payload v2) event into an {@link ApiRequest} — operation, path
 * parameters, query, headers and a body with the schema's defaults filled in — or throws an
 * {@link ApiError} with a stable code and, for VALIDATION_FAILED, one message per field.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ErrorObject, ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { ApiError, type FieldError } from '#api/problems';

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

/** Largest request body the API accepts (bytes, after base64 decoding). */
export const MAX_BODY_BYTES = 64 * 1024;
/** Deepest JSON nesting accepted; the request schema is far shallower. */
const MAX_JSON_DEPTH = 32;
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const routers = new Map<string, ApiRouter>();

/** The spec's path: the argument, else `TETHER_OPENAPI_PATH`, else `api/openapi.yaml` of this repository. */
function resolveSpecPath(specPath?: string): string {
  if (specPath !== undefined && specPath !== '') return specPath;
  const fromEnv = process.env.TETHER_OPENAPI_PATH;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return fileURLToPath(new URL('../../../api/openapi.yaml', import.meta.url));
}

/** The router for a spec, compiled once per path. */
export function loadApiRouter(specPath?: string): ApiRouter {
  const path = resolveSpecPath(specPath);
  let router = routers.get(path);
  if (router === undefined) {
    router = compileRouter(parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown>);
    routers.set(path, router);
  }
  return router;
}

// ---- compilation -----------------------------------------------------------------------

type JsonSchema = Record<string, unknown>;

interface ParameterObject {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly required?: boolean;
  readonly schema?: JsonSchema;
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

const SPEC_ID = 'tether:openapi';

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

function resolveRef(spec: Record<string, unknown>, value: unknown): unknown {
  let current = value;
  for (let hops = 0; hops < 16; hops++) {
    const ref = (current as { $ref?: unknown } | undefined)?.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#/')) return current;
    current = ref
      .slice(2)
      .split('/')
      .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], spec);
    if (current === undefined) throw new Error(`OpenAPI: unresolved $ref ${ref}`);
  }
  throw new Error('OpenAPI: $ref chain too long');
}

/** Operation parameters replace path-item parameters of the same name and location. */
function mergeParameters(shared: ParameterObject[], own: ParameterObject[]): ParameterObject[] {
  const key = (p: ParameterObject) => `${p.in}:${p.in === 'header' ? p.name.toLowerCase() : p.name}`;
  const merged = new Map(shared.map((p) => [key(p), p]));
  for (const p of own) merged.set(key(p), p);
  return [...merged.values()];
}

/** JSON Schema for an object of parameters; `$ref`s point into the spec. */
function parametersSchema(params: ParameterObject[], lowerCase: boolean, open: boolean): JsonSchema {
  const name = (p: ParameterObject) => (lowerCase ? p.name.toLowerCase() : p.name);
  return {
    type: 'object',
    properties: Object.fromEntries(params.map((p) => [name(p), absolutize(p.schema ?? {})])),
    required: params.filter((p) => p.required === true || p.in === 'path').map(name),
    additionalProperties: open,
  };
}

/** Rewrites local `$ref`s (`#/components/…`) to point into the spec added as {@link SPEC_ID}. */
function absolutize(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(absolutize);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `${SPEC_ID}${v}` : absolutize(v),
    ]),
  );
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

function assertJsonContentType(contentType: string | undefined): void {
  if (contentType === undefined || contentType.trim() === '') {
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      'The request has a body but no Content-Type; send application/json.',
    );
  }
  const [mediaType = '', ...params] = contentType.split(';').map((s) => s.trim().toLowerCase());
  if (mediaType !== 'application/json') {
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type ${mediaType} is not accepted; send application/json.`,
    );
  }
  for (const param of params) {
    const [name, value = ''] = param.split('=').map((s) => s.trim());
    if (name === 'charset' && value.replaceAll('"', '') !== 'utf-8') {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `Charset ${value} is not accepted; send UTF-8.`);
    }
  }
}

/**
 * Finds what `JSON.parse` lets through silently: a key repeated in one object (it keeps the
 * last one) and nesting deeper than {@link MAX_JSON_DEPTH}. `text` is known to be valid JSON.
 * Returns the problem, or `undefined`.
 */
export function checkJsonStructure(text: string): string | undefined {
  // One frame per open object or array: the keys seen so far, or the index of the current item.
  const stack: { keys?: Set<string>; key?: string; index: number; expectKey: boolean }[] = [];
  const pointer = () =>
    stack
      .map((frame) => (frame.keys === undefined ? String(frame.index) : escapePointer(frame.key ?? '')))
      .join('/');
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '{' || ch === '[') {
      stack.push(
        ch === '{' ? { keys: new Set(), index: 0, expectKey: true } : { index: 0, expectKey: false },
      );
      if (stack.length > MAX_JSON_DEPTH)
        return `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`;
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      const top = stack[stack.length - 1];
      if (top === undefined) continue;
      if (top.keys === undefined) top.index++;
      else top.expectKey = true;
    } else if (ch === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys !== undefined && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        top.key = key;
        top.expectKey = false;
        if (top.keys.has(key)) {
          return `The request body repeats the key ${JSON.stringify(key.slice(0, 64))} at /${pointer().slice(0, 256)}; each key may appear once in an object.`;
        }
        top.keys.add(key);
      }
      i = end;
    }
  }
  return undefined;
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

// ---- validation messages ---------------------------------------------------------------

function validationFailed(errors: FieldError[]): ApiError {
  const first = errors[0]?.message ?? 'The request is not valid.';
  const more =
    errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
  return new ApiError('VALIDATION_FAILED', `${first}${more}`, { errors });
}

/**
 * Ajv errors as one readable message per field: which field, and what is allowed there
 * (the schema's `x-allowed` words where it has them). Errors that only restate another
 * (a failed `if`, a discriminator's `oneOf`) are left out.
 */
function fieldErrors(
  spec: JsonSchema,
  errors: readonly ErrorObject[] | null | undefined,
  where: NonNullable<FieldError['in']>,
  displayNames?: ReadonlyMap<string, string>,
): FieldError[] {
  const result: FieldError[] = [];
  const seen = new Set<string>();
  for (const error of errors ?? []) {
    const described = describe(spec, error, where);
    if (described === undefined) continue;
    const path = where === 'body' ? described.pointer : described.pointer.replace(/^\//, '');
    const label = fieldLabel(described.pointer, where, displayNames);
    const message = `${label} ${described.text}`;
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push({ path, in: where, message });
  }
  return result;
}

function describe(
  spec: JsonSchema,
  error: ErrorObject,
  where: NonNullable<FieldError['in']>,
): { pointer: string; text: string } | undefined {
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as JsonSchema;
  const allowed = typeof parent['x-allowed'] === 'string' ? parent['x-allowed'] : undefined;
  const at = error.instancePath;
  switch (error.keyword) {
    case 'if':
    case 'oneOf':
    case 'anyOf':
      return undefined;
    case 'required':
      return { pointer: `${at}/${escapePointer(String(params.missingProperty))}`, text: 'is required.' };
    case 'additionalProperties': {
      const properties = Object.keys((parent.properties ?? {}) as JsonSchema);
      const pointer = `${at}/${escapePointer(String(params.additionalProperty))}`;
      if (where === 'body') {
        const choices = properties.length > 0 ? `; allowed fields: ${properties.join(', ')}` : '';
        return { pointer, text: `is not an allowed field${choices}.` };
      }
      const choices = properties.length > 0 ? `; known parameters: ${properties.join(', ')}` : '';
      return { pointer, text: `is not a parameter of this operation${choices}.` };
    }
    case 'discriminator': {
      const tag = String(params.tag);
      if (params.error === 'tag') {
        // A missing tag is already reported by `required`.
        const data = error.data as Record<string, unknown> | undefined;
        if (typeof data !== 'object' || data === null || !(tag in data)) return undefined;
        return { pointer: `${at}/${tag}`, text: 'must be a string.' };
      }
      const choices = discriminatorChoices(spec, error);
      return { pointer: `${at}/${tag}`, text: `must be one of: ${choices.join(', ')}.` };
    }
    case 'enum':
      // A long list (Regions) reads better as the schema's own words, where it has them.
      if (allowed !== undefined) return { pointer: at, text: `must be ${allowed}.` };
      return {
        pointer: at,
        text: `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}.`,
      };
    case 'const':
      return { pointer: at, text: `must be ${JSON.stringify(params.allowedValue)}.` };
    case 'type':
      return { pointer: at, text: `must be ${article(String(params.type))}.` };
    case 'minItems':
      return {
        pointer: at,
        text: `must have at least ${params.limit} item${params.limit === 1 ? '' : 's'}.`,
      };
    case 'maxItems':
      return { pointer: at, text: `must have at most ${params.limit} item${params.limit === 1 ? '' : 's'}.` };
    case 'uniqueItems':
      return {
        pointer: at,
        text: `must not repeat an item (items ${params.j} and ${params.i} are the same).`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { pointer: at, text: allowed === undefined ? `${error.message}.` : `must be ${allowed}.` };
    case 'pattern':
    case 'format':
    case 'minLength':
    case 'maxLength':
    case 'not':
      if (allowed !== undefined) return { pointer: at, text: `must be ${allowed}.` };
      if (error.keyword === 'pattern') return { pointer: at, text: `must match ${String(params.pattern)}.` };
      return { pointer: at, text: `${error.message ?? 'is not valid'}.` };
    case 'false schema':
      return { pointer: at, text: 'is not allowed here.' };
    default:
      return { pointer: at, text: `${error.message ?? 'is not valid'}.` };
  }
}

function discriminatorChoices(spec: JsonSchema, error: ErrorObject): string[] {
  const parent = (error.parentSchema ?? {}) as JsonSchema;
  const tag = String((error.params as Record<string, unknown>).tag);
  const choices: string[] = [];
  for (const branch of (parent.oneOf ?? []) as JsonSchema[]) {
    const schema = resolveRef(spec, unprefixRef(branch)) as JsonSchema | undefined;
    const tagSchema = ((schema?.properties ?? {}) as Record<string, JsonSchema | undefined>)[tag];
    if (tagSchema?.const !== undefined) choices.push(String(tagSchema.const));
    if (Array.isArray(tagSchema?.enum)) choices.push(...tagSchema.enum.map(String));
  }
  return choices;
}

/** `{ $ref: 'tether:openapi#/x' }` → `{ $ref: '#/x' }`, so {@link resolveRef} can follow it. */
function unprefixRef(schema: JsonSchema): JsonSchema {
  const ref = schema.$ref;
  return typeof ref === 'string' && ref.startsWith(`${SPEC_ID}#`)
    ? { $ref: ref.slice(SPEC_ID.length) }
    : schema;
}

function article(type: string): string {
  if (type === 'array' || type === 'object' || type === 'integer') return `an ${type}`;
  if (type === 'null') return 'null';
  return `a ${type}`;
}

function fieldLabel(
  pointer: string,
  where: NonNullable<FieldError['in']>,
  displayNames?: ReadonlyMap<string, string>,
): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (where === 'body') {
    if (parts.length === 0) return 'The request body';
    return parts.reduce(
      (label, part) => (/^\d+$/.test(part) ? `${label}[${part}]` : label === '' ? part : `${label}.${part}`),
      '',
    );
  }
  const name = parts[0] ?? '';
  const shown = displayNames?.get(name) ?? name;
  if (where === 'query') return `Query parameter '${shown}'`;
  if (where === 'header') return `Header '${shown}'`;
  return `Path parameter '${shown}'`;
}
