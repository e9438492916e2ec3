/**
 * Reconcile task "Wait for source NAT gateways": fails with NatGatewaysPendingError (retried
 * by the ASL with backoff) while a NAT gateway of the link's source VPC is pending or
 * deleting, so the resolve that follows reads the IPs of settled gateways only. The logic is
 * `awaitSourceNatGateways` in `#resources/reconcile`.
 */
import { runtime } from '#functions/runtime';
import { awaitSourceNatGateways } from '#resources/reconcile';
import { type StepEvent, stepHandler } from '../step';

export async function waitForSourceNatGateways(event: StepEvent) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  const { result } = await awaitSourceNatGateways(link, rt);
  return { linkId: link.id, result };
}

export const handler = stepHandler(waitForSourceNatGateways);
