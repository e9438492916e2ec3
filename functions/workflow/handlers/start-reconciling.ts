/**
 * "Start reconciling": the reconcile workflow's first task on each link. ACTIVE | DEGRADED →
 * RECONCILING, recording the execution that now drives the link; a re-run of the same
 * execution finds the link its own and changes nothing. A link another execution is
 * reconciling: if that run started at or after the change that triggered this one (`since`),
 * it reads the accounts after the change and covers it, so this run leaves the link to it
 * (LinkStateError: skipped) — concurrent events for one VPC coalesce; if it started before,
 * this run waits for it (ConcurrentUpdateError, retried) and reconciles again after it.
 */
import { ConcurrentUpdateError, LinkStateError } from '#link/errors';
import { RECONCILE_STARTABLE } from '#link/lifecycle';
import { runtime } from '#functions/runtime';
import { stepHandler, type WorkflowStartEvent } from '../step';

/** Moves the link to RECONCILING for this execution. */
export async function startReconciling(event: WorkflowStartEvent & { readonly since?: string }) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  const mine = link.status === 'RECONCILING' && link.lastExecution?.name === event.execution.name;
  if (mine) return { linkId: link.id, status: link.status };
  if (link.status === 'RECONCILING') {
    const other = link.lastExecution?.name;
    const startedAt = link.runs?.find((r) => r.name === other)?.startedAt;
    if (!event.since || !startedAt || Date.parse(startedAt) < Date.parse(event.since)) {
      throw new ConcurrentUpdateError(
        `Link ${link.id} is being reconciled by ${other ?? 'another run'}, started before this change; waiting for it`,
      );
    }
  }
  if (!RECONCILE_STARTABLE.has(link.status)) {
    throw new LinkStateError(
      `Link ${link.id} is ${link.status}${
        link.status === 'RECONCILING' ? ` (by ${link.lastExecution?.name ?? 'another run'})` : ''
      }; this run does not reconcile it`,
    );
  }
  const updated = await rt.links.transition(link.id, 'RECONCILING', rt.now().toISOString(), {
    lastExecution: { ...event.execution, workflow: 'reconcile' },
    resetSteps: true,
  });
  return { linkId: updated.id, status: updated.status };
}

export const handler = stepHandler(startReconciling);
