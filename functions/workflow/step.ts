/**
 * The shape every workflow step shares: a thin Lambda handler around a
 * plain function of the link. The wrapper loads the link, marks the step RUNNING, runs it,
 * writes its result (and outputs) to the link record, and classifies any AWS error
 * (`#aws/errors`: throttling and transient errors retried, the rest a code a user can act
 * on), so the ASL's Retry and Catch see one name per outcome. A failure's record keeps the
 * AWS code and request id. The step's return value is also the Task's output, so the Step
 * Functions console shows the same story as the API.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { LinkStateError, TetherError } from '#link/errors';
import { awsErrorDetails, classifyAwsError } from '#aws/errors';
import { linkCallSession } from '#link/caller';
import { logger } from '#functions/logger';
import { STEP_RUNNABLE, type StepWorkflow } from '#link/lifecycle';
import type { Link, LinkOutputs, OffboardStep, OnboardStep } from '#link/model';
import { runtime, type TetherRuntime } from '#functions/runtime';

/** What the ASL passes to every step. */
export interface StepEvent {
  readonly linkId: string;
  /**
   * Set by the onboard's `Confirm: ensure …` states: read the shared source side even though
   * an earlier run confirmed it (`#resources/source-side`).
   */
  readonly confirm?: boolean;
}

/**
 * The input of a workflow's first task (the workflow start input, narrowed to one link): the
 * link and the execution that drives it, so the link records which run it is on.
 */
export interface WorkflowStartEvent extends StepEvent {
  readonly execution: { readonly name: string; readonly arn: string };
}

export interface StepOutcome {
  /** What the step made, found or changed (written to `steps.<name>.result`). */
  readonly result: Record<string, unknown>;
  /** Values merged into the link's `outputs`. */
  readonly outputs?: Partial<LinkOutputs>;
}

export type StepLogic = (link: Link, rt: TetherRuntime, event: StepEvent) => Promise<StepOutcome>;

/**
 * The runtime a step of `link` runs with: its calls into member accounts are made in the
 * link's audited session — named after the link and its run, with the caller who asked as
 * `SourceIdentity` (`#link/caller` `linkCallSession`).
 */
export function linkRuntime(rt: TetherRuntime, link: Link): TetherRuntime {
  return { ...rt, clients: rt.clients.forSession(linkCallSession(link)) };
}

/**
 * Runs one step of a workflow on one link, recording it.
 *
 * @example
 * const functionHandler = runStep('onboard', 'targetRole', ensureTargetRole);
 */
export function runStep(workflow: StepWorkflow, stepName: OnboardStep | OffboardStep, logic: StepLogic) {
  return async (event: StepEvent): Promise<StepEvent & { step: string; result: Record<string, unknown> }> => {
    const rt = runtime();
    const link = await rt.links.get(event.linkId);
    if (!STEP_RUNNABLE[workflow].has(link.status)) {
      throw new LinkStateError(
        `Link ${link.id} is ${link.status}; the ${workflow} step ${stepName} does not run`,
      );
    }
    const startedAt = rt.now().toISOString();
    const attempts =
      (link.steps[stepName]?.status === 'RUNNING' || link.steps[stepName]?.status === 'FAILED'
        ? (link.steps[stepName]?.attempts ?? 0)
        : 0) + 1;
    await rt.links.recordStep(link.id, stepName, { status: 'RUNNING', startedAt, attempts });
    try {
      const outcome = await logic(link, linkRuntime(rt, link), event);
      await rt.links.recordStep(
        link.id,
        stepName,
        { status: 'SUCCEEDED', startedAt, endedAt: rt.now().toISOString(), attempts, result: outcome.result },
        outcome.outputs,
      );
      logger.debug('step succeeded', { linkId: link.id, step: stepName, result: outcome.result });
      return { linkId: link.id, step: stepName, result: outcome.result };
    } catch (raw) {
      const err = classifyAwsError(raw) as Error;
      const code = err instanceof TetherError ? err.code : 'INTERNAL';
      await rt.links
        .recordStep(link.id, stepName, {
          status: 'FAILED',
          startedAt,
          endedAt: rt.now().toISOString(),
          attempts,
          error: { code, message: err.message, ...awsErrorDetails(raw) },
        })
        .catch(() => undefined); // the original error matters more than this write
      logger.warn('step failed', {
        linkId: link.id,
        step: stepName,
        error: err.name,
        detail: err.message,
        ...awsErrorDetails(raw),
      });
      throw err;
    }
  };
}

/** Wraps a step function as a Lambda handler with the house middleware. */
export function stepHandler<E, R>(fn: (event: E) => Promise<R>) {
  return middy(async (event: E, _context: Context) => fn(event))
    .use(injectLambdaContext(logger))
    .before(({ event }) => {
      // Every line a step logs names its link (set per invocation: a warm container serves many).
      const linkId = (event as { linkId?: unknown } | undefined)?.linkId;
      if (typeof linkId === 'string') logger.appendPersistentKeys({ linkId });
    });
}
