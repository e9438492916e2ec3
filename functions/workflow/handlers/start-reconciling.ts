/**
 * "Start reconciling": the reconcile workflow's first task on each link. ACTIVE | DEGRADED →
 * RECONCILING, recording the execution that now drives the link; a re-run of the same
 * execution finds the link its own and changes nothing. A link another execution is
 * reconciling: if that run started at or after the change that triggered this one (`since`),
 * it reads the accounts after the change and covers it, so this run leaves the link to it
 * (LinkStateError: skipped) — concurrent events for one VPC coalesce; if it started before,
 * this run waits for it (ConcurrentUpdateError, retried) and reconciles again after it. A
 * run that holds the link but is no longer running (it failed, was aborted, or its process
 * died) is taken over.
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { askedBy, automaticAsker } from '#link/caller';
import { ConcurrentUpdateError, LinkStateError } from '#link/errors';
import { RECONCILE_STARTABLE } from '#link/lifecycle';
import { runtime } from '#functions/runtime';
import { stepHandler, type WorkflowStartEvent } from '../step';

/** Moves the link to RECONCILING for this execution. */
export async function startReconciling(
  event: WorkflowStartEvent & { readonly since?: string; readonly reason?: 'api' | 'event' | 'sweep' },
) {
  const rt = runtime();
  const stillRunning = async (arn: string | undefined) => {
    if (!arn) return false;
    try {
      return (
        (await rt.clients.sfn().send(new DescribeExecutionCommand({ executionArn: arn }))).status ===
        'RUNNING'
      );
    } catch (err) {
      if ((err as Error).name === 'ExecutionDoesNotExist') return false;
      throw err;
    }
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    const link = await rt.links.get(event.linkId);
    const mine = link.status === 'RECONCILING' && link.lastExecution?.name === event.execution.name;
    if (mine) return { linkId: link.id, status: link.status };
    if (link.status === 'RECONCILING' && !(await stillRunning(link.lastExecution?.arn))) {
      // The run that took it stopped without finishing (failed, aborted, a crash): take over.
      const taken = await rt.links.takeForReconcile(
        link,
        { ...event.execution, workflow: 'reconcile' },
        rt.now().toISOString(),
      );
      if (taken) return { linkId: taken.id, status: taken.status, tookOverFrom: link.lastExecution?.name };
      continue;
    }
    if (link.status === 'RECONCILING') {
      const other = link.lastExecution?.name;
      const startedAt = link.runs?.find((r) => r.name === other)?.startedAt;
      if (event.since && startedAt && Date.parse(startedAt) >= Date.parse(event.since)) {
        throw new LinkStateError(
          `Link ${link.id} is being reconciled by ${other}, which started after this change: it covers it`,
        );
      }
      throw new ConcurrentUpdateError(
        `Link ${link.id} is being reconciled by ${other ?? 'another run'}, started before this change; waiting for it`,
      );
    }
    if (!RECONCILE_STARTABLE.has(link.status)) {
      throw new LinkStateError(`Link ${link.id} is ${link.status}; this run does not reconcile it`);
    }
    // One conditional write: of concurrent runs, one takes the link; the others read again.
    const taken = await rt.links.takeForReconcile(
      link,
      // Who asked: the API's caller (recorded on the link by POST /links/{id}/reconcile), or
      // Tether itself for an event or the sweep — never the last person who asked before.
      {
        ...event.execution,
        workflow: 'reconcile',
        ...(event.reason === undefined || event.reason === 'api'
          ? askedBy(link)
          : { requestedBy: automaticAsker(event.reason) }),
      },
      rt.now().toISOString(),
    );
    if (taken) return { linkId: taken.id, status: taken.status };
  }
  throw new ConcurrentUpdateError(`Link ${event.linkId} kept changing while this run tried to take it`);
}

export const handler = stepHandler(startReconciling);
