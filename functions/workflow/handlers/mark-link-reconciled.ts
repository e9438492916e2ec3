/**
 * "Mark link reconciled": the reconcile's last task on each link. RECONCILING → ACTIVE, with
 * what the run changed (`steps.reconcile.result.changed`: the steps whose ensure created,
 * updated, replaced or deleted something; empty when everything was as it should be).
 */
import { runtime } from '#functions/runtime';
import { reconcileChanges } from '#resources/reconcile';
import { type StepEvent, stepHandler } from '../step';

export async function markLinkReconciled(event: StepEvent) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  const changed = reconcileChanges(link);
  const now = rt.now().toISOString();
  if (link.status === 'RECONCILING') {
    await rt.links.recordStep(link.id, 'reconcile', {
      status: 'SUCCEEDED',
      startedAt: now,
      endedAt: now,
      attempts: 1,
      result: { action: changed.length ? 'repaired' : 'unchanged', changed },
    });
  }
  const updated = await rt.links.transition(link.id, 'ACTIVE', now, { error: null });
  return { linkId: updated.id, status: updated.status, changed };
}

export const handler = stepHandler(markLinkReconciled);
