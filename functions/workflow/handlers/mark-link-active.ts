/** "Mark link active": the onboard workflow's last task. PROVISIONING → ACTIVE. */
import { runtime } from '#functions/runtime';
import { type StepEvent, stepHandler } from '../step';

/** Moves the link to ACTIVE (a re-run finds it there and changes nothing). */
export async function markLinkActive(event: StepEvent) {
  const rt = runtime();
  const link = await rt.links.transition(event.linkId, 'ACTIVE', rt.now().toISOString(), { error: null });
  return { linkId: link.id, status: link.status };
}

export const handler = stepHandler(markLinkActive);
