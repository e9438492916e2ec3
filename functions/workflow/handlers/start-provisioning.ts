/**
 * "Start provisioning": the onboard workflow's first task. PENDING | FAILED | ACTIVE |
 * DEGRADED → PROVISIONING, recording the execution that now drives the link. Idempotent: a
 * re-run of the same execution finds the link PROVISIONING and changes nothing.
 */
import { LinkStateError } from '#link/errors';
import { ONBOARDABLE } from '#link/lifecycle';
import { runtime } from '#functions/runtime';
import { askedBy } from '#link/caller';
import { stepHandler, type WorkflowStartEvent } from '../step';

/** Moves the link to PROVISIONING for this execution. */
export async function startProvisioning(event: WorkflowStartEvent) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  if (!ONBOARDABLE.has(link.status)) {
    throw new LinkStateError(`Link ${link.id} is ${link.status}; it cannot be onboarded now`);
  }
  const fresh = link.lastExecution?.name !== event.execution.name;
  const updated = await rt.links.transition(link.id, 'PROVISIONING', rt.now().toISOString(), {
    error: null,
    ...(fresh
      ? {
          lastExecution: { ...event.execution, workflow: 'onboard', ...askedBy(link) },
          resetSteps: link.status !== 'PROVISIONING',
        }
      : {}),
  });
  return { linkId: updated.id, status: updated.status };
}

export const handler = stepHandler(startProvisioning);
