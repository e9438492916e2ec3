/**
 * The start input of each workflow, declared once: what the API and the local runtime's
 * restart re-drive pass to `StartExecution`, and what the ASL reads (`$.linkIds` in
 * onboard's Map, `$.linkId` in offboard). The first task of each workflow then receives
 * the link id and the execution (`WorkflowStartEvent` in `#workflow/step`).
 */

/** Input of the onboard workflow: the links of one onboarding request (or one reconcile). */
export interface OnboardInput {
  readonly requestId: string;
  readonly linkIds: readonly string[];
}

/** Input of the offboard workflow: one link. */
export interface OffboardInput {
  readonly linkId: string;
}

/**
 * The onboard execution's input, as `StartExecution` takes it.
 *
 * @example
 * onboardInput('req_01…', ['lnk_01…']); // '{"requestId":"req_01…","linkIds":["lnk_01…"]}'
 */
export function onboardInput(requestId: string, linkIds: readonly string[]): string {
  const input: OnboardInput = { requestId, linkIds };
  return JSON.stringify(input);
}

/** The offboard execution's input, as `StartExecution` takes it. */
export function offboardInput(linkId: string): string {
  const input: OffboardInput = { linkId };
  return JSON.stringify(input);
}
