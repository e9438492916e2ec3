/**
 * Every status rule of a link, in one place: which status may follow which, and which
 * statuses each operation and workflow accepts. The store enforces {@link canTransition}
 * on every write; the API and the workflow steps ask the named sets below, never a list
 * of their own.
 *
 * ```
 * AWAITING_APPROVAL → PENDING | REJECTED (kept with a TTL)   (an approver decides)
 * PENDING → PROVISIONING → ACTIVE | FAILED
 * FAILED → PENDING, PENDING → PENDING   (queued for a new run: the version names the run)
 * ACTIVE → RECONCILING → ACTIVE | DEGRADED
 * any live status → DELETING → DELETED (kept with a TTL)
 * ```
 */
import type { LinkStatus } from './model';

/** Which statuses a link may move to from which. */
const TRANSITIONS: Record<LinkStatus, readonly LinkStatus[]> = {
  // PENDING → PENDING: queued again at the next version when its run stopped before taking it.
  PENDING: ['PENDING', 'PROVISIONING', 'FAILED', 'DELETING'],
  PROVISIONING: ['PROVISIONING', 'ACTIVE', 'FAILED', 'DELETING'],
  ACTIVE: ['RECONCILING', 'DELETING', 'PROVISIONING'],
  // FAILED → PENDING: re-driven by `POST /links` (one run per version, see `onboardExecutionName`).
  FAILED: ['PENDING', 'PROVISIONING', 'DELETING'],
  RECONCILING: ['ACTIVE', 'DEGRADED', 'DELETING'],
  DEGRADED: ['RECONCILING', 'ACTIVE', 'DELETING', 'PROVISIONING'],
  DELETING: ['DELETING', 'DELETED', 'FAILED'],
  DELETED: [],
  // Nothing is made while a request waits: approval queues it (PENDING), rejection ends it,
  // and the requester may withdraw it (DELETING runs an offboard that finds nothing).
  AWAITING_APPROVAL: ['PENDING', 'REJECTED', 'DELETING'],
  REJECTED: [],
};

/**
 * Whether a link may move from one status to another.
 *
 * @example
 * canTransition('ACTIVE', 'DELETING'); // true
 * canTransition('DELETED', 'ACTIVE'); // false
 */
export function canTransition(from: LinkStatus, to: LinkStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** A named set of statuses, with a membership test that narrows nothing and reads well. */
function statusSet(...statuses: LinkStatus[]) {
  const set = new Set<LinkStatus>(statuses);
  return { statuses: [...set] as readonly LinkStatus[], has: (s: LinkStatus) => set.has(s) };
}

/**
 * A link that is gone: readable until its TTL, but no longer live for its workload → target —
 * DELETED, or REJECTED by an approver before anything was made.
 */
export const isDeleted = (status: LinkStatus): boolean => status === 'DELETED' || status === 'REJECTED';

/** Statuses in which a link waits for an approver (`POST /links/{id}/approval`); nothing is made. */
export const AWAITING_APPROVER = statusSet('AWAITING_APPROVAL');

/** Statuses in which `POST /links` drives an existing link again rather than only returning it. */
export const REDRIVABLE = statusSet('PENDING', 'FAILED');

/** Statuses whose kubeconfig is served: the link was made (and may be under repair). */
export const SERVES_KUBECONFIG = statusSet('ACTIVE', 'RECONCILING', 'DEGRADED');

/** Statuses from which a link may be offboarded; a link being made or repaired must finish first. */
export const DELETABLE = statusSet('ACTIVE', 'FAILED', 'DEGRADED', 'DELETING', 'AWAITING_APPROVAL');

/** Statuses from which a link may be reconciled (its ensures run again against what is there). */
export const RECONCILABLE = statusSet('ACTIVE', 'DEGRADED', 'FAILED');

/** Statuses from which the onboard workflow's first step may take a link (re-runs included). */
export const ONBOARDABLE = statusSet('PENDING', 'PROVISIONING', 'FAILED', 'ACTIVE', 'DEGRADED');

/** Statuses a restarted local runtime drives again, by the workflow that drives them. */
export const UNFINISHED = {
  onboard: statusSet('PENDING', 'PROVISIONING'),
  offboard: statusSet('DELETING'),
} as const;

/** Statuses in which a link is still being made or removed: a caller waiting for it keeps waiting. */
export const IN_PROGRESS = statusSet('PENDING', 'PROVISIONING', 'RECONCILING', 'DELETING');

/** Statuses in which a step of each workflow may run. */
export const STEP_RUNNABLE = {
  onboard: statusSet('PROVISIONING'),
  // Removal steps run to offboard (DELETING) and to compensate a failed onboard (FAILED).
  offboard: statusSet('DELETING', 'FAILED'),
} as const;

/** The workflows that drive a link's steps. */
export type StepWorkflow = keyof typeof STEP_RUNNABLE;
