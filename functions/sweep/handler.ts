/**
 * The drift sweep's Lambda (docs/architecture.md#the-sweep-and-its-cost), invoked by the
 * hourly EventBridge Scheduler schedule of infra/hub-stack.ts: one sweep of every live link
 * (`sweepLinks` in `#resources/sweep`), which verifies each, records the verifications that
 * changed and starts the reconcile for the links with drift. It stops before its last minute,
 * keeping where it stopped in the table; the next sweep goes on from there (`sweepOnwards`).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { logger } from '#functions/logger';
import { runtime } from '#functions/runtime';
import { type SweepReport, sweepOnwards } from '#resources/sweep';

/** The margin the sweep keeps before the Lambda's timeout. */
const STOP_BEFORE_MS = 60_000;

const functionHandler = async (
  _event: unknown,
  context: Context,
): Promise<Omit<SweepReport, 'next'> & { stoppedEarly: boolean }> => {
  const report = await sweepOnwards(runtime(), {
    outOfTime: () => context.getRemainingTimeInMillis() < STOP_BEFORE_MS,
  });
  const { next, ...rest } = report;
  logger.info('drift sweep', {
    checked: report.checked,
    drifted: report.drifted.length,
    reconciles: report.reconciles.map((r) => r.executionArn),
    verificationsWritten: report.verificationsWritten,
    errors: report.errors.length,
    stoppedEarly: !!next,
    continued: report.continued,
  });
  return { ...rest, stoppedEarly: !!next };
};

export const handler = middy(functionHandler).use(injectLambdaContext(logger));
