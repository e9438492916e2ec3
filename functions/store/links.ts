/**
 * Link records and onboarding requests in the one table (keys in `./table`). Every status
 * change is a conditional write on the version read, checked against `#link/lifecycle`, so
 * no update is lost under concurrent writers.
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

/** Who asks for a new link, and whether it must wait for an approver (`createOrGet`). */
export interface LinkOrigin {
  readonly createdBy?: Caller;
  readonly awaitingApproval?: boolean;
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

  /** The live link for this workload → target, if one exists. */
  async findByNaturalKey(spec: Pick<LinkSpec, 'source' | 'target'>): Promise<Link | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.naturalKey(spec),
        ConsistentRead: true,
      }),
    );
    const linkId = out.Item?.linkId as string | undefined;
    if (!linkId) return undefined;
    const link = await this.find(linkId);
    return link && !isDeleted(link.status) ? link : undefined;
  }

  /**
   * Creates a PENDING link unless a live one exists for the same workload → target.
   * The natural-key item is claimed first, so two concurrent requests make one link; a key
   * left by a crash before its link was written (or by a DELETED link) is taken over.
   * `origin` says who asked (recorded as `createdBy` and `requestedBy`) and whether the new
   * link must wait for an approver (AWAITING_APPROVAL, written in the same put, so a crash
   * never leaves a dangerous request PENDING).
   */
  async createOrGet(
    id: string,
    requestId: string,
    spec: LinkSpec,
    now: string,
    origin: LinkOrigin = {},
  ): Promise<{ link: Link; created: boolean }> {
    const naturalKey = keys.naturalKey(spec);
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: naturalKey,
          ConsistentRead: true,
        }),
      );
      const holder = existing.Item?.linkId as string | undefined;
      if (holder) {
        const link = await this.find(holder);
        if (link && !isDeleted(link.status)) return { link, created: false };
      }
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...naturalKey, linkId: id, naturalKey: linkNaturalKey(spec), createdAt: now },
            ConditionExpression: holder ? 'linkId = :holder' : 'attribute_not_exists(pk)',
            ...(holder ? { ExpressionAttributeValues: { ':holder': holder } } : {}),
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) continue; // someone else claimed it: read again
        throw err;
      }
      const link: LinkItem = {
        ...keys.link(id),
        gsi1pk: 'LINKS',
        gsi1sk: `${now}#${id}`,
        naturalKey: linkNaturalKey(spec),
        id,
        requestId,
        status: origin.awaitingApproval ? 'AWAITING_APPROVAL' : 'PENDING',
        version: 1,
        spec,
        steps: {},
        outputs: {},
        ...(origin.createdBy ? { createdBy: origin.createdBy, requestedBy: origin.createdBy } : {}),
        createdAt: now,
        updatedAt: now,
      };
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: link,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { link: toLink(link as unknown as Record<string, unknown>), created: true };
    }
    throw new ConcurrentUpdateError(`Too many concurrent requests for ${linkNaturalKey(spec)}`);
  }

  /** Records an onboarding request and the links it made. */
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
