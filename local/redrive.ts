/**
 * The restart re-drive: what `startLocalRuntime` does first on a data directory a previous
 * process used (unless `redrive: false`), so no link stays half-done across a restart or a
 * crash.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ensureOnboardRun } from '#api/operations';
import type { TetherRuntime } from '#functions/runtime';
import { UNFINISHED } from '#link/lifecycle';
import type { LinkStatus } from '#link/model';
import { offboardInput, onboardInput } from '#link/workflow-input';

/**
 * Links a previous process left half-done are driven again: PENDING or PROVISIONING ones by
 * the onboard workflow, DELETING ones by the offboard workflow. Every step is an idempotent
 * ensure (or remove), so the new run converges where the old one stopped. Returns the ids
 * of the links re-driven.
 *
 * @example
 * const redriven = await redriveUnfinished(runtime); // after configureRuntime(runtime)
 */
export async function redriveUnfinished(rt: TetherRuntime): Promise<string[]> {
  const byStatus = async (status: LinkStatus) => {
    const ids: string[] = [];
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await rt.links.list({ status }, 100, cursor);
      ids.push(...page.items.map((l) => l.id));
      cursor = page.next;
    } while (cursor);
    return ids;
  };
  const idsIn = async (statuses: readonly LinkStatus[]) => (await Promise.all(statuses.map(byStatus))).flat();
  // A PENDING link's run is named after the link and its version, so starting it here and a
  // POST finding the same link at the same moment start one run between them.
  const pending = await idsIn(['PENDING']);
  for (const id of pending) {
    const link = await rt.links.find(id);
    if (link) await ensureOnboardRun(rt, link);
  }
  // A PROVISIONING link's run died with the previous process: drive it in a new run.
  const onboarding = await idsIn(UNFINISHED.onboard.statuses.filter((s) => s !== 'PENDING'));
  const deleting = await idsIn(UNFINISHED.offboard.statuses);
  const stamp = Date.now();
  if (onboarding.length) {
    const name = `redrive-${stamp}`;
    await rt.clients.sfn().send(
      new StartExecutionCommand({
        stateMachineArn: rt.stateMachines.onboard,
        name,
        input: onboardInput(name, onboarding),
      }),
    );
  }
  for (const id of deleting) {
    await rt.clients.sfn().send(
      new StartExecutionCommand({
        stateMachineArn: rt.stateMachines.offboard ?? '',
        name: `redrive-${id}-${stamp}`,
        input: offboardInput(id),
      }),
    );
  }
  return [...pending, ...onboarding, ...deleting];
}
