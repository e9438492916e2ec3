/**
 * The errors Tether's step handlers throw. Their `name` is what the ASL's `ErrorEquals`
 * matches (in AWS, Lambda reports `error.name` as the `errorType`), and `code` is the
 * stable code a FAILED link and the API show. `test/unit/asl.test.ts` checks that every
 * `ErrorEquals` in `statemachines/*.asl.json` is a `States.*` name or in
 * {@link STEP_ERROR_NAMES}.
 */

/** Base class: a stable `code` and the original `cause`. */
export abstract class TetherError extends Error {
  abstract readonly code: string;
  /** Whether the API may show the message to the caller. */
  readonly expose: boolean = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** AWS throttled the call (IAM/STS `Throttling`, EKS `TooManyRequestsException`, EC2 `RequestLimitExceeded`, …); retried with backoff. */
export class ThrottledError extends TetherError {
  override readonly name = 'ThrottledError';
  readonly code = 'THROTTLED';
}

/** AWS or the network failed in a way that may pass (5xx, timeout, reset connection); retried with backoff. */
export class TransientAwsError extends TetherError {
  override readonly name = 'TransientAwsError';
  readonly code = 'AWS_UNAVAILABLE';
}

/**
 * A principal Tether just made is not yet visible to the service that needs it (IAM
 * eventual consistency, docs/aws-facts.md#iam-eventual-consistency): retried with backoff for up to about two minutes.
 */
export class NotYetPropagatedError extends TetherError {
  override readonly name = 'NotYetPropagatedError';
  readonly code = 'NOT_YET_PROPAGATED';
}

/** Another writer changed the same item or resource first (version mismatch); retried. */
export class ConcurrentUpdateError extends TetherError {
  override readonly name = 'ConcurrentUpdateError';
  readonly code = 'CONCURRENT_UPDATE';
}

/** A resource Tether would make or change exists and is not Tether's (docs/architecture.md#ownership). */
export class ConflictUnmanagedResourceError extends TetherError {
  override readonly name = 'ConflictUnmanagedResourceError';
  readonly code = 'CONFLICT_UNMANAGED_RESOURCE';
  constructor(
    readonly resource: string,
    message: string,
  ) {
    super(message);
  }
}

/** A cluster named by the link does not exist in its account and region. */
export class ClusterNotFoundError extends TetherError {
  override readonly name = 'ClusterNotFoundError';
  readonly code = 'CLUSTER_NOT_FOUND';
}

/** The control plane could not act in a member account (no agent role, or it may not be assumed). */
export class AccountNotReachableError extends TetherError {
  override readonly name = 'AccountNotReachableError';
  readonly code = 'ACCOUNT_NOT_REACHABLE';
}

/** An AWS quota would be exceeded (trust policy size, rules per security group, …). */
export class QuotaExceededError extends TetherError {
  override readonly name = 'QuotaExceededError';
  readonly code = 'QUOTA_EXCEEDED';
}

/** The cluster cannot take the link as asked (e.g. no OIDC issuer for `irsa`). */
export class UnsupportedClusterError extends TetherError {
  override readonly name = 'UnsupportedClusterError';
  readonly code = 'UNSUPPORTED_CLUSTER';
}

/** The link is not in a state that allows this step (e.g. it is being deleted). */
export class LinkStateError extends TetherError {
  override readonly name = 'LinkStateError';
  readonly code = 'LINK_STATE_CONFLICT';
}

/** The target cluster's Kubernetes API cannot be reached (aws-auth clusters only). */
export class KubernetesApiUnreachableError extends TetherError {
  override readonly name = 'KubernetesApiUnreachableError';
  readonly code = 'KUBERNETES_API_UNREACHABLE';
}

/** The link record does not exist. */
export class LinkNotFoundError extends TetherError {
  override readonly name = 'LinkNotFoundError';
  readonly code = 'LINK_NOT_FOUND';
}

/**
 * AWS refused a call for want of permission (IAM/STS `AccessDenied`, EKS
 * `AccessDeniedException`, EC2 `UnauthorizedOperation`): the agent role of the member
 * account lacks the action the message names.
 */
export class AgentNotAuthorizedError extends TetherError {
  override readonly name = 'AgentNotAuthorizedError';
  readonly code = 'AGENT_NOT_AUTHORIZED';
}

/** The target's Kubernetes API refused Tether's agent role (401 or 403). */
export class KubernetesAccessDeniedError extends TetherError {
  override readonly name = 'KubernetesAccessDeniedError';
  readonly code = 'KUBERNETES_ACCESS_DENIED';
}

/** The security group the link's allowance goes on no longer exists (EC2 `InvalidGroup.NotFound`). */
export class SecurityGroupNotFoundError extends TetherError {
  override readonly name = 'SecurityGroupNotFoundError';
  readonly code = 'SECURITY_GROUP_NOT_FOUND';
}

/**
 * The target's endpoint cannot be reached from the link's source addresses, whatever Tether
 * writes: NAT public IPs (or public CIDRs) and a cluster whose public endpoint is disabled,
 * or private CIDRs and a cluster whose private endpoint is disabled
 * (docs/aws-facts.md#cluster-security-group-and-public-endpoint). Connectivity through
 * peering or a Transit Gateway, which Tether does not make, is asked for with network `none`.
 */
export class EndpointNotReachableError extends TetherError {
  override readonly name = 'EndpointNotReachableError';
  readonly code = 'ENDPOINT_NOT_REACHABLE';
}

/**
 * A NAT gateway of the source VPC is still pending (CreateNatGateway is asynchronous,
 * docs/aws-facts.md#nat-gateway-change-events): its IPs are read once it settles. Retried.
 */
export class NatGatewaysPendingError extends TetherError {
  override readonly name = 'NatGatewaysPendingError';
  readonly code = 'NAT_GATEWAYS_PENDING';
}

/** Verification read back the policies in place and the role chain does not hold. */
export class VerificationFailedError extends TetherError {
  override readonly name = 'VerificationFailedError';
  readonly code = 'VERIFICATION_FAILED';
}

/**
 * Verification found the source side (OIDC provider, workload role) not as Tether wants it,
 * in a run whose source steps left its reading to verify because an earlier run had
 * confirmed it. Not a failure of the link: the ASL then runs the source steps again, reading
 * (`Confirm: ensure …`), and verifies again (docs/architecture.md#a-further-link-of-a-workload).
 */
export class SourceSideChangedError extends TetherError {
  override readonly name = 'SourceSideChangedError';
  readonly code = 'SOURCE_SIDE_CHANGED';
}

/** A request asks for an existing link (same workload → target) with another spec: a request never changes a link silently. */
export class LinkSpecMismatchError extends TetherError {
  override readonly name = 'LinkSpecMismatchError';
  readonly code = 'LINK_SPEC_MISMATCH';
}

/** A field of a request and what is wrong with it (a JSON Pointer into the body). */
export interface FieldProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * A request breaks a rule of the API (`guardrails.ts`; the schema states the same): nothing
 * is read or made. The API answers it as VALIDATION_FAILED with `errors`.
 */
export class InvalidRequestError extends TetherError {
  override readonly name = 'InvalidRequestError';
  readonly code = 'VALIDATION_FAILED';
  constructor(
    message: string,
    readonly errors: readonly FieldProblem[],
  ) {
    super(message);
  }
}

/** A request names a Region of a partition Tether does not work in (`regions.ts`): nothing is made. */
export class PartitionUnsupportedError extends TetherError {
  override readonly name = 'PartitionUnsupportedError';
  readonly code = 'PARTITION_UNSUPPORTED';
  constructor(
    message: string,
    readonly errors: readonly FieldProblem[],
  ) {
    super(message);
  }
}

/** A managed policy a link asks for on its target role does not exist, or IAM refuses to attach it. */
export class PolicyNotAttachableError extends TetherError {
  override readonly name = 'PolicyNotAttachableError';
  readonly code = 'POLICY_NOT_ATTACHABLE';
}

/**
 * Every error a step handler throws on purpose, declared once. Their names are what the
 * ASL's `ErrorEquals` may match (besides `States.*` and the Lambda service errors), and
 * their codes are what a FAILED link shows: both are derived from this list.
 */
export const STEP_ERRORS = [
  ThrottledError,
  TransientAwsError,
  NotYetPropagatedError,
  ConcurrentUpdateError,
  ConflictUnmanagedResourceError,
  ClusterNotFoundError,
  AccountNotReachableError,
  QuotaExceededError,
  UnsupportedClusterError,
  LinkStateError,
  LinkNotFoundError,
  VerificationFailedError,
  SourceSideChangedError,
  KubernetesApiUnreachableError,
  AgentNotAuthorizedError,
  KubernetesAccessDeniedError,
  SecurityGroupNotFoundError,
  EndpointNotReachableError,
  NatGatewaysPendingError,
  PolicyNotAttachableError,
] as const;

/** The `name` and `code` of each step error, read off an instance (they are instance fields). */
const STEP_ERROR_CODE_BY_NAME: ReadonlyMap<string, string> = new Map(
  STEP_ERRORS.map((ErrorClass) => {
    const sample = new (ErrorClass as unknown as new (message: string) => TetherError)('');
    return [sample.name, sample.code];
  }),
);

/** Every error name a step handler throws on purpose; the ASL may match only these and `States.*`. */
export const STEP_ERROR_NAMES: readonly string[] = [...STEP_ERROR_CODE_BY_NAME.keys()];

/**
 * The stable code of an error the ASL caught, by its name: a step error's own code,
 * `STEP_TIMED_OUT` for a task timeout, undefined for anything else (a bug: INTERNAL).
 *
 * @example
 * stepErrorCode('NotYetPropagatedError'); // 'NOT_YET_PROPAGATED'
 */
export function stepErrorCode(errorName: string): string | undefined {
  if (errorName === 'States.Timeout') return 'STEP_TIMED_OUT';
  return STEP_ERROR_CODE_BY_NAME.get(errorName);
}

/** The stable code of any error: Tether's own, or INTERNAL. */
export function errorCode(err: unknown): string {
  if (err instanceof TetherError) return err.code;
  return 'INTERNAL';
}

/** Lambda service errors Step Functions reports for a failed invoke (retried in the ASL). */
export const LAMBDA_SERVICE_ERROR_NAMES = [
  'Lambda.TooManyRequestsException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
] as const;
