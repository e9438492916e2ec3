/**
 * Link records and onboarding requests in the one table (keys in `./table`). Every status
 * change is a conditional write on the version read, checked against `#link/lifecycle`, so
 * no update is lost under concurrent writers.
 *
 * One link per workload → target: a request first reserves the natural-key item with one
 * conditional write ({@link LinkStore.reserve}); the item carries the whole link to be and a
 * lease, so the link item can be written from it by anyone ({@link LinkStore.commit}), and a
 * holder is never taken for stale while its lease runs.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError, LinkNotFoundError, LinkStateError } from '#link/errors';
import { canTransition, isDeleted } from '#link/lifecycle';
import type { Caller } from '#link/caller';
import type {
  ApprovalRecord,
  Link,
  LinkVerification,
  LinkError,
  LinkOutputs,
  LinkSpec,
  LinkStatus,
  StepResult,
} from '#link/model';
import { linkNaturalKey } from '#link/names';
import { DEFAULT_TABLE_NAME, GSI_BY_CREATED, isConditionFailure, keys } from './table';

/** How long a DELETED link stays readable. */
export const DELETED_TTL_SECONDS = 7 * 24 * 3600;

export interface LinkFilters {
  readonly status?: LinkStatus;
  /** Links made by one onboarding request. */
  readonly requestId?: string;
  readonly sourceAccountId?: string;
  readonly sourceCluster?: string;
  readonly namespace?: string;
  readonly serviceAccount?: string;
  readonly targetAccountId?: string;
  readonly targetCluster?: string;
}

/** Who asks for a new link, and whether it must wait for an approver ({@link LinkStore.reserve}). */
export interface LinkOrigin {
  readonly createdBy?: Caller;
  readonly awaitingApproval?: boolean;
}

/** The origin's fields that are set (DynamoDB items carry no undefined attributes). */
function originOf(o: LinkOrigin): LinkOrigin {
  return {
    ...(o.createdBy ? { createdBy: o.createdBy } : {}),
    ...(o.awaitingApproval ? { awaitingApproval: true } : {}),
  };
}

interface LinkItem extends Link {
  readonly pk: string;
  readonly sk: string;
  readonly gsi1pk?: string;
  readonly gsi1sk?: string;
  readonly naturalKey: string;
  readonly expiresAt?: number;
}

function toLink(item: Record<string, unknown>): Link {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, naturalKey: _nk, expiresAt: _e, ...link } = item;
  return link as unknown as Link;
}

/**
 * The first state of a link as a reservation describes it (version 1, nothing done yet):
 * PENDING, or AWAITING_APPROVAL when an approver must decide first.
 */
function pendingLink(r: Reservation): Link {
  return {
    id: r.linkId,
    requestId: r.requestId,
    status: r.awaitingApproval ? 'AWAITING_APPROVAL' : 'PENDING',
    version: 1,
    spec: r.spec,
    steps: {},
    outputs: {},
    ...(r.createdBy ? { createdBy: r.createdBy, requestedBy: r.createdBy } : {}),
    createdAt: r.createdAt,
    updatedAt: r.createdAt,
  };
}

/**
 * How long a request's reservation of a workload → target is its own. Within it, others
 * wait for the link (a reservation lives from a request's claim to its commit: milliseconds);
 * after it, the request is taken to have crashed and the key may be taken over.
 */
export const NATURAL_KEY_LEASE_MS = 30_000;

/** The link a request is about to make: what the natural-key item carries. */
export interface Reservation extends LinkOrigin {
  readonly linkId: string;
  readonly requestId: string;
  readonly spec: LinkSpec;
  readonly createdAt: string;
}

/** What {@link LinkStore.reserve} found. */
export type KeyClaim =
  | { readonly kind: 'reserved'; readonly reservation: Reservation }
  | { readonly kind: 'existing'; readonly link: Link }
  | { readonly kind: 'busy'; readonly holder: string };

/**
 * The natural-key item: one per workload → target. RESERVED while a request makes the link
 * (with a lease), COMMITTED once the link exists. Items written before reservations existed
 * have `linkId`, `naturalKey` and `createdAt` only.
 */
interface NaturalKeyItem {
  readonly pk: string;
  readonly sk: string;
  readonly naturalKey: string;
  readonly linkId: string;
  readonly createdAt: string;
  readonly requestId?: string;
  readonly spec?: LinkSpec;
  readonly state?: 'RESERVED' | 'COMMITTED';
  readonly leaseUntil?: number;
  readonly createdBy?: Caller;
  readonly awaitingApproval?: boolean;
}

/**
 * Link records and onboarding requests.
 *
 * @example
 * const links = new LinkStore(clients.dynamodb(), 'tether');
 * const link = await links.get('lnk_01J…');
 */
export class LinkStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string = DEFAULT_TABLE_NAME,
  ) {}

  /** The link, or undefined. */
  async find(id: string): Promise<Link | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.link(id),
        ConsistentRead: true,
      }),
    );
    return out.Item ? toLink(out.Item) : undefined;
  }

  /** The link; {@link LinkNotFoundError} if there is none. */
  async get(id: string): Promise<Link> {
    const link = await this.find(id);
    if (!link) throw new LinkNotFoundError(`Link ${id} does not exist`);
    return link;
  }

  /**
   * The live link for this workload → target, if one exists. A key whose request committed
   * it but crashed before writing the link item answers the link it names (the item is not
   * written here: a plan changes nothing); a key only reserved by a request still making it
   * is no link yet.
   */
  async findByNaturalKey(spec: Pick<LinkSpec, 'source' | 'target'>): Promise<Link | undefined> {
    const item = await this.#naturalKeyItem(spec);
    if (!item || item.state === 'RESERVED') return undefined;
    const link = (await this.find(item.linkId)) ?? (item.spec ? pendingLink(item as Reservation) : undefined);
    return link && !isDeleted(link.status) ? link : undefined;
  }

  async #naturalKeyItem(spec: Pick<LinkSpec, 'source' | 'target'>): Promise<NaturalKeyItem | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: keys.naturalKey(spec), ConsistentRead: true }),
    );
    return out.Item as NaturalKeyItem | undefined;
  }

  /**
   * Reserves the workload → target of `spec` for a link `id` that request `requestId` is about
   * to make, or finds who holds it. One conditional write decides between concurrent
   * requests; the key item carries the whole link to be (id, request, spec, time), so the
   * link item can be written from it by anyone, and a holder is never taken for stale within
   * its lease ({@link NATURAL_KEY_LEASE_MS}).
   *
   * - `reserved`: this request holds the key (a new reservation, or its own from an earlier
   *   attempt of the same request id, whose link id it keeps). {@link commit} it, or
   *   {@link release} it.
   * - `existing`: a live link holds it (its item is written here if a crash left only the key).
   * - `busy`: another request holds it and is still making its link: ask again shortly.
   *
   * A key whose link is DELETED, or whose reservation outlived its lease (a crashed request),
   * is taken over. `origin` says who asked (recorded as `createdBy` and `requestedBy`) and
   * whether the link must wait for an approver (AWAITING_APPROVAL, carried by the reservation
   * into the link's first put, so a crash never leaves a dangerous request PENDING).
   */
  async reserve(
    id: string,
    requestId: string,
    spec: LinkSpec,
    now: Date,
    origin: LinkOrigin = {},
  ): Promise<KeyClaim> {
    const key = keys.naturalKey(spec);
    const nowMs = now.getTime();
    const mine: Reservation = {
      linkId: id,
      requestId,
      spec,
      createdAt: now.toISOString(),
      ...originOf(origin),
    };
    const fresh = (r: Reservation): NaturalKeyItem => ({
      ...key,
      naturalKey: linkNaturalKey(spec),
      ...r,
      state: 'RESERVED',
      leaseUntil: nowMs + NATURAL_KEY_LEASE_MS,
    });
    for (let attempt = 0; attempt < 5; attempt++) {
      const item = await this.#naturalKeyItem(spec);
      try {
        if (!item) {
          await this.db.send(
            new PutCommand({
              TableName: this.tableName,
              Item: fresh(mine),
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
          return { kind: 'reserved', reservation: mine };
        }
        if (item.state === 'RESERVED') {
          if (item.requestId === requestId) {
            // An earlier attempt of this very request (a retry with its Idempotency-Key): adopt it.
            const own: Reservation = {
              linkId: item.linkId,
              requestId,
              spec: item.spec as LinkSpec,
              createdAt: item.createdAt,
              ...originOf(item),
            };
            await this.#replaceKey(fresh(own), item);
            return { kind: 'reserved', reservation: own };
          }
          if ((item.leaseUntil ?? 0) >= nowMs) return { kind: 'busy', holder: item.linkId };
          await this.#replaceKey(fresh(mine), item); // a request that crashed while making it
          return { kind: 'reserved', reservation: mine };
        }
        // COMMITTED (or an item of an older release, which names a link only).
        const link = await this.find(item.linkId);
        if (link && !isDeleted(link.status)) return { kind: 'existing', link };
        if (link || (!item.spec && Date.parse(item.createdAt) + NATURAL_KEY_LEASE_MS < nowMs)) {
          await this.#replaceKey(fresh(mine), item); // DELETED, or an old-style key left by a crash
          return { kind: 'reserved', reservation: mine };
        }
        if (!item.spec) return { kind: 'busy', holder: item.linkId };
        // Committed, but the request crashed before writing its link: write it now.
        return { kind: 'existing', link: await this.#writeLink(item as Reservation) };
      } catch (err) {
        if (isConditionFailure(err)) continue; // someone else wrote the key first: read again
        throw err;
      }
    }
    throw new ConcurrentUpdateError(`Too many concurrent requests for ${linkNaturalKey(spec)}`);
  }

  /** Puts `next` in place of the key item `seen`, if it is still the one seen. */
  async #replaceKey(next: NaturalKeyItem, seen: NaturalKeyItem): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: next,
        ConditionExpression:
          seen.leaseUntil === undefined
            ? 'linkId = :holder AND attribute_not_exists(leaseUntil)'
            : 'linkId = :holder AND leaseUntil = :lease',
        ExpressionAttributeValues: {
          ':holder': seen.linkId,
          ...(seen.leaseUntil === undefined ? {} : { ':lease': seen.leaseUntil }),
        },
      }),
    );
  }

  /**
   * Makes the link of a reservation: the key becomes COMMITTED (conditional on the
   * reservation still being this one), then the PENDING link item is written from it. A
   * retry of a commit that already happened, or a link item already written from the key,
   * changes nothing.
   */
  async commit(reservation: Reservation): Promise<Link> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.naturalKey(reservation.spec),
          UpdateExpression: 'SET #state = :committed REMOVE leaseUntil',
          ConditionExpression: 'linkId = :id',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':committed': 'COMMITTED', ':id': reservation.linkId },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) {
        throw new ConcurrentUpdateError(
          `The reservation of ${linkNaturalKey(reservation.spec)} for ${reservation.linkId} was taken over before it was committed`,
        );
      }
      throw err;
    }
    return this.#writeLink(reservation);
  }

  /** Gives up a reservation this request holds (it will make no link), so others need not wait for its lease. */
  async release(reservation: Reservation): Promise<void> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.naturalKey(reservation.spec),
          ConditionExpression: 'linkId = :id AND #state = :reserved',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':id': reservation.linkId, ':reserved': 'RESERVED' },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err; // not ours any more
    }
  }

  /** Writes the PENDING link item of a committed key, unless it is there already. */
  async #writeLink(r: Reservation): Promise<Link> {
    const link = pendingLink(r);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.link(r.linkId),
            gsi1pk: 'LINKS',
            gsi1sk: `${r.createdAt}#${r.linkId}`,
            naturalKey: linkNaturalKey(r.spec),
            ...link,
          } satisfies LinkItem,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return link;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return this.get(r.linkId); // written already (by an earlier attempt, or by another request)
    }
  }

  /**
   * Queues a link for a new run: `from` (PENDING or FAILED, at the version read) → PENDING at
   * the next version, whose run is `onboardExecutionName` of the result. Conditional on the
   * status and version read, so of concurrent callers exactly one gets the link back;
   * the others get undefined.
   */
  async requeue(from: Pick<Link, 'id' | 'status' | 'version'>, now: string): Promise<Link | undefined> {
    if (!canTransition(from.status, 'PENDING')) {
      throw new LinkStateError(`Link ${from.id} is ${from.status} and cannot be queued again`);
    }
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.link(from.id),
          UpdateExpression: 'SET #status = :pending, #version = #version + :one, #updatedAt = :now',
          ConditionExpression: '#status = :from AND #version = :v',
          ExpressionAttributeNames: { '#status': 'status', '#version': 'version', '#updatedAt': 'updatedAt' },
          ExpressionAttributeValues: {
            ':pending': 'PENDING',
            ':from': from.status,
            ':v': from.version,
            ':one': 1,
            ':now': now,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toLink(out.Attributes ?? {});
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  /**
   * Takes a link for one run of the reconcile workflow: `from` (ACTIVE or DEGRADED, at the
   * version read) → RECONCILING, recording the run, its steps reset. Conditional on the status
   * and version read, so of concurrent runs exactly one takes it; the others get undefined.
   */
  async takeForReconcile(
    from: Pick<Link, 'id' | 'status' | 'version'>,
    execution: NonNullable<Link['lastExecution']>,
    now: string,
  ): Promise<Link | undefined> {
    if (!canTransition(from.status, 'RECONCILING')) {
      throw new LinkStateError(`Link ${from.id} is ${from.status} and cannot be reconciled`);
    }
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.link(from.id),
          UpdateExpression:
            'SET #status = :to, #version = #version + :one, #updatedAt = :now, #steps = :noSteps, #lastExecution = :exec, #runs = list_append(if_not_exists(#runs, :noRuns), :run) REMOVE #error',
          ConditionExpression: '#status = :from AND #version = :v',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#version': 'version',
            '#updatedAt': 'updatedAt',
            '#steps': 'steps',
            '#lastExecution': 'lastExecution',
            '#runs': 'runs',
            '#error': 'error',
          },
          ExpressionAttributeValues: {
            ':to': 'RECONCILING',
            ':from': from.status,
            ':v': from.version,
            ':one': 1,
            ':now': now,
            ':noSteps': {},
            ':exec': execution,
            ':noRuns': [],
            ':run': [{ ...execution, startedAt: now }],
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toLink(out.Attributes ?? {});
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  /** Records an onboarding request and the links it asked for (made, found or re-driven). */
  async putRequest(requestId: string, linkIds: readonly string[], now: string): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.request(requestId), requestId, linkIds, createdAt: now },
      }),
    );
  }

  /**
   * Moves a link to `status` if the transition is allowed, optionally setting fields.
   * Conditional on the version read, so no update is lost; retried on a race.
   */
  async transition(
    id: string,
    to: LinkStatus,
    now: string,
    changes: {
      error?: LinkError | null;
      outputs?: LinkOutputs;
      lastExecution?: Link['lastExecution'];
      resetSteps?: boolean;
      /** Who asked for this change (recorded as `requestedBy`, the caller of the next run). */
      requestedBy?: Caller;
    } = {},
  ): Promise<Link> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const link = await this.get(id);
      if (link.status === to && changes.resetSteps !== true && changes.lastExecution === undefined) {
        // Already there (a re-run): write only what changed.
        if (changes.error === undefined && changes.outputs === undefined) return link;
      }
      if (link.status !== to && !canTransition(link.status, to)) {
        throw new LinkStateError(`Link ${id} is ${link.status} and cannot become ${to}`);
      }
      const names: Record<string, string> = {
        '#status': 'status',
        '#version': 'version',
        '#updatedAt': 'updatedAt',
      };
      const values: Record<string, unknown> = { ':to': to, ':v': link.version, ':one': 1, ':now': now };
      const sets = ['#status = :to', '#version = #version + :one', '#updatedAt = :now'];
      const removes: string[] = [];
      if (changes.error === null) removes.push('#error');
      if (changes.error !== undefined) names['#error'] = 'error';
      if (changes.error) {
        sets.push('#error = :error');
        values[':error'] = changes.error;
      }
      if (changes.outputs) {
        names['#outputs'] = 'outputs';
        sets.push('#outputs = :outputs');
        values[':outputs'] = changes.outputs;
      }
      if (changes.lastExecution) {
        names['#lastExecution'] = 'lastExecution';
        names['#runs'] = 'runs';
        sets.push('#lastExecution = :exec', '#runs = list_append(if_not_exists(#runs, :noRuns), :run)');
        values[':exec'] = changes.lastExecution;
        values[':noRuns'] = [];
        values[':run'] = [{ ...changes.lastExecution, startedAt: now }];
      }
      if (changes.requestedBy) {
        names['#requestedBy'] = 'requestedBy';
        sets.push('#requestedBy = :requestedBy');
        values[':requestedBy'] = changes.requestedBy;
      }
      if (changes.resetSteps) {
        names['#steps'] = 'steps';
        sets.push('#steps = :emptySteps');
        values[':emptySteps'] = {};
      }
      if (to === 'DELETED') {
        names['#expiresAt'] = 'expiresAt';
        sets.push('#expiresAt = :ttl');
        values[':ttl'] = Math.floor(Date.parse(now) / 1000) + DELETED_TTL_SECONDS;
      }
      try {
        const out = await this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.link(id),
            UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
            ConditionExpression: '#version = :v',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        );
        return toLink(out.Attributes ?? {});
      } catch (err) {
        if (isConditionFailure(err)) continue;
        throw err;
      }
    }
    throw new ConcurrentUpdateError(`Link ${id} kept changing while moving to ${to}`);
  }

  /**
   * Writes one step's result (and optionally merges outputs) on the link. Each step owns
   * its own map entry, so concurrent steps of the Parallel state never overwrite each other.
   */
  async recordStep(
    id: string,
    step: string,
    result: StepResult,
    outputs?: Partial<LinkOutputs>,
  ): Promise<void> {
    const names: Record<string, string> = {
      '#steps': 'steps',
      '#step': step,
      '#version': 'version',
      '#updatedAt': 'updatedAt',
      '#status': 'status',
    };
    const values: Record<string, unknown> = {
      ':r': result,
      ':one': 1,
      ':now': result.endedAt ?? result.startedAt,
      ':deleted': 'DELETED',
    };
    const sets = ['#steps.#step = :r', '#version = #version + :one', '#updatedAt = :now'];
    for (const [i, [key, value]] of Object.entries(outputs ?? {}).entries()) {
      names['#outputs'] = 'outputs';
      names[`#o${i}`] = key;
      values[`:o${i}`] = value;
      sets.push(`#outputs.#o${i} = :o${i}`);
    }
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.link(id),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(pk) AND #status <> :deleted',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (err) {
      if (isConditionFailure(err))
        throw new LinkStateError(`Link ${id} is gone or DELETED; step ${step} not recorded`);
      throw err;
    }
  }

  /** Links, newest first, filtered; `cursor` continues a previous page. */
  async list(
    filters: LinkFilters,
    limit: number,
    cursor?: Record<string, unknown>,
  ): Promise<{ items: Link[]; next?: Record<string, unknown> }> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':links': 'LINKS' };
    const conditions: string[] = [];
    const add = (path: string[], value: string | undefined) => {
      if (value === undefined) return;
      const placeholders = path.map((p) => {
        names[`#${p}`] = p;
        return `#${p}`;
      });
      const v = `:f${conditions.length}`;
      values[v] = value;
      conditions.push(`${placeholders.join('.')} = ${v}`);
    };
    add(['status'], filters.status);
    add(['requestId'], filters.requestId);
    add(['spec', 'source', 'accountId'], filters.sourceAccountId);
    add(['spec', 'source', 'cluster'], filters.sourceCluster);
    add(['spec', 'source', 'namespace'], filters.namespace);
    add(['spec', 'source', 'serviceAccount'], filters.serviceAccount);
    // `target` and `source` share attribute names; give the target path its own placeholders.
    if (filters.targetAccountId !== undefined) {
      names['#spec'] = 'spec';
      names['#tgt'] = 'target';
      names['#accountId'] = 'accountId';
      values[':tacct'] = filters.targetAccountId;
      conditions.push('#spec.#tgt.#accountId = :tacct');
    }
    if (filters.targetCluster !== undefined) {
      names['#spec'] = 'spec';
      names['#tgt'] = 'target';
      names['#cluster'] = 'cluster';
      values[':tcluster'] = filters.targetCluster;
      conditions.push('#spec.#tgt.#cluster = :tcluster');
    }
    const items: Link[] = [];
    let startKey = cursor;
    // A filter applies after the page is read, so keep reading until the page is full.
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: GSI_BY_CREATED,
          KeyConditionExpression: 'gsi1pk = :links',
          ...(conditions.length ? { FilterExpression: conditions.join(' AND ') } : {}),
          ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: limit - items.length,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of out.Items ?? []) items.push(toLink(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey && items.length < limit);
    return startKey ? { items, next: startKey } : { items };
  }

  /**
   * One page of the links in `statuses` (the drift sweep's ACTIVE and DEGRADED), oldest
   * first, from the `byCreated` index: one Query reads up to `limit` items (1 MB at most),
   * eventually consistent (half the read units; a link that changes meanwhile is seen by
   * the next sweep). The filter applies after the read, so items of other statuses are
   * paid for too: the page may hold fewer than `limit`.
   */
  async pageByStatus(
    statuses: readonly LinkStatus[],
    limit: number,
    cursor?: Record<string, unknown>,
  ): Promise<{ items: Link[]; read: number; next?: Record<string, unknown> }> {
    const values: Record<string, unknown> = { ':links': 'LINKS' };
    statuses.forEach((st, i) => {
      values[`:s${i}`] = st;
    });
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: GSI_BY_CREATED,
        KeyConditionExpression: 'gsi1pk = :links',
        FilterExpression: `#status IN (${statuses.map((_, i) => `:s${i}`).join(', ')})`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: values,
        Limit: limit,
        ...(cursor ? { ExclusiveStartKey: cursor } : {}),
      }),
    );
    const items = (out.Items ?? []).map(toLink);
    const read = out.ScannedCount ?? items.length;
    return out.LastEvaluatedKey ? { items, read, next: out.LastEvaluatedKey } : { items, read };
  }

  /** Where the last drift sweep stopped in the `byCreated` index (its `next`), if it ran out of time. */
  async sweepCursor(): Promise<Record<string, unknown> | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: keys.sweepCursor(), ConsistentRead: true }),
    );
    return out.Item?.cursor as Record<string, unknown> | undefined;
  }

  /** Records where a sweep stopped, for the next one to go on from; `undefined` forgets it (the sweep got to the end). */
  async saveSweepCursor(cursor: Record<string, unknown> | undefined, at: string): Promise<void> {
    if (cursor) {
      await this.db.send(
        new PutCommand({ TableName: this.tableName, Item: { ...keys.sweepCursor(), cursor, at } }),
      );
    } else await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: keys.sweepCursor() }));
  }

  /**
   * Records who asks for the link's next run (a reconcile), conditional on the version read:
   * of two callers racing at one version, one wins and the other gets a
   * {@link ConcurrentUpdateError}. Returns the link at its new version.
   */
  async recordRequester(id: string, version: number, requestedBy: Caller, now: string): Promise<Link> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.link(id),
          UpdateExpression: 'SET #requestedBy = :r, #version = #version + :one, #updatedAt = :now',
          ConditionExpression: '#version = :v',
          ExpressionAttributeNames: {
            '#requestedBy': 'requestedBy',
            '#version': 'version',
            '#updatedAt': 'updatedAt',
          },
          ExpressionAttributeValues: { ':r': requestedBy, ':one': 1, ':now': now, ':v': version },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toLink(out.Attributes ?? {});
    } catch (err) {
      if (isConditionFailure(err))
        throw new ConcurrentUpdateError(`Link ${id} changed since version ${version}`);
      throw err;
    }
  }

  /**
   * Records a verification on the link (`verification`, replacing the last one). It is an
   * observation, not a change of the link: it does not move the version, so it races with no
   * workflow write; a link deleted meanwhile is not brought back (the item must exist).
   */
  async recordVerification(id: string, verification: LinkVerification): Promise<Link> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.link(id),
          UpdateExpression: 'SET #verification = :v',
          ConditionExpression: 'attribute_exists(#id)',
          ExpressionAttributeNames: { '#verification': 'verification', '#id': 'id' },
          ExpressionAttributeValues: { ':v': verification },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toLink(out.Attributes ?? {});
    } catch (err) {
      if (isConditionFailure(err)) throw new ConcurrentUpdateError(`Link ${id} is gone`);
      throw err;
    }
  }

  /**
   * An approver's decision on a link in AWAITING_APPROVAL, in one conditional write on the
   * version read: `approve` queues it (PENDING, for the onboard to take), `reject` ends it
   * (REJECTED, readable for {@link DELETED_TTL_SECONDS}, and its natural key released so the
   * workload → target may be asked for again). The decision is appended to `approvals`.
   * {@link LinkStateError} if the link is no longer waiting, {@link ConcurrentUpdateError}
   * if it changed since `version`.
   */
  async decideApproval(link: Link, approval: ApprovalRecord): Promise<Link> {
    if (link.status !== 'AWAITING_APPROVAL') {
      throw new LinkStateError(`Link ${link.id} is ${link.status}; only a link AWAITING_APPROVAL is decided`);
    }
    const to: LinkStatus = approval.decision === 'approve' ? 'PENDING' : 'REJECTED';
    const sets = [
      '#status = :to',
      '#version = #version + :one',
      '#updatedAt = :now',
      '#approvals = list_append(if_not_exists(#approvals, :none), :approval)',
    ];
    const values: Record<string, unknown> = {
      ':to': to,
      ':one': 1,
      ':now': approval.at,
      ':v': link.version,
      ':waiting': 'AWAITING_APPROVAL',
      ':none': [],
      ':approval': [approval],
    };
    const names: Record<string, string> = {
      '#status': 'status',
      '#version': 'version',
      '#updatedAt': 'updatedAt',
      '#approvals': 'approvals',
    };
    if (to === 'REJECTED') {
      names['#expiresAt'] = 'expiresAt';
      sets.push('#expiresAt = :ttl');
      values[':ttl'] = Math.floor(Date.parse(approval.at) / 1000) + DELETED_TTL_SECONDS;
    }
    let decided: Link;
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.link(link.id),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: '#version = :v AND #status = :waiting',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      decided = toLink(out.Attributes ?? {});
    } catch (err) {
      if (isConditionFailure(err))
        throw new ConcurrentUpdateError(`Link ${link.id} changed while it was being decided`);
      throw err;
    }
    if (to === 'REJECTED') await this.releaseNaturalKey(link.spec, link.id);
    return decided;
  }

  /** Releases the natural key of a DELETED link, so the same workload → target can be linked again. */
  async releaseNaturalKey(spec: Pick<LinkSpec, 'source' | 'target'>, linkId: string): Promise<void> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.naturalKey(spec),
          ConditionExpression: 'linkId = :id',
          ExpressionAttributeValues: { ':id': linkId },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err; // already released, or another link holds it now
    }
  }
}
