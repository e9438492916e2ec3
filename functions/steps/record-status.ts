/**
 * The bookkeeping tasks of the workflows: start (→ PROVISIONING, with the execution that
 * drives the link), finish (→ ACTIVE) and fail (→ FAILED with a stable code). Idempotent: a
 * re-run that finds the link already there changes nothing.
 */
import { LinkStateError, STEP_ERROR_NAMES } from '../commons/errors';
import { canTransition } from '../commons/links/repository';
import type { LinkStatus } from '../commons/links/model';
import { runtime } from '../commons/runtime';
import { stepHandler } from '../commons/step';

export interface StartEvent {
  readonly linkId: string;
  readonly execution: { readonly name: string; readonly arn: string };
}

/** PENDING | FAILED | ACTIVE → PROVISIONING. */
export async function startProvisioning(event: StartEvent) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  const from: readonly LinkStatus[] = ['PENDING', 'PROVISIONING', 'FAILED', 'ACTIVE', 'DEGRADED'];
  if (!from.includes(link.status)) {
    throw new LinkStateError(`Link ${link.id} is ${link.status}; it cannot be onboarded now`);
  }
  const fresh = link.lastExecution?.name !== event.execution.name;
  const updated = await rt.links.transition(link.id, 'PROVISIONING', rt.now().toISOString(), {
    error: null,
    ...(fresh
      ? {
          lastExecution: { ...event.execution, workflow: 'onboard' },
          resetSteps: link.status !== 'PROVISIONING',
        }
      : {}),
  });
  return { linkId: updated.id, status: updated.status };
}

/** ACTIVE | FAILED | DEGRADED | DELETING → DELETING, with the execution; the kubeconfig output goes first. */
export async function startDeleting(event: StartEvent) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  if (link.status !== 'DELETING' && !canTransition(link.status, 'DELETING')) {
    throw new LinkStateError(`Link ${link.id} is ${link.status}; it cannot be offboarded now`);
  }
  const { kubeconfig: _dropped, ...outputs } = link.outputs;
  const updated = await rt.links.transition(link.id, 'DELETING', rt.now().toISOString(), {
    outputs,
    ...(link.lastExecution?.name !== event.execution.name
      ? { lastExecution: { ...event.execution, workflow: 'offboard' } }
      : {}),
  });
  return { linkId: updated.id, status: updated.status };
}

/** DELETING → DELETED (kept with a TTL); the workload → target pair may be linked again. */
export async function finishOffboard(event: { linkId: string }) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  const updated =
    link.status === 'DELETED'
      ? link
      : await rt.links.transition(link.id, 'DELETED', rt.now().toISOString(), { error: null });
  await rt.links.releaseNaturalKey(link.spec, link.id);
  return { linkId: updated.id, status: updated.status };
}

/** PROVISIONING → ACTIVE. */
export async function finishOnboard(event: { linkId: string }) {
  const rt = runtime();
  const link = await rt.links.transition(event.linkId, 'ACTIVE', rt.now().toISOString(), { error: null });
  return { linkId: link.id, status: link.status };
}

export interface FailureEvent {
  readonly linkId: string;
  /** What the ASL's Catch put at ResultPath: `{ Error, Cause }`. */
  readonly failure: { readonly Error: string; readonly Cause?: string };
}

/** Stable codes of the step errors (by error name), for the link record and the API. */
const CODES: Record<string, string> = {
  ThrottledError: 'THROTTLED',
  TransientAwsError: 'AWS_UNAVAILABLE',
  NotYetPropagatedError: 'NOT_YET_PROPAGATED',
  ConcurrentUpdateError: 'CONCURRENT_UPDATE',
  ConflictUnmanagedResourceError: 'CONFLICT_UNMANAGED_RESOURCE',
  ClusterNotFoundError: 'CLUSTER_NOT_FOUND',
  AccountNotReachableError: 'ACCOUNT_NOT_REACHABLE',
  QuotaExceededError: 'QUOTA_EXCEEDED',
  UnsupportedClusterError: 'UNSUPPORTED_CLUSTER',
  LinkStateError: 'LINK_STATE_CONFLICT',
  LinkNotFoundError: 'LINK_NOT_FOUND',
  VerificationFailedError: 'VERIFICATION_FAILED',
  KubernetesApiUnreachableError: 'KUBERNETES_API_UNREACHABLE',
  'States.Timeout': 'STEP_TIMED_OUT',
};

/** The message inside a Step Functions `Cause`: Lambda wraps it as JSON `{ errorMessage, … }`. */
export function causeMessage(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}

/** → FAILED with the error of the step that failed. */
export async function recordFailure(event: FailureEvent) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  // The step that failed; a RUNNING one only if none failed (a timed-out task stays RUNNING).
  const steps = Object.entries(link.steps);
  const failedStep = (steps.find(([, s]) => s?.status === 'FAILED') ??
    steps.find(([, s]) => s?.status === 'RUNNING'))?.[0];
  const known =
    (STEP_ERROR_NAMES as readonly string[]).includes(event.failure.Error) || event.failure.Error in CODES;
  const error = {
    code: CODES[event.failure.Error] ?? 'INTERNAL',
    // An unexpected error's message may hold internals: keep it out of the record.
    message: known
      ? causeMessage(event.failure.Cause)
      : `Unexpected ${event.failure.Error}; see the execution history`,
    ...(failedStep ? { step: failedStep } : {}),
  };
  if (link.status === 'FAILED') return { linkId: link.id, status: link.status, error: link.error };
  const updated = await rt.links.transition(link.id, 'FAILED', rt.now().toISOString(), { error });
  return { linkId: updated.id, status: updated.status, error };
}

export const startHandler = stepHandler((e: StartEvent) => startProvisioning(e));
export const startDeletingHandler = stepHandler((e: StartEvent) => startDeleting(e));
export const finishOffboardHandler = stepHandler((e: { linkId: string }) => finishOffboard(e));
export const finishHandler = stepHandler((e: { linkId: string }) => finishOnboard(e));
export const failureHandler = stepHandler((e: FailureEvent) => recordFailure(e));
