/**
 * AWS error classification: what an SDK error means for a step. Every AWS error a step can
 * meet gets a stable outcome (docs/architecture.md#retries):
 *
 * - retried: throttling ({@link ThrottledError}) and transient failures
 *   ({@link TransientAwsError}), both as the SDK itself classifies them
 *   (`@smithy/core/retry`: HTTP 429, the throttling codes, `$retryable`, 5xx, timeouts,
 *   dropped connections); IAM's `ConcurrentModification` ({@link ConcurrentUpdateError});
 *   IAM's `EntityTemporarilyUnmodifiable` and EKS's `ResourcePropagationDelayException`
 *   ({@link NotYetPropagatedError});
 * - ended with a code a user can act on: quotas (`QUOTA_EXCEEDED`), a refused permission of
 *   the agent role (`AGENT_NOT_AUTHORIZED`, naming the action), a security group that is
 *   gone (`SECURITY_GROUP_NOT_FOUND`), a cluster that is gone (`CLUSTER_NOT_FOUND`),
 *   credentials the account does not accept (`ACCOUNT_NOT_REACHABLE`).
 *
 * Anything else is left as it is and ends as `INTERNAL`: Tether sent a request AWS refuses,
 * which is a bug. The link's error keeps the AWS code and request id either way
 * ({@link awsErrorDetails}).
 */
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import {
  AccountNotReachableError,
  AgentNotAuthorizedError,
  ClusterNotFoundError,
  ConcurrentUpdateError,
  NotYetPropagatedError,
  QuotaExceededError,
  SecurityGroupNotFoundError,
  TetherError,
  ThrottledError,
  TransientAwsError,
} from '#link/errors';

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

/** Where an AWS call was made: recorded by the client factory on every error a member-account call throws. */
export interface CallSite {
  /** The IAM action prefix of the service: `iam`, `sts`, `eks`, `ec2`, `s3`. */
  readonly service: string;
  /** The API operation, e.g. `CreateRole`. */
  readonly operation: string;
  readonly accountId: string;
  readonly region: string;
}

const callSites = new WeakMap<object, CallSite>();

/** Remembers where `err` came from (the client factory's middleware calls it). */
export function recordCallSite(err: unknown, site: CallSite): void {
  if (typeof err === 'object' && err !== null && !callSites.has(err)) callSites.set(err, site);
}

/** Where `err` (or an error it wraps) came from, if a client of the factory threw it. */
export function callSiteOf(err: unknown): CallSite | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 10; depth++) {
    const site = callSites.get(e);
    if (site) return site;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The AWS code and request id of an AWS error, or of the AWS error a Tether error wraps. */
export function awsErrorDetails(err: unknown): { awsCode?: string; awsRequestId?: string } {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 10; depth++) {
    const metadata = (e as { $metadata?: { requestId?: string } }).$metadata;
    if (metadata !== undefined) {
      const awsCode = awsErrorCode(e);
      return {
        ...(awsCode ? { awsCode } : {}),
        ...(metadata.requestId ? { awsRequestId: metadata.requestId } : {}),
      };
    }
    e = (e as { cause?: unknown }).cause;
  }
  return {};
}

/**
 * Quota errors. IAM's `LimitExceeded` reaches the SDK as `LimitExceededException`, a name
 * the SDK's throttling list also holds (for other services): for IAM it is a quota
 * (docs/aws-facts.md#iam-quotas), so quotas are read first. EC2 names its quotas
 * `<Thing>LimitExceeded`, except `RequestLimitExceeded`, which is throttling.
 */
function isQuotaError(code: string): boolean {
  if (code === 'RequestLimitExceeded') return false;
  return (
    code === 'LimitExceeded' ||
    code === 'LimitExceededException' ||
    code === 'ResourceLimitExceededException' ||
    code === 'ServiceQuotaExceededException' ||
    /LimitExceeded$/.test(code)
  );
}

/** Refusals for want of permission, in each service's spelling. */
function isNotAuthorized(code: string): boolean {
  return /^AccessDenied/.test(code) || code === 'UnauthorizedOperation' || code === 'Forbidden';
}

/** The credentials of the agent role's session are not accepted at all: the account is not reachable as it should be. */
const CREDENTIALS_REFUSED = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'AuthFailure',
  'OptInRequired',
]);

/** The session expired between the credential check and the call: the next attempt refreshes it. */
const CREDENTIALS_EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired']);

/**
 * Maps an AWS error to the Tether error that says what it means for the link (see the module
 * comment); returns anything else as it is.
 *
 * @example
 * classifyAwsError(iamThrottling) instanceof ThrottledError; // true
 */
export function classifyAwsError(err: unknown): unknown {
  if (err instanceof TetherError || typeof err !== 'object' || err === null) return err;
  const code = awsErrorCode(err) ?? (err as { code?: unknown }).code;
  const site = callSiteOf(err);
  const action = site ? `${site.service}:${site.operation}` : 'an AWS call';
  const where = site ? ` in ${site.accountId}` : '';
  const message = (err as Error).message;
  const what = `${action}${where} (${typeof code === 'string' ? code : 'no AWS code'}): ${message}`;
  const options = { cause: err };
  const sdkError = err as Parameters<typeof isThrottlingError>[0];
  if (typeof code === 'string' && isQuotaError(code)) {
    return new QuotaExceededError(`An AWS quota was reached: ${what}`, options);
  }
  if (isThrottlingError(sdkError)) return new ThrottledError(`AWS throttled ${what}`, options);
  if (code === 'ConcurrentModification' || code === 'ConcurrentModificationException') {
    return new ConcurrentUpdateError(`IAM refused a concurrent change: ${what}`, options);
  }
  if (
    code === 'EntityTemporarilyUnmodifiable' ||
    code === 'EntityTemporarilyUnmodifiableException' ||
    code === 'ResourcePropagationDelayException'
  ) {
    return new NotYetPropagatedError(`AWS has not settled the change yet: ${what}`, options);
  }
  if (
    isTransientError(sdkError) ||
    isServerError(sdkError) ||
    (typeof code === 'string' && CREDENTIALS_EXPIRED.has(code))
  ) {
    return new TransientAwsError(`AWS failed transiently: ${what}`, options);
  }
  if (typeof code !== 'string') return err;
  if (isNotAuthorized(code)) {
    return new AgentNotAuthorizedError(
      `Tether's agent role${where} may not call ${action} (${code}); grant it that action: ${message}`,
      options,
    );
  }
  if (code === 'InvalidGroup.NotFound') {
    return new SecurityGroupNotFoundError(`The target's security group is gone: ${what}`, options);
  }
  if (CREDENTIALS_REFUSED.has(code)) {
    return new AccountNotReachableError(`The account refused Tether's credentials: ${what}`, options);
  }
  if (
    site?.service === 'eks' &&
    code === 'ResourceNotFoundException' &&
    /cluster/i.test(message) &&
    !/principal/i.test(message)
  ) {
    return new ClusterNotFoundError(`The EKS cluster is gone: ${what}`, options);
  }
  return err;
}
