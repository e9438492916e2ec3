/**
 * Reference counting of shared resources (an issuer's OIDC provider, a workload's role, an
 * SG rule for one egress CIDR) with membership items and single-item conditional writes.
 *
 * The protocol, for a resource R:
 * - **join** (onboard): write the member item, THEN read R's removal lock; if a removal
 *   holds it, back off and retry (ConcurrentUpdateError, retried by the ASL). Only then
 *   ensure R.
 * - **leave** (offboard, compensation): delete the member item and read the members; if
 *   any is left, keep R (no lock needed: nothing is removed). Otherwise take R's removal
 *   lock (conditional put: free, expired, or already ours after a crash), THEN read the
 *   members again; remove R only if none is left; release the lock.
 *
 * Each side writes before it reads what the other writes, on strongly consistent items,
 * so at least one sees the other: either the leaver sees the new member and keeps R, or the
 * joiner sees the lock and waits until R is gone, then makes it again. A crashed leaver's
 * lock expires after {@link REMOVAL_LEASE_MS}; its re-driven run takes it back as its owner.
 */
import { ConcurrentUpdateError } from '#link/errors';
import type { LinkRepository } from './links';

/** How long a removal may hold a shared resource before a joiner may go ahead anyway. */
export const REMOVAL_LEASE_MS = 120_000;

/** Joins a shared resource; throws while a removal of it is under way. */
export async function joinShared(
  repo: LinkRepository,
  resource: string,
  member: string,
  attributes: Record<string, unknown>,
  nowMs: number,
): Promise<void> {
  await repo.putMember(resource, member, attributes);
  const lock = await repo.removalLock(resource, nowMs);
  if (lock) {
    throw new ConcurrentUpdateError(
      `${resource} is being removed by ${lock.owner}; waiting for it to finish`,
    );
  }
}

export interface LeaveOutcome<T> {
  readonly removed: boolean;
  readonly remaining: number;
  readonly result?: T;
}

/** Leaves a shared resource and removes it if this was its last member. */
export async function leaveShared<T>(
  repo: LinkRepository,
  resource: string,
  member: string,
  owner: string,
  nowMs: number,
  removeIfUnused: () => Promise<T>,
): Promise<LeaveOutcome<T>> {
  await repo.deleteMember(resource, member);
  // Members left: nothing will be removed, so no lock is needed (and none is contended:
  // every link but the last leaves without one).
  const others = (await repo.members(resource)).length;
  if (others > 0) {
    // A crashed earlier run of this leave may still hold the lock: let it go (a no-op otherwise).
    await repo.releaseRemovalLock(resource, owner);
    return { removed: false, remaining: others };
  }
  await repo.acquireRemovalLock(resource, owner, nowMs, REMOVAL_LEASE_MS);
  try {
    const remaining = (await repo.members(resource)).length;
    if (remaining > 0) return { removed: false, remaining };
    return { removed: true, remaining: 0, result: await removeIfUnused() };
  } finally {
    await repo.releaseRemovalLock(resource, owner);
  }
}
