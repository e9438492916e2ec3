/**
 * Reconcile task "Find affected links", the workflow's first: the links it reconciles. Named
 * in the input (`POST /links/{id}/reconcile`, the sweep: {@link ReconcileInput}), or those a
 * source-side egress change affects (an EventBridge event forwarded from a member account),
 * through the source VPC → links index. The logic is `findAffectedLinks` in
 * `#resources/reconcile`.
 */
import { runtime } from '#functions/runtime';
import type { ReconcileInput } from '#link/workflow-input';
import { findAffectedLinks, type SourceChangeEvent } from '#resources/reconcile';
import { stepHandler } from '../step';

/** Answers the reconcile's input for the Map: the affected links, and why. */
export async function findAffected(event: { readonly event: SourceChangeEvent | ReconcileInput }) {
  if ('linkIds' in event.event) return { linkIds: event.event.linkIds, trigger: event.event.trigger };
  const affected = await findAffectedLinks(runtime(), event.event);
  return {
    linkIds: affected.linkIds,
    trigger: {
      reason: 'event',
      // When the change was made: a run of another event that started after it covers it.
      time: event.event.time ?? new Date().toISOString(),
      eventId: event.event.id,
      eventName: event.event.detail?.eventName,
      account: affected.account,
      region: affected.region,
      vpcIds: affected.vpcIds,
      how: affected.how,
    },
  };
}

export const handler = stepHandler(findAffected);
