/**
 * `POST /links/{id}/approval` (docs/architecture.md#approval): an approver's decision on a
 * link the policies made wait. The wait is a status, AWAITING_APPROVAL, written by
 * `POST /links` with nothing started — no execution waits on a task token — so it survives
 * any restart as it is. `approve` queues the link (PENDING) and starts its onboard;
 * `reject` ends it REJECTED. The decision is recorded on the link (`approvals`), which
 * `GET /links/{id}/runs` shows beside the runs.
 */
import type { TetherRuntime } from '#functions/runtime';
import type { Caller } from '#link/caller';
import { ConcurrentUpdateError, LinkStateError } from '#link/errors';
import type { ApprovalRecord } from '#link/model';
import { onboardExecutionName } from '#link/names';
import { authorize } from './access';
import { type ApiResult, ensureOnboardRun } from './operations';
import { ApiError } from './problems';

/** The body of `POST /links/{id}/approval` (the spec's `ApprovalDecision`). */
export interface ApprovalDecision {
  readonly decision: 'approve' | 'reject';
  readonly reason: string;
}

/** Decides a waiting link: ACCESS_DENIED unless the policies allow `ApproveLink`; NOT_AWAITING_APPROVAL unless it waits. */
export async function decideApproval(
  rt: TetherRuntime,
  caller: Caller,
  id: string,
  body: ApprovalDecision,
): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link) throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  authorize(rt, caller, 'ApproveLink', link);
  const notWaiting = (status: string) =>
    new ApiError(
      'NOT_AWAITING_APPROVAL',
      `Link ${id} is ${status}; only a link AWAITING_APPROVAL is decided`,
    );
  if (link.status !== 'AWAITING_APPROVAL') throw notWaiting(link.status);
  const approval: ApprovalRecord = {
    decision: body.decision,
    reason: body.reason,
    by: caller,
    at: rt.now().toISOString(),
  };
  let decided: Awaited<ReturnType<typeof rt.links.decideApproval>>;
  try {
    decided = await rt.links.decideApproval(link, approval);
  } catch (err) {
    if (err instanceof ConcurrentUpdateError || err instanceof LinkStateError) {
      const now = await rt.links.find(id);
      throw notWaiting(now?.status ?? 'gone');
    }
    throw err;
  }
  const summary = { id, status: decided.status, target: decided.spec.target, href: `/links/${id}` };
  if (body.decision === 'reject') {
    return { statusCode: 200, body: { ...summary, decision: 'reject' } };
  }
  // PENDING from here, and its run is the one every PENDING link has (named after the link
  // and its version): were this start lost (a crash), the restart re-drive (locally) or the
  // next POST /links of the same request starts that same run, never a second one.
  await ensureOnboardRun(rt, decided);
  const name = onboardExecutionName(decided);
  return {
    statusCode: 202,
    headers: { location: `/links/${id}` },
    body: { ...summary, decision: 'approve', execution: name },
  };
}
