/**
 * Reconcile task "Find affected links": the links a source-side egress change affects (an
 * EventBridge event forwarded from a member account), through the source VPC → links index.
 * The logic is `findAffectedLinks` in `#resources/reconcile`.
 */
import { runtime } from '#functions/runtime';
import { findAffectedLinks, type SourceChangeEvent } from '#resources/reconcile';
import { stepHandler } from '../step';

/** Answers the reconcile's input for the Map: the affected links, and why. */
export async function findAffected(event: { readonly event: SourceChangeEvent }) {
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
