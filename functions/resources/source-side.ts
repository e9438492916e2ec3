/**
 * The source side a workload's links share (the issuer's OIDC provider, the workload role),
 * and who reads it. The run that makes it, and every reconcile, reads it, compares it with
 * what Tether wants and records a confirmation (`#CONFIRMED` beside the resource's members):
 * the digest of that desired state. A workload's further link, in an onboard, finds the
 * confirmation for the same desired state and leaves the reading to its own Verify role
 * chain, which reads these documents back anyway: a further link then reads in the source
 * account only what verify reads. When verify finds the side changed, it forgets the
 * confirmations and throws {@link SourceSideChangedError}; the ASL runs the two steps again
 * as `Confirm: ensure …` (reading, and putting back the difference) and verifies again
 * (docs/architecture.md#a-further-link-of-a-workload).
 */
import { createHash } from 'node:crypto';
import { SourceSideChangedError } from '#link/errors';
import { canonicalJson } from '#link/canonical-json';
import type { Link } from '#link/model';
import { issuerHostPath, workloadKey } from '#link/names';
import type { Confirmation, MembershipStore } from '#store/memberships';
import { membership } from '#store/table';

/** The action of a source step that left the reading to verify. */
export const CONFIRMED_BEFORE = 'confirmed-before';

/** The digest of a desired state, as a confirmation records it. */
export function desiredDigest(desired: unknown): string {
  return createHash('sha256').update(canonicalJson(desired)).digest('hex');
}

/**
 * A source step's one read of the resource's confirmation, and what it allows:
 * `leaveToVerify`, the confirmation that lets this step leave the reading to verify — only in
 * an onboard (a reconcile is the repair: it always reads), not when the ASL asks to confirm,
 * and only for the same desired state (a new issuer, another boundary, a new Tether version:
 * read); `record`, for after the step read the resource, writes this run's confirmation
 * unless the same desired state is recorded already.
 */
export async function confirmationOf(
  memberships: MembershipStore,
  resource: string,
  desired: string,
  link: Pick<Link, 'id' | 'status'>,
  /** The step's event: `confirm` when the ASL runs it to confirm (`Confirm: ensure …`). */
  event?: { readonly confirm?: boolean },
): Promise<{ readonly leaveToVerify?: Confirmation; record(now: Date): Promise<void> }> {
  const recorded = await memberships.confirmation(resource);
  const current = recorded?.desired === desired ? recorded : undefined;
  const mayLeave = link.status === 'PROVISIONING' && !event?.confirm;
  return {
    ...(mayLeave && current ? { leaveToVerify: current } : {}),
    async record(now: Date) {
      if (!current) await memberships.confirm(resource, { desired, by: link.id, at: now.toISOString() });
    },
  };
}

/** What a source step answers when it left the reading to verify. */
export function leftToVerify(confirmation: Confirmation, arn: string) {
  return {
    arn,
    action: CONFIRMED_BEFORE,
    confirmedBy: confirmation.by,
    confirmedAt: confirmation.at,
    note: "as Tether wants it when that link's run read it; this run's Verify role chain reads it back",
  };
}

/** The hops that judge the source side: a failing one means the side is not as the confirmation said. */
export const SOURCE_SIDE_HOPS: ReadonlySet<string> = new Set([
  'oidc-provider',
  'web-identity→workload-role',
  'trust-is-scoped',
  'workload-role-as-written',
  'workload-role→target-role',
  'workload-role-extras',
]);

/** The shared source-side resources whose confirmations a link of mode irsa reads. */
function confirmedResources(link: Pick<Link, 'spec' | 'outputs'>): string[] {
  if (link.spec.identity.mode !== 'irsa') return [];
  const issuer = link.outputs.resolved?.source.issuer;
  return [
    membership.workload(workloadKey(link.spec.source)),
    ...(issuer ? [membership.issuer(link.spec.source.accountId, issuerHostPath(issuer))] : []),
  ];
}

/**
 * After a verification: when a source hop fails, the confirmations go (the next link reads),
 * and in a run whose source steps left the reading to verify, {@link SourceSideChangedError}
 * sends the run through the confirm steps.
 */
export async function judgeSourceSide(
  memberships: MembershipStore,
  link: Pick<Link, 'spec' | 'outputs' | 'steps'>,
  failedHops: readonly { readonly hop: string; readonly detail: string }[],
): Promise<void> {
  const changed = failedHops.filter((h) => SOURCE_SIDE_HOPS.has(h.hop));
  if (changed.length === 0) return;
  for (const resource of confirmedResources(link)) await memberships.forgetConfirmation(resource);
  const skipped = [link.steps.oidcProvider, link.steps.workloadRole].some(
    (s) => s?.status === 'SUCCEEDED' && s.result?.action === CONFIRMED_BEFORE,
  );
  if (skipped) {
    throw new SourceSideChangedError(
      `The source side is not as the earlier run confirmed it: ${changed.map((h) => `${h.hop} (${h.detail})`).join('; ')}; reading it again and putting back the difference`,
    );
  }
}
