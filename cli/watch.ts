/**
 * Following links through a workflow run by polling `GET /links/{id}`. A run is known by
 * its execution: its name when the API gave it (the request id of `POST /links`, the name
 * of a reconcile), else by the link's run count growing (a delete). Only the steps of that
 * run are shown — an offboard's link still holds the onboard's steps — and the wait ends
 * when the link, in that run, leaves PENDING/PROVISIONING/RECONCILING/DELETING (and, for a
 * FAILED link, once the run's compensation has ended too). A link AWAITING_APPROVAL (or
 * REJECTED) ends the wait at once: no run comes until an approver decides.
 */
import { IN_PROGRESS } from '#link/lifecycle';
import type { LinkStatus } from '#link/model';
import type { TetherClient } from './client';
import { CliError, EXIT } from './exit-codes';
import type { LinkView, ProgressDisplay, StepView } from './progress';
import { orderedStepKeys, type StepRecord, stepLabel, WORKFLOW_STEPS, type Workflow } from './steps';

export interface WatchTarget {
  readonly id: string;
  /** The execution that drives the link in this run, when known. */
  readonly executionName?: string;
  /** The link's number of recorded runs before the command started one (a new run makes it grow). */
  readonly runsBefore?: number;
}

export interface WatchOptions {
  readonly client: TetherClient;
  readonly workflow: Workflow;
  readonly display: ProgressDisplay;
  readonly timeoutMs: number;
  readonly pollMs: number;
  /**
   * How long a settled link may show no sign of the expected run before the wait accepts
   * it as it is (the workflow may have declined the link before recording itself).
   * @default 15 s
   */
  readonly runGraceMs?: number;
}

type Run = { name: string; startedAt?: string; workflow?: string };

/** Statuses a wait stops at at once: the link waits for an approver's decision, or an approver refused it. */
export const STOPS_WAITING: ReadonlySet<LinkStatus> = new Set<LinkStatus>(['AWAITING_APPROVAL', 'REJECTED']);

/** The link's current run, if it is the one the command waits for. */
function expectedRun(link: any, target: WatchTarget): Run | undefined {
  const runs: Run[] = Array.isArray(link.runs) ? link.runs : [];
  const last: Run | undefined = runs.at(-1) ?? link.lastExecution;
  if (!last) return undefined;
  if (target.executionName !== undefined) return last.name === target.executionName ? last : undefined;
  if (target.runsBefore !== undefined) return runs.length > target.runsBefore ? last : undefined;
  return last;
}

export function targetTitle(link: any): string {
  const t = link?.spec?.target;
  return t ? `${t.cluster} (${t.accountId}, ${t.region})` : '';
}

/** The steps of the run, in the order they run: the workflow's own first, then any other (an onboard's undo steps). */
export function stepViews(link: any, workflow: Workflow, run: Run | undefined): StepView[] {
  const steps: Record<string, StepRecord> = link?.steps ?? {};
  const since = run?.startedAt ? Date.parse(run.startedAt) : undefined;
  const inRun = (r: StepRecord | undefined) =>
    !!r && (since === undefined || !r.startedAt || Date.parse(r.startedAt) >= since);
  const expected = WORKFLOW_STEPS[workflow];
  const extra = orderedStepKeys(steps).filter((k) => !expected.includes(k) && inRun(steps[k]));
  return [...expected, ...extra].map((key) => {
    const record = run && inRun(steps[key]) ? steps[key] : undefined;
    return { key, label: stepLabel(key, workflow), ...(record ? { record } : {}) };
  });
}

/** Whether the execution of the run is still going (`GET /links/{id}/runs`). */
async function stillRunning(client: TetherClient, id: string, run: Run): Promise<boolean> {
  const runs: { name: string; status?: string }[] =
    (await client.get(`/links/${encodeURIComponent(id)}/runs`)).body.items ?? [];
  return runs.some((r) => r.name === run.name && r.status === 'RUNNING');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until every link has settled in its run; the display sees every poll. Returns the
 * links as last read. Throws a timeout error (exit 5) after `timeoutMs`.
 */
export async function watchLinks(targets: readonly WatchTarget[], options: WatchOptions): Promise<any[]> {
  const { client, workflow, display } = options;
  const started = Date.now();
  const grace = options.runGraceMs ?? 15_000;
  const latest = new Map<string, any>();
  const done = new Set<string>();
  try {
    for (;;) {
      const views: LinkView[] = [];
      for (const target of targets) {
        let link = latest.get(target.id);
        if (!done.has(target.id)) {
          link = (await client.get(`/links/${encodeURIComponent(target.id)}`)).body;
          latest.set(target.id, link);
        }
        const run = expectedRun(link, target);
        const settled = !IN_PROGRESS.has(link.status as LinkStatus);
        // Nothing runs for a link that waits for an approver (or was refused by one): no
        // run will come, so the wait ends now, whatever run it expected.
        const decided = STOPS_WAITING.has(link.status as LinkStatus);
        // A failed onboard is FAILED before its compensation has run: follow the undo steps
        // until the execution itself has ended.
        const undoing =
          settled && run && link.status === 'FAILED' && (await stillRunning(client, link.id, run));
        // Settled in the run we wait for, or never taken by it within the grace period.
        if (decided || (settled && !undoing && (run || Date.now() - started > grace))) done.add(target.id);
        views.push({
          id: link.id,
          title: targetTitle(link),
          status: link.status,
          workflow,
          steps: stepViews(link, workflow, run),
          settled: done.has(target.id),
          ...(link.error ? { error: link.error } : {}),
        });
      }
      display.update(views);
      if (done.size === targets.length) return targets.map((t) => latest.get(t.id));
      if (Date.now() - started > options.timeoutMs) {
        const pending = targets
          .filter((t) => !done.has(t.id))
          .map((t) => `${t.id} (${latest.get(t.id)?.status})`);
        throw new CliError(
          `error WAIT_TIMEOUT: still in progress after ${Math.round(options.timeoutMs / 1000)} s: ${pending.join(', ')}`,
          EXIT.TIMEOUT,
        );
      }
      await sleep(options.pollMs);
    }
  } finally {
    display.stop();
  }
}

/** A link that ended well: ACTIVE after an onboard, DELETED after an offboard. */
export function endedWell(link: any, workflow: Workflow): boolean {
  return workflow === 'offboard' ? link.status === 'DELETED' : link.status === 'ACTIVE';
}
