/**
 * The drift sweep (docs/architecture.md#the-sweep-and-its-cost): on a schedule, every live
 * link (ACTIVE or DEGRADED) is verified against what is in place now — the same hop-by-hop
 * evaluation as `POST /links/{id}/verify`, with the source VPC's NAT IPs read now — and only
 * the links with drift go to the reconcile workflow, which repairs the difference and
 * records what it changed (`steps.reconcile.result.changed`).
 *
 * What it costs, and why it is built so:
 * - The links are paged from the `byCreated` index, a page per Query (eventually
 *   consistent reads), never one read per link.
 * - A read that serves many links is made once per sweep ({@link sharedReads}): a source
 *   VPC's NAT gateways, a target cluster's description, a security group's rules, a
 *   workload role and what is attached to it.
 * - Links are checked a few at a time (`concurrency`): Lambda bills the wall time of the
 *   invocation, so calls made at once cost what one costs.
 * - Writes scale with the drift found, not the fleet: the verification is written on a link
 *   only when it differs from the one the link holds (hops, verdicts and reasons; not the
 *   time), and a reconcile is started only for links with drift — none when there is none.
 *   A DEGRADED link whose failed hops are the ones it already holds is not sent again: the
 *   reconcile already found it could not repair that; a change in what fails sends it, and
 *   so does a chain that holds again (the reconcile brings the link back to ACTIVE).
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Link, LinkStatus, LinkVerification } from '#link/model';
import { reconcileInput } from '#link/workflow-input';
import { shortHash } from '#link/names';
import { automaticAsker } from '#link/caller';
import type { StepDeps } from './deps';
import { type Hop, selfManagedHops, sharedReads, verifyChain } from './verify';

/** The statuses the sweep reads: links that should hold. */
export const SWEPT_STATUSES: readonly LinkStatus[] = ['ACTIVE', 'DEGRADED'];

/** Who the verification written by the sweep names. */
export const SWEEP_CALLER = 'tether:drift-sweep';

/**
 * Links per reconcile execution: a Standard execution's history holds 25,000 events at most
 * (docs/aws-facts.md#map-and-history-limits), and a link's reconcile writes about 70.
 */
export const LINKS_PER_RECONCILE = 100;

/** What the sweep needs: the clients, the link store, a clock and the reconcile workflow. */
export interface SweepDeps
  extends Pick<StepDeps, 'clients' | 'links' | 'now' | 'clusters' | 'oidcPublishing'> {
  readonly stateMachines: { readonly reconcile?: string };
}

export interface SweepOptions {
  /** Links per Query page. @default 100 */
  readonly pageSize?: number;
  /** Links verified at once. @default 16 */
  readonly concurrency?: number;
  /** Continue a sweep that stopped at its deadline (the `next` of its report). */
  readonly cursor?: Record<string, unknown>;
  /** Whether to stop before the next page (the Lambda's remaining time); the report then has `next`. */
  readonly outOfTime?: () => boolean;
}

/** What the sweep found on one link with drift. */
export interface DriftedLink {
  readonly linkId: string;
  readonly status: LinkStatus;
  /** The hops that do not hold, and why. */
  readonly failed: readonly { readonly hop: string; readonly detail: string }[];
  /** Whether it was sent to the reconcile (not when DEGRADED with the same failures as before). */
  readonly reconcile: boolean;
  /** Why it is reported: a hop that does not hold, or a DEGRADED link whose chain holds again. */
  readonly why: 'drift' | 'degraded-holds-again';
}

export interface SweepReport {
  readonly at: string;
  /** Query pages read, and the link items they held (every status; the filter applies after the read). */
  readonly pages: number;
  readonly itemsRead: number;
  /** Live links verified. */
  readonly checked: number;
  /** Links whose verification changed and was written. */
  readonly verificationsWritten: number;
  readonly drifted: readonly DriftedLink[];
  /** The reconcile executions started, with their links. */
  readonly reconciles: readonly { readonly executionArn: string; readonly linkIds: readonly string[] }[];
  /** Links whose check failed (an AWS error): retried by the next sweep. */
  readonly errors: readonly { readonly linkId: string; readonly message: string }[];
  /** Where to continue, when the sweep stopped at its deadline. */
  readonly next?: Record<string, unknown>;
}

/** Whether a hop failing means drift the reconcile can repair: any hop the link needs, or a stale allowance. */
export function isDrift(hop: Hop): boolean {
  if (hop.ok) return false;
  return !hop.advisory || hop.hop === 'network-stale-allowance';
}

/** The verification of a link, as compared between sweeps: the time and the caller left out. */
function verdict(v: Pick<LinkVerification, 'ok' | 'hops'> | undefined): string {
  if (!v) return '';
  return JSON.stringify([v.ok, v.hops.map((h) => [h.hop, h.ok, h.detail])]);
}

async function inBatches<T>(items: readonly T[], size: number, each: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await each(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
}

/**
 * Sweeps the live links once: verify each, record the verifications that changed, start the
 * reconcile for the links with drift. Read-only in the member accounts, in one session named
 * `tether-sweep-<time>` with `SourceIdentity` `tether-sweep`.
 *
 * @example
 * const report = await sweepLinks(runtime());
 * report.drifted; // [{ linkId: 'lnk_…', failed: [{ hop: 'network', detail: '…' }], reconcile: true }]
 */
export async function sweepLinks(rt: SweepDeps, options: SweepOptions = {}): Promise<SweepReport> {
  const at = rt.now().toISOString();
  const pageSize = options.pageSize ?? 100;
  const concurrency = options.concurrency ?? 16;
  const reads = sharedReads();
  // One audited session for the whole sweep: CloudTrail shows its reads as Tether's sweep.
  const clients = rt.clients.forSession({
    sessionName: `tether-sweep-${at.replace(/[^0-9]/g, '')}`,
    sourceIdentity: automaticAsker('sweep'),
  });
  const checker = {
    clients,
    links: rt.links,
    ...(rt.clusters ? { clusters: rt.clusters } : {}),
    ...(rt.oidcPublishing ? { oidcPublishing: rt.oidcPublishing } : {}),
  };
  const drifted: DriftedLink[] = [];
  const errors: { linkId: string; message: string }[] = [];
  let pages = 0;
  let itemsRead = 0;
  let checked = 0;
  let verificationsWritten = 0;
  let cursor = options.cursor;
  do {
    const page = await rt.links.pageByStatus(SWEPT_STATUSES, pageSize, cursor);
    pages++;
    itemsRead += page.read;
    cursor = page.next;
    await inBatches(page.items, concurrency, async (link) => {
      try {
        const outcome = await sweepOne(checker, link, reads, at);
        checked++;
        if (outcome.written) verificationsWritten++;
        if (outcome.drifted) drifted.push(outcome.drifted);
      } catch (err) {
        errors.push({ linkId: link.id, message: (err as Error).message });
      }
    });
  } while (cursor && !options.outOfTime?.());
  const toReconcile = drifted
    .filter((d) => d.reconcile)
    .map((d) => d.linkId)
    .sort();
  const reconciles: { executionArn: string; linkIds: string[] }[] = [];
  if (toReconcile.length) {
    if (!rt.stateMachines.reconcile) throw new Error('No reconcile state machine is configured');
    for (let i = 0; i < toReconcile.length; i += LINKS_PER_RECONCILE) {
      const linkIds = toReconcile.slice(i, i + LINKS_PER_RECONCILE);
      // Named by the sweep's time and its links: a sweep re-run with the same finding starts it once.
      const name = `sweep-${at.replace(/[^0-9]/g, '')}-${shortHash(linkIds, 12)}`;
      try {
        const out = await rt.clients.sfn().send(
          new StartExecutionCommand({
            stateMachineArn: rt.stateMachines.reconcile,
            name,
            input: reconcileInput(linkIds, { reason: 'sweep', time: at }),
          }),
        );
        reconciles.push({ executionArn: out.executionArn ?? '', linkIds });
      } catch (err) {
        if ((err as Error).name !== 'ExecutionAlreadyExists') throw err;
      }
    }
  }
  return {
    at,
    pages,
    itemsRead,
    checked,
    verificationsWritten,
    drifted: drifted.sort((a, b) => a.linkId.localeCompare(b.linkId)),
    reconciles,
    errors,
    ...(cursor ? { next: cursor } : {}),
  };
}

/**
 * One sweep of the schedule: it goes on from where the last one stopped when that one ran out
 * of time (the cursor kept in the table), and keeps its own stop for the next; a sweep that
 * gets to the end forgets the cursor, so the next starts from the oldest link. A fleet too
 * large for one invocation is then swept across several, every link in turn, instead of its
 * newest links never being reached.
 *
 * @example
 * const report = await sweepOnwards(runtime(), { outOfTime: () => context.getRemainingTimeInMillis() < 60_000 });
 * report.continued; // true when it started from the last sweep's stop
 */
export async function sweepOnwards(
  rt: SweepDeps,
  options: Omit<SweepOptions, 'cursor'> = {},
): Promise<SweepReport & { readonly continued: boolean }> {
  const cursor = await rt.links.sweepCursor();
  const report = await sweepLinks(rt, { ...options, ...(cursor ? { cursor } : {}) });
  // Written only when it stops early or had a cursor to forget: a whole sweep with no drift writes nothing.
  if (report.next || cursor) await rt.links.saveSweepCursor(report.next, report.at);
  return { ...report, continued: !!cursor };
}

async function sweepOne(
  rt: Pick<SweepDeps, 'clients' | 'links' | 'clusters' | 'oidcPublishing'>,
  link: Link,
  reads: ReturnType<typeof sharedReads>,
  at: string,
): Promise<{ written: boolean; drifted?: DriftedLink }> {
  if (!link.outputs.resolved) return { written: false };
  // A self-managed issuer's published documents (read anonymously, as STS reads them), once
  // per issuer; nothing for an EKS source.
  const issuer = link.outputs.resolved.source.issuer ?? '';
  const published =
    link.outputs.resolved.source.kind === 'self-managed'
      ? await reads.once(`published#${issuer}`, () => selfManagedHops(link, rt))
      : [];
  const hops = [...published, ...(await verifyChain(link, rt.clients, reads))];
  const verification: LinkVerification = {
    at,
    ok: hops.every((h) => h.ok),
    hops: hops.map((h) => ({ hop: h.hop, ok: h.ok, detail: h.detail })),
    by: SWEEP_CALLER,
  };
  const same = verdict(verification) === verdict(link.verification);
  if (!same) await rt.links.recordVerification(link.id, verification);
  const failed = hops.filter(isDrift).map((h) => ({ hop: h.hop, detail: h.detail }));
  const degraded = link.status === 'DEGRADED';
  // A DEGRADED link whose chain holds again goes back to ACTIVE through the reconcile.
  if (!failed.length && !degraded) return { written: !same };
  return {
    written: !same,
    drifted: {
      linkId: link.id,
      status: link.status,
      failed,
      reconcile: !failed.length || !degraded || !same,
      why: failed.length ? 'drift' : 'degraded-holds-again',
    },
  };
}
