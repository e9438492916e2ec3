/**
 * AWS error classification: what an SDK error means for a step. Throttling becomes
 * {@link ThrottledError} and transient failures {@link TransientAwsError}, so the ASL's
 * Retry sees one name for each kind; anything else is left as it is.
 */
import { ThrottledError, TetherError, TransientAwsError } from '#link/errors';

const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'ProvisionedThroughputExceededException',
  'RequestThrottled',
]);

/** The AWS error code of an SDK error (`name` for modeled errors, `Code` otherwise). */
export function awsErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { name?: unknown; Code?: unknown; code?: unknown };
  if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
  if (typeof e.Code === 'string') return e.Code;
  return undefined;
}

/** True when the error is an AWS error with one of these codes (with or without the SDK's `Exception` suffix). */
export function isAwsError(err: unknown, ...codes: string[]): boolean {
  const code = awsErrorCode(err);
  if (code === undefined) return false;
  return codes.some((c) => code === c || code === `${c}Exception` || `${code}Exception` === c);
}

const TRANSIENT_CODES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalError',
  'InternalServerError',
  'ServerException',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
]);

/**
 * Maps AWS throttling to {@link ThrottledError} and transient failures (5xx, timeouts,
 * dropped connections) to {@link TransientAwsError}, so one `ErrorEquals` retries each kind.
 */
export function classifyAwsError(err: unknown): unknown {
  if (err instanceof TetherError) return err;
  const code = awsErrorCode(err);
  if (code !== undefined && THROTTLING_CODES.has(code)) {
    return new ThrottledError(`AWS throttled the call (${code})`, { cause: err });
  }
  const e = err as { code?: unknown; $fault?: unknown; $metadata?: { httpStatusCode?: number } };
  const networkCode = typeof e?.code === 'string' ? e.code : undefined;
  if (
    (code !== undefined && TRANSIENT_CODES.has(code)) ||
    (networkCode !== undefined && TRANSIENT_CODES.has(networkCode)) ||
    (e?.$fault === 'server' && (e.$metadata?.httpStatusCode ?? 500) >= 500)
  ) {
    return new TransientAwsError(
      `AWS call failed transiently (${code ?? networkCode}): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return err;
}
