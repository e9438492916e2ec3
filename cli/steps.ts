/**
 * The steps a link records (`link.steps.<key>`), as the CLI names and summarises them. The
 * labels are the ASL state names (docs/architecture.md#step-names), so the CLI, the API and
 * the Step Functions console tell one story.
 */
import { OFFBOARD_STEPS, ONBOARD_STEPS } from '#link/model';

export { OFFBOARD_STEPS, ONBOARD_STEPS };

/** Record key → ASL state name. */
export const STEP_LABELS: Readonly<Record<string, string>> = {
  resolve: 'Resolve clusters and NAT IPs',
  oidcProvider: 'Ensure OIDC provider',
  workloadRole: 'Ensure workload role',
  podIdentityAssociation: 'Ensure Pod Identity association',
  targetRole: 'Ensure target role',
  accessEntry: 'Ensure access entry',
  egress: 'Ensure egress allowance',
  kubeconfig: 'Render kubeconfig',
  verify: 'Verify role chain',
  revokeEgress: 'Revoke egress allowance',
  removeAccessEntry: 'Remove access entry',
  removeTargetRole: 'Remove target role',
  removePodIdentityAssociation: 'Remove Pod Identity association',
  releaseWorkloadRole: 'Release workload role',
  releaseOidcProvider: 'Release OIDC provider',
};

/** The workflows a CLI command waits on, and the steps each records, in the order they run. */
export type Workflow = 'onboard' | 'offboard';

export const WORKFLOW_STEPS: Readonly<Record<Workflow, readonly string[]>> = {
  onboard: ONBOARD_STEPS,
  offboard: OFFBOARD_STEPS,
};

/** A step's label; a removal step run by a failed onboard is its compensation ("Undo: …"). */
export function stepLabel(key: string, workflow?: Workflow): string {
  const label = STEP_LABELS[key] ?? key;
  if (workflow === 'onboard' && (OFFBOARD_STEPS as readonly string[]).includes(key)) {
    return `Undo: ${label.charAt(0).toLowerCase()}${label.slice(1)}`;
  }
  return label;
}

/** Every step key of a link in run order: the known ones first, then any other the API adds. */
export function orderedStepKeys(steps: Record<string, unknown>): string[] {
  const known = [...ONBOARD_STEPS, ...OFFBOARD_STEPS] as string[];
  return [
    ...known.filter((k) => k in steps),
    ...Object.keys(steps)
      .filter((k) => !known.includes(k))
      .sort(),
  ];
}

/** One step record as the API returns it (`StepResult` in api/openapi.yaml). */
export interface StepRecord {
  readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly attempts?: number;
  readonly result?: Record<string, any>;
  readonly error?: { readonly code: string; readonly message: string };
}

export function stepDurationMs(step: StepRecord): number | undefined {
  if (!step.startedAt || !step.endedAt) return undefined;
  const ms = Date.parse(step.endedAt) - Date.parse(step.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** `94 ms`, `1.2 s`, `2m03s`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * One line of what a step did: its `action` (created, unchanged, updated, deleted, kept, …)
 * and the few facts that matter for that step.
 */
export function summarizeResult(key: string, result: Record<string, any> | undefined): string {
  if (!result) return '';
  if (Array.isArray(result.hops)) {
    const hops = result.hops as { ok?: boolean }[];
    return `${hops.filter((h) => h.ok).length}/${hops.length} hops hold`;
  }
  if (key === 'resolve' || Array.isArray(result.natIps)) {
    const parts = [];
    if (Array.isArray(result.natIps)) parts.push(plural(count(result.natIps), 'NAT IP'));
    if (result.targetAuthenticationMode) parts.push(`target ${result.targetAuthenticationMode}`);
    if (result.targetSecurityGroupId) parts.push(String(result.targetSecurityGroupId));
    return parts.join(', ');
  }
  if (Array.isArray(result.rules)) {
    const actions = new Map<string, number>();
    for (const r of result.rules as { action?: string }[]) {
      actions.set(r.action ?? '?', (actions.get(r.action ?? '?') ?? 0) + 1);
    }
    if (!actions.size) return 'no rules';
    return [...actions].map(([a, n]) => `${a} ${plural(n, 'rule')}`).join(', ');
  }
  const parts: string[] = [];
  if (typeof result.action === 'string') parts.push(result.action);
  // The egress allowance: where it takes effect, and what it added there.
  const publicAccess = result.publicAccess as { added?: unknown; unchanged?: unknown } | undefined;
  if (publicAccess) {
    parts.push(
      `(publicAccessCidrs: ${count(publicAccess.added)} added, ${count(publicAccess.unchanged)} unchanged${
        count(result.released) ? `, ${count(result.released)} released` : ''
      })`,
    );
  } else if (Array.isArray(result.created) || Array.isArray(result.unchanged)) {
    const detail = [`${count(result.created)} added`, `${count(result.unchanged)} unchanged`];
    if (count(result.released)) detail.push(`${count(result.released)} released`);
    parts.push(`(${detail.join(', ')})`);
  } else if (typeof result.effectiveAt === 'string' && result.effectiveAt === 'nothing-to-allow') {
    parts.push('(nothing to allow)');
  } else if (Array.isArray(result.changes) && result.changes.length) {
    parts.push(`(${result.changes.join(', ')})`);
  }
  if (typeof result.remainingLinks === 'number' && result.remainingLinks > 0) {
    parts.push(`(${plural(result.remainingLinks, 'other link')})`);
  }
  if (typeof result.context === 'string') parts.push(`context ${result.context}`);
  if (parts.length) return parts.join(' ');
  return Object.keys(result).slice(0, 4).join(', ');
}
