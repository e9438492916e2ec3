/**
 * "Start deleting": the offboard workflow's first task. ACTIVE | FAILED | DEGRADED |
 * DELETING → DELETING with the execution; the kubeconfig output goes first, so a link being
 * removed no longer hands out access.
 */
import { LinkStateError } from '#link/errors';
import { canTransition } from '#link/lifecycle';
import { runtime } from '#functions/runtime';
import { askedBy } from '#link/caller';
import { stepHandler, type WorkflowStartEvent } from '../step';

/** Moves the link to DELETING for this execution and drops its kubeconfig. */
export async function startDeleting(event: WorkflowStartEvent) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  if (link.status !== 'DELETING' && !canTransition(link.status, 'DELETING')) {
    throw new LinkStateError(`Link ${link.id} is ${link.status}; it cannot be offboarded now`);
  }
  const { kubeconfig: _dropped, ...outputs } = link.outputs;
  const updated = await rt.links.transition(link.id, 'DELETING', rt.now().toISOString(), {
    outputs,
    ...(link.lastExecution?.name !== event.execution.name
      ? { lastExecution: { ...event.execution, workflow: 'offboard', ...askedBy(link) } }
      : {}),
  });
  return { linkId: updated.id, status: updated.status };
}

export const handler = stepHandler(startDeleting);
