/**
 * A deterministic scheduler for the membership protocol: each actor runs the real
 * `joinShared` / `leaveShared` against the embedded table, but parks before every table
 * operation (and before it ensures or removes the shared resource) until the driver lets
 * it go. The driver lets exactly one actor take one step at a time, in an order given by a
 * schedule, so a seed replays the same interleaving.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MembershipStore } from '#store/memberships';

/** Parks actor `i` until the driver gives it the next step. */
export type Step = () => Promise<void>;

/** A MembershipStore whose every table operation waits for the actor's next step first. */
export class SteppedMembershipStore extends MembershipStore {
  constructor(
    db: DynamoDBDocumentClient,
    tableName: string,
    private readonly step: Step,
  ) {
    super(db, tableName);
  }

  override async put(resource: string, member: string, attributes?: Record<string, unknown>) {
    await this.step();
    return super.put(resource, member, attributes);
  }

  override async delete(resource: string, member: string) {
    await this.step();
    return super.delete(resource, member);
  }

  override async members(resource: string) {
    await this.step();
    return super.members(resource);
  }

  override async removalLock(resource: string, nowMs: number) {
    await this.step();
    return super.removalLock(resource, nowMs);
  }

  override async acquireRemovalLock(resource: string, owner: string, nowMs: number, leaseMs: number) {
    await this.step();
    return super.acquireRemovalLock(resource, owner, nowMs, leaseMs);
  }

  override async releaseRemovalLock(resource: string, owner: string) {
    await this.step();
    return super.releaseRemovalLock(resource, owner);
  }
}

/** One turn of a schedule: which of the waiting actors goes (modulo their number), for how many steps in a row. */
export type Turn = readonly [who: number, steps: number];

/**
 * Runs `actors` to completion, one step at a time. Each turn of `schedule` picks a waiting
 * actor and lets it take up to that many steps in a row (runs of one actor are what most
 * races need); once the schedule runs out, the waiting actors go one step each in turn, so
 * every run ends. Returns the order in which the actors stepped.
 */
export async function runInterleaved(
  actors: readonly ((step: Step) => Promise<void>)[],
  schedule: readonly Turn[],
): Promise<number[]> {
  const parked = new Map<number, () => void>();
  const done = new Set<number>();
  const errors: unknown[] = [];
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const settled = () => parked.size + done.size === actors.length;
  const untilSettled = async () => {
    while (!settled()) await new Promise<void>((resolve) => (wake = resolve));
  };

  actors.forEach((actor, i) => {
    const step: Step = () =>
      new Promise<void>((resolve) => {
        parked.set(i, resolve);
        notify();
      });
    actor(step)
      .catch((err: unknown) => errors.push(err))
      .finally(() => {
        done.add(i);
        notify();
      });
  });

  const order: number[] = [];
  const stepOnce = async (actor: number) => {
    const release = parked.get(actor)!;
    parked.delete(actor);
    order.push(actor);
    release();
    await untilSettled();
  };
  await untilSettled();
  for (const [who, steps] of schedule) {
    const ready = [...parked.keys()].sort((a, b) => a - b);
    if (ready.length === 0) break;
    const actor = ready[who % ready.length]!;
    for (let n = 0; n < steps && parked.has(actor); n++) await stepOnce(actor);
  }
  for (let next = 0; parked.size > 0; next++) {
    if (order.length > 10_000) throw new Error('The actors never finished');
    const ready = [...parked.keys()].sort((a, b) => a - b);
    await stepOnce(ready[next % ready.length]!);
  }
  if (errors.length) throw errors[0];
  return order;
}
