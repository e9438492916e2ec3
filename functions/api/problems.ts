/**
 * API errors as RFC 9457 problems with a stable `code`. The codes and
 * their statuses are a contract: `api/openapi.yaml` lists the same codes as the enum of
 * `Problem.code` (a unit test keeps them equal). One `onError` middleware,
 * {@link httpProblems}, turns any thrown error into a response; anything unexpected becomes a
 * generic 500 that says nothing of its cause.
 */
import type middy from '@middy/core';
import { callSiteOf, classifyAwsError } from '#aws/errors';
import { ThrottledError, TransientAwsError } from '#link/errors';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';

/** Every code the API answers with: its HTTP status and its title (the same for every occurrence). */
export const API_ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, title: 'The request is not valid' },
  MALFORMED_JSON: { status: 400, title: 'The request body is not well-formed JSON' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request body must be application/json' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'The route does not allow this method' },
  LINK_NOT_FOUND: { status: 404, title: 'No such link' },
  CLUSTER_NOT_REGISTERED: { status: 404, title: 'No such self-managed cluster' },
  CLUSTER_IN_USE: { status: 409, title: 'Links use the self-managed cluster' },
  ACCESS_DENIED: { status: 403, title: 'The policies do not allow the caller this action' },
  CLUSTER_NOT_FOUND: { status: 422, title: 'A cluster of the request does not exist' },
  ACCOUNT_NOT_REACHABLE: { status: 422, title: 'Tether cannot act in an account of the request' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'The idempotency key was used for a different request' },
  IDEMPOTENCY_KEY_IN_FLIGHT: { status: 409, title: 'A request with this idempotency key is in progress' },
  CONFLICT_UNMANAGED_RESOURCE: {
    status: 409,
    title: 'A resource Tether would manage exists and is not Tether’s',
  },
  LINK_NOT_READY: { status: 409, title: 'The link is not active yet' },
  LINK_BUSY: { status: 409, title: 'A workflow is already running for the link' },
  NOT_AWAITING_APPROVAL: { status: 409, title: 'The link is not waiting for an approver' },
  LINK_SPEC_MISMATCH: {
    status: 409,
    title: 'The workload is already linked to that cluster with another spec',
  },
  QUOTA_EXCEEDED: { status: 422, title: 'An AWS quota would be exceeded' },
  INVALID_CURSOR: { status: 400, title: 'The pagination cursor is not valid' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  MALFORMED_REQUEST: { status: 400, title: 'The request is not well-formed HTTP' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request did not arrive in time' },
  REQUEST_HEADER_FIELDS_TOO_LARGE: { status: 431, title: 'The request header fields are too large' },
  IDENTITY_MODE_UNSUPPORTED: { status: 422, title: 'The identity mode is not supported for this source' },
  UNSUPPORTED_CLUSTER: { status: 422, title: 'A cluster of the request cannot take the link as asked' },
  PARTITION_UNSUPPORTED: {
    status: 422,
    title: 'A Region of the request is in a partition Tether does not work in',
  },
  INTERNAL: { status: 500, title: 'Internal error' },
  AWS_UNAVAILABLE: { status: 503, title: 'AWS is throttling or briefly failing a call the request needs' },
} as const satisfies Record<string, { readonly status: number; readonly title: string }>;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;

/** The codes in declaration order (the enum of `Problem.code` in `api/openapi.yaml`). */
export const API_ERROR_CODE_NAMES = Object.keys(API_ERROR_CODES) as ApiErrorCode[];

export function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return typeof code === 'string' && Object.hasOwn(API_ERROR_CODES, code);
}

/** One problem found by validation: where (`path`, `in`) and what is allowed (`message`). */
export interface FieldError {
  /** JSON Pointer into the body (`/source/namespace`), or the parameter's name. */
  readonly path: string;
  readonly in?: 'body' | 'query' | 'path' | 'header';
  readonly message: string;
}

/** Problem members reserved by RFC 9457 and Tether, which extensions may not replace. */
const RESERVED_MEMBERS = new Set([
  'type',
  'title',
  'status',
  'detail',
  'instance',
  'code',
  'errors',
  'requestId',
]);

export interface ApiErrorOptions {
  /** Validation problems, one per field. */
  readonly errors?: readonly FieldError[];
  /** Response headers, e.g. `Allow` for METHOD_NOT_ALLOWED. */
  readonly headers?: Readonly<Record<string, string>>;
  /** More problem members (RFC 9457 §3.2), e.g. `{ linkId }`. Reserved names are ignored. */
  readonly extensions?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/** An error the API answers with on purpose. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly errors?: readonly FieldError[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly extensions?: Readonly<Record<string, unknown>>;
  /** Whether the caller may see `detail`; false for 5xx. */
  readonly expose: boolean;

  constructor(code: ApiErrorCode, detail?: string, options: ApiErrorOptions = {}) {
    const { status, title } = API_ERROR_CODES[code];
    super(detail ?? title, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = status;
    this.title = title;
    this.detail = detail ?? title;
    if (options.errors !== undefined) this.errors = options.errors;
    if (options.headers !== undefined) this.headers = options.headers;
    if (options.extensions !== undefined) this.extensions = options.extensions;
    this.expose = status < 500;
  }
}

/** The RFC 9457 body Tether sends. */
export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  readonly code: ApiErrorCode;
  readonly requestId?: string;
  readonly errors?: readonly FieldError[];
  readonly [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const GENERIC_INTERNAL_DETAIL = 'The request could not be completed because of an internal error.';

/** `urn:tether:problem:validation-failed` for `VALIDATION_FAILED`. */
export function problemType(code: ApiErrorCode): string {
  return `urn:tether:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

/**
 * The error as an {@link ApiError}: itself; a domain error whose `code` is an API code and
 * whose `expose` is not false (e.g. `LinkNotFoundError`, with its message as detail, and its
 * `errors` as the problem's fields); else INTERNAL with a generic detail.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) {
    return err.expose || err.code === 'AWS_UNAVAILABLE'
      ? err
      : new ApiError('INTERNAL', GENERIC_INTERNAL_DETAIL);
  }
  const unavailable = awsUnavailable(err);
  if (unavailable) return unavailable;
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; expose?: unknown; message?: unknown; errors?: unknown };
    if (isApiErrorCode(e.code) && e.expose !== false && API_ERROR_CODES[e.code].status < 500) {
      const detail = typeof e.message === 'string' && e.message !== '' ? e.message : undefined;
      // The fields a domain error names (`InvalidRequestError`, …), as problems of the body.
      const errors = Array.isArray(e.errors)
        ? (e.errors as { path: string; message: string }[]).map(
            ({ path, message }): FieldError => ({ path, in: 'body', message }),
          )
        : undefined;
      return new ApiError(e.code, detail, { cause: err, ...(errors ? { errors } : {}) });
    }
  }
  return new ApiError('INTERNAL', GENERIC_INTERNAL_DETAIL, { cause: err });
}

/** Seconds a client waits before retrying a request AWS throttled (`Retry-After`). */
export const AWS_RETRY_AFTER_SECONDS = 2;

/**
 * AWS throttling, or a transient AWS failure, that outlasted the SDK's own retries: 503
 * AWS_UNAVAILABLE with `Retry-After`, naming the call (service:operation) but nothing of the
 * error's text. A retry is safe: with the same Idempotency-Key it completes the same request.
 */
function awsUnavailable(err: unknown): ApiError | undefined {
  // Only what an AWS SDK client answered (it carries `$metadata`), or a step's classification of it.
  const fromAws =
    err instanceof ThrottledError ||
    err instanceof TransientAwsError ||
    (typeof err === 'object' && err !== null && '$metadata' in err);
  if (!fromAws) return undefined;
  const classified = classifyAwsError(err);
  if (!(classified instanceof ThrottledError || classified instanceof TransientAwsError)) return undefined;
  const site = callSiteOf(err);
  const call = site ? `${site.service}:${site.operation}` : 'an AWS call';
  return new ApiError(
    'AWS_UNAVAILABLE',
    `AWS is throttling or briefly failing ${call}, which this request needs; retry after ${AWS_RETRY_AFTER_SECONDS} seconds (with the same Idempotency-Key, the retry completes this request)`,
    { headers: { 'retry-after': String(AWS_RETRY_AFTER_SECONDS) }, cause: err },
  );
}

/** Turns any error into an `application/problem+json` response. */
export function problemResponse(
  err: unknown,
  instance?: string,
  context: { readonly requestId?: string } = {},
): APIGatewayProxyStructuredResultV2 {
  const apiError = toApiError(err);
  const extensions = Object.fromEntries(
    Object.entries(apiError.extensions ?? {}).filter(([name]) => !RESERVED_MEMBERS.has(name)),
  );
  const body: ProblemDocument = {
    ...extensions,
    type: problemType(apiError.code),
    title: apiError.title,
    status: apiError.status,
    detail: apiError.detail,
    ...(instance === undefined ? {} : { instance }),
    code: apiError.code,
    ...(context.requestId === undefined ? {} : { requestId: context.requestId }),
    ...(apiError.errors === undefined ? {} : { errors: apiError.errors }),
  };
  return {
    statusCode: apiError.status,
    headers: {
      ...lowerCaseKeys(apiError.headers ?? {}),
      'content-type': PROBLEM_CONTENT_TYPE,
      'cache-control': 'no-store',
    },
    body: JSON.stringify(body),
  };
}

function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

export interface HttpProblemsOptions {
  /** Where unexpected (5xx) errors are logged with their cause; `console` by default. */
  readonly logger?: { error(message: string, ...details: unknown[]): void };
}

/** The one `onError` middleware of the API: every error becomes a problem response. */
export function httpProblems(
  options: HttpProblemsOptions = {},
): middy.MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyResultV2> {
  const logger = options.logger ?? console;
  return {
    name: 'httpProblems',
    onError: (request) => {
      const event = request.event as APIGatewayProxyEventV2 | undefined;
      const response = problemResponse(request.error, event?.rawPath, {
        ...(event?.requestContext?.requestId === undefined
          ? {}
          : { requestId: event.requestContext.requestId }),
      });
      if (response.statusCode === 503) {
        logger.error('AWS throttled or failed a call past its retries (answered 503)', request.error);
      } else if (response.statusCode !== undefined && response.statusCode >= 500) {
        logger.error('Unexpected error while handling an API request', request.error);
      }
      request.response = response;
    },
  };
}
