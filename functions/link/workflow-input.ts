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

/** Input of the reconcile workflow when the links are named (the API, the sweep); an event is passed as it is. */
export interface ReconcileInput {
  readonly linkIds: readonly string[];
  /** Why, and when the change the reconcile must cover was seen. */
  readonly trigger: { readonly reason: 'api' | 'sweep' | 'event' | 'redrive'; readonly time: string };
}

/**
 * The reconcile execution's input for named links, as `StartExecution` takes it.
 *
 * @example
 * reconcileInput(['lnk_01…'], { reason: 'api', time: '2026-11-29T09:00:00.000Z' });
 */
export function reconcileInput(linkIds: readonly string[], trigger: ReconcileInput['trigger']): string {
  const input: ReconcileInput = { linkIds, trigger };
  return JSON.stringify(input);
}
