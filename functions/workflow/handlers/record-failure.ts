/**
 * "Record failure" (both workflows): → FAILED with the error of the step that failed and
 * its stable code. A re-run that finds the link FAILED changes nothing.
 */
import { stepErrorCode } from '#link/errors';
import { runtime } from '#functions/runtime';
import { type StepEvent, stepHandler } from '../step';

export interface FailureEvent extends StepEvent {
  /** What the ASL's Catch put at ResultPath: `{ Error, Cause }`. */
  readonly failure: { readonly Error: string; readonly Cause?: string };
}

/** The message inside a Step Functions `Cause`: Lambda wraps it as JSON `{ errorMessage, … }`. */
export function causeMessage(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}

/** Moves the link to FAILED, naming the failed step and the error's stable code. */
export async function recordFailure(event: FailureEvent) {
  const rt = runtime();
  const link = await rt.links.get(event.linkId);
  // The step that failed; a RUNNING one only if none failed (a timed-out task stays RUNNING).
  const steps = Object.entries(link.steps);
  const failed =
    steps.find(([, s]) => s?.status === 'FAILED') ?? steps.find(([, s]) => s?.status === 'RUNNING');
  const failedStep = failed?.[0];
  const code = stepErrorCode(event.failure.Error);
  // The AWS code and request id the step recorded, so the user can quote them to AWS.
  const aws = failed?.[1]?.error;
  const error = {
    code: code ?? 'INTERNAL',
    // An unexpected error's message may hold internals: keep it out of the record.
    message:
      code !== undefined
        ? causeMessage(event.failure.Cause)
        : `Unexpected ${event.failure.Error}; see the execution history`,
    ...(failedStep ? { step: failedStep } : {}),
    ...(aws?.awsCode ? { awsCode: aws.awsCode } : {}),
    ...(aws?.awsRequestId ? { awsRequestId: aws.awsRequestId } : {}),
  };
  if (link.status === 'FAILED') return { linkId: link.id, status: link.status, error: link.error };
  const updated = await rt.links.transition(link.id, 'FAILED', rt.now().toISOString(), { error });
  return { linkId: updated.id, status: updated.status, error };
}

export const handler = stepHandler(recordFailure);
