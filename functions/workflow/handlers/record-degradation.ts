/**
 * "Record degradation" (reconcile): a link the reconcile cannot repair (its target cluster
 * is gone, a quota is reached, an account refuses) → DEGRADED with the stable code of the
 * error and the step that failed. Nothing is undone: what still works keeps working, and
 * the kubeconfig stays served. A later reconcile (event, API or sweep) may bring it back.
 */
import { stepErrorCode } from '#link/errors';
import { runtime } from '#functions/runtime';
import { stepHandler } from '../step';
import { causeMessage, type FailureEvent } from './record-failure';

export async function recordDegradation(event: FailureEvent & { readonly executionName?: string }) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  // A link another run is reconciling is that run's to judge.
  if (
    link.status === 'RECONCILING' &&
    event.executionName &&
    link.lastExecution?.name !== event.executionName
  ) {
    return { linkId: link.id, status: link.status, skipped: `reconciled by ${link.lastExecution?.name}` };
  }
  const failed = Object.entries(link.steps).find(([, s]) => s?.status === 'FAILED');
  const code = stepErrorCode(event.failure.Error);
  const aws = failed?.[1]?.error;
  const error = {
    code: code ?? 'INTERNAL',
    message:
      code !== undefined
        ? causeMessage(event.failure.Cause)
        : `Unexpected ${event.failure.Error}; see the execution history`,
    ...(failed ? { step: failed[0] } : {}),
    ...(aws?.awsCode ? { awsCode: aws.awsCode } : {}),
    ...(aws?.awsRequestId ? { awsRequestId: aws.awsRequestId } : {}),
  };
  const updated = await rt.links.transition(link.id, 'DEGRADED', rt.now().toISOString(), { error });
  return { linkId: updated.id, status: updated.status, error };
}

export const handler = stepHandler(recordDegradation);
