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
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError } from '#link/errors';
import {
  CONFIRMED_SK,
  DEFAULT_TABLE_NAME,
  isConditionFailure,
  MANAGED_MARKER_SK,
  REMOVAL_LOCK_SK,
} from './table';

/**
 * Membership items and removal locks of shared resources, in the one table (keys from
 * `membership` in `./table`).
 *
 * @example
 * const memberships = new MembershipStore(db);
 * await joinShared(memberships, membership.workload(key), membership.link(id), {}, Date.now());
 */
export class MembershipStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string = DEFAULT_TABLE_NAME,
  ) {}

  /** Adds (or refreshes) a member of a shared resource. */
  async put(resource: string, member: string, attributes: Record<string, unknown> = {}): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.tableName, Item: { ...attributes, pk: resource, sk: member } }),
    );
  }

  /** One item beside a shared resource's members (consistent read). */
  async #item(resource: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: resource, sk }, ConsistentRead: true }),
    );
    return out.Item;
  }

  /** Whether Tether itself put the shared resource in place ({@link MANAGED_MARKER_SK}). */
  async isManaged(resource: string): Promise<boolean> {
    return (await this.#item(resource, MANAGED_MARKER_SK)) !== undefined;
  }

  /** Records that Tether put the shared resource in place (before it does). */
  async markManaged(resource: string): Promise<void> {
    await this.put(resource, MANAGED_MARKER_SK);
  }

  /** Forgets that Tether put the shared resource in place (once it is gone). */
  async unmarkManaged(resource: string): Promise<void> {
    await this.delete(resource, MANAGED_MARKER_SK);
  }

  /** The last confirmation of a shared resource ({@link CONFIRMED_SK}), if any. */
  async confirmation(resource: string): Promise<Confirmation | undefined> {
    const item = await this.#item(resource, CONFIRMED_SK);
    if (!item || typeof item.desired !== 'string') return undefined;
    return { desired: item.desired, by: String(item.by), at: String(item.at) };
  }

  /** Records that a run has just read the shared resource and found or made it as `desired` says. */
  async confirm(resource: string, confirmation: Confirmation): Promise<void> {
    await this.put(resource, CONFIRMED_SK, { ...confirmation });
  }

  /** Forgets a confirmation: the resource was found changed, or is going. */
  async forgetConfirmation(resource: string): Promise<void> {
    await this.delete(resource, CONFIRMED_SK);
  }

  async delete(resource: string, member: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: resource, sk: member } }));
  }

  /** Every member of a shared resource (consistent read). */
  async members(resource: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': resource },
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      // The removal lock (and the managed marker) live beside the members; they are not ones.
      items.push(...(out.Items ?? []).filter((i) => !String(i.sk).startsWith('#')));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  /** The removal lock of a shared resource, if one is held and not expired. */
  async removalLock(
    resource: string,
    nowMs: number,
  ): Promise<{ owner: string; leaseUntil: number } | undefined> {
    const item = await this.#item(resource, REMOVAL_LOCK_SK);
    if (!item || (item.leaseUntil as number) <= nowMs) return undefined;
    return { owner: item.owner as string, leaseUntil: item.leaseUntil as number };
  }

  /**
   * Takes the removal lock of a shared resource for `owner` (free, expired, or already
   * `owner`'s after a crash); {@link ConcurrentUpdateError} while another holds it.
   */
  async acquireRemovalLock(resource: string, owner: string, nowMs: number, leaseMs: number): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: resource, sk: REMOVAL_LOCK_SK, owner, leaseUntil: nowMs + leaseMs },
          ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now OR #owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': nowMs, ':owner': owner },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err))
        throw new ConcurrentUpdateError(`${resource} is being removed by another link`);
      throw err;
    }
  }

  async releaseRemovalLock(resource: string, owner: string): Promise<void> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: resource, sk: REMOVAL_LOCK_SK },
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err; // not ours any more (expired and taken): nothing to release
    }
  }
}

/** A run's reading of a shared resource: the digest of what Tether wants it to be, who read it, when. */
export interface Confirmation {
  /** `desiredDigest` of the resource's desired state (`#resources/source-side`). */
  readonly desired: string;
  /** The link whose run read it. */
  readonly by: string;
  /** When (ISO 8601). */
  readonly at: string;
}

/** How long a removal may hold a shared resource before a joiner may go ahead anyway. */
export const REMOVAL_LEASE_MS = 120_000;

/** Joins a shared resource; throws while a removal of it is under way. */
export async function joinShared(
  memberships: MembershipStore,
  resource: string,
  member: string,
  attributes: Record<string, unknown>,
  nowMs: number,
): Promise<void> {
  await memberships.put(resource, member, attributes);
  const lock = await memberships.removalLock(resource, nowMs);
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
  memberships: MembershipStore,
  resource: string,
  member: string,
  owner: string,
  nowMs: number,
  removeIfUnused: () => Promise<T>,
): Promise<LeaveOutcome<T>> {
  await memberships.delete(resource, member);
  // Members left: nothing will be removed, so no lock is needed (and none is contended:
  // every link but the last leaves without one).
  const others = (await memberships.members(resource)).length;
  if (others > 0) {
    // A crashed earlier run of this leave may still hold the lock: let it go (a no-op otherwise).
    await memberships.releaseRemovalLock(resource, owner);
    return { removed: false, remaining: others };
  }
  await memberships.acquireRemovalLock(resource, owner, nowMs, REMOVAL_LEASE_MS);
  try {
    const remaining = (await memberships.members(resource)).length;
    if (remaining > 0) return { removed: false, remaining };
    return { removed: true, remaining: 0, result: await removeIfUnused() };
  } finally {
    await memberships.releaseRemovalLock(resource, owner);
  }
}

export interface LeaveAllOutcome<T> {
  /** The resources other members still use, with how many. */
  readonly kept: readonly { readonly resource: string; readonly remaining: number }[];
  /** The resources this member was the last of, handed to the removal. */
  readonly removed: readonly string[];
  readonly result?: T;
}

/**
 * {@link leaveShared} for several resources at once, so one AWS call removes all of those
 * this member was the last of (one RevokeSecurityGroupIngress, one UpdateClusterConfig). The
 * protocol is the same for each resource: delete the member, read the members; the last
 * member takes the removal lock, reads again, and only then removes; the locks go at the end.
 */
export async function leaveSharedAll<T>(
  memberships: MembershipStore,
  resources: readonly string[],
  member: string,
  owner: string,
  nowMs: number,
  removeUnused: (unused: readonly string[]) => Promise<T>,
): Promise<LeaveAllOutcome<T>> {
  const kept: { resource: string; remaining: number }[] = [];
  const candidates: string[] = [];
  for (const resource of resources) {
    await memberships.delete(resource, member);
    const others = (await memberships.members(resource)).length;
    if (others > 0) {
      await memberships.releaseRemovalLock(resource, owner);
      kept.push({ resource, remaining: others });
    } else candidates.push(resource);
  }
  const locked: string[] = [];
  try {
    for (const resource of candidates) {
      await memberships.acquireRemovalLock(resource, owner, nowMs, REMOVAL_LEASE_MS);
      locked.push(resource);
    }
    const unused: string[] = [];
    for (const resource of locked) {
      const remaining = (await memberships.members(resource)).length;
      if (remaining > 0) kept.push({ resource, remaining });
      else unused.push(resource);
    }
    if (unused.length === 0) return { kept, removed: [] };
    return { kept, removed: unused, result: await removeUnused(unused) };
  } finally {
    for (const resource of locked) await memberships.releaseRemovalLock(resource, owner);
  }
}
