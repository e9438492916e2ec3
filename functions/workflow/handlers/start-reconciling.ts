/**
 * "Start reconciling": the reconcile workflow's first task on each link. ACTIVE | DEGRADED →
 * RECONCILING, recording the execution that now drives the link. A link another execution is
 * reconciling is left to it (LinkStateError: the run skips it), so concurrent events for one
 * VPC coalesce; a re-run of the same execution finds the link its own and changes nothing.
 */
import { LinkStateError } from '#link/errors';
import { RECONCILE_STARTABLE } from '#link/lifecycle';
import { runtime } from '#functions/runtime';
import { stepHandler, type WorkflowStartEvent } from '../step';

/** Moves the link to RECONCILING for this execution. */
export async function startReconciling(event: WorkflowStartEvent) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  const mine = link.status === 'RECONCILING' && link.lastExecution?.name === event.execution.name;
  if (mine) return { linkId: link.id, status: link.status };
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
