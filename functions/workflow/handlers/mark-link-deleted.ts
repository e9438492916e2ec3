/**
 * "Mark link deleted": the offboard workflow's last task. DELETING → DELETED (kept readable
 * with a TTL), and the natural key is released so the same workload → target may be linked
 * again.
 */
import { runtime } from '#functions/runtime';
import { type StepEvent, stepHandler } from '../step';

/** Moves the link to DELETED and releases its natural key. */
export async function markLinkDeleted(event: StepEvent) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  const updated =
    link.status === 'DELETED'
      ? link
      : await rt.links.transition(link.id, 'DELETED', rt.now().toISOString(), { error: null });
  await rt.links.releaseNaturalKey(link.spec, link.id);
  return { linkId: updated.id, status: updated.status };
}

export const handler = stepHandler(markLinkDeleted);
