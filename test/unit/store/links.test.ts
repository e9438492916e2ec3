/**
 * Link records in the one table (`#store/links`), against the embedded DynamoDB: one live
 * link per workload → target, status changes only as `#link/lifecycle` allows and never
 * lost under a concurrent writer, one map entry per step, and filtered, paged listing.
 */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrentUpdateError, LinkNotFoundError, LinkStateError } from '#link/errors';
import { LINK_STATUSES, type Link, type LinkSpec, type LinkStatus, type StepResult } from '#link/model';
import { DELETED_TTL_SECONDS, type LinkFilters, LinkStore } from '#store/links';
import { keys } from '#store/table';
import { type EmbeddedTable, startTable, unique } from './support';

const NOW = '2026-01-01T00:00:00.000Z';
const LATER = '2026-01-01T00:05:00.000Z';
const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';

let table: EmbeddedTable;
let links: LinkStore;

beforeAll(async () => {
  table = await startTable();
  links = table.stores.links;
});
afterAll(async () => {
  await table?.close();
});

/** The spec of a link of a workload no other test uses. */
function specOf(
  overrides: { source?: Partial<LinkSpec['source']>; target?: Partial<LinkSpec['target']> } = {},
) {
  const n = unique('w');
  return {
    source: {
      accountId: '111111111111',
      region: 'ap-southeast-1',
      cluster: 'cluster-a',
      namespace: `ns-${n}`,
      serviceAccount: `sa-${n}`,
      ...overrides.source,
    },
    target: {
      accountId: '222222222222',
      region: 'ap-southeast-1',
      cluster: 'cluster-b',
      ...overrides.target,
    },
    access: { policyArn: VIEW, scope: { type: 'cluster' } },
    network: { mode: 'nat' },
    identity: { mode: 'irsa' },
  } satisfies LinkSpec as LinkSpec;
}

/** A new PENDING link, made as `POST /links` makes it: reserve the natural key, then commit. */
async function newLink(spec: LinkSpec = specOf(), requestId = unique('req'), now = NOW): Promise<Link> {
  const claim = await links.reserve(unique('lnk'), requestId, spec, new Date(now));
  if (claim.kind === 'existing') return claim.link;
  if (claim.kind !== 'reserved') throw new Error(`natural key held by ${claim.holder}`);
  return links.commit(claim.reservation);
}

/** Moves a new link along allowed transitions to `status` (the approval statuses: `approvals.test.ts`). */
const PATH_TO: Record<Exclude<LinkStatus, 'AWAITING_APPROVAL' | 'REJECTED'>, readonly LinkStatus[]> = {
  PENDING: [],
  PROVISIONING: ['PROVISIONING'],
  ACTIVE: ['PROVISIONING', 'ACTIVE'],
  FAILED: ['FAILED'],
  RECONCILING: ['PROVISIONING', 'ACTIVE', 'RECONCILING'],
  DEGRADED: ['PROVISIONING', 'ACTIVE', 'RECONCILING', 'DEGRADED'],
  DELETING: ['DELETING'],
  DELETED: ['DELETING', 'DELETED'],
};
async function linkIn(
  status: keyof typeof PATH_TO,
  spec?: LinkSpec,
  requestId?: string,
  now?: string,
): Promise<Link> {
  let link = await newLink(spec, requestId, now);
  for (const next of PATH_TO[status]) link = await links.transition(link.id, next, now ?? NOW);
  return link;
}

/** A step result as the step wrapper writes it. */
const stepResult = (overrides: Partial<StepResult> = {}): StepResult => ({
  status: 'SUCCEEDED',
  startedAt: NOW,
  endedAt: LATER,
  attempts: 1,
  ...overrides,
});

/** A document client that runs `before` ahead of each UpdateCommand it passes on. */
function interfering(db: DynamoDBDocumentClient, before: (attempt: number) => Promise<void>) {
  let updates = 0;
  const client = {
    async send(command: unknown) {
      if (command instanceof UpdateCommand) {
        updates += 1;
        await before(updates);
      }
      return db.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, updates: () => updates };
}

describe('LinkStore.findByNaturalKey', () => {
  it('finds nothing for a workload → target never linked', async () => {
    // Act
    const found = await links.findByNaturalKey(specOf());

    // Assert
    expect(found).toBeUndefined();
  });

  it('finds nothing once the link is DELETED, even before its key is released', async () => {
    // Arrange
    const spec = specOf();
    await linkIn('DELETED', spec);

    // Act
    const found = await links.findByNaturalKey(spec);

    // Assert
    expect(found).toBeUndefined();
  });

  it('finds nothing once a DELETED link released its key, and a release by another link changes nothing', async () => {
    // Arrange
    const spec = specOf();
    const live = await newLink(spec);

    // Act
    await links.releaseNaturalKey(spec, 'lnk_someone_else');
    const stillFound = await links.findByNaturalKey(spec);
    await links.releaseNaturalKey(spec, live.id);
    const afterRelease = await links.findByNaturalKey(spec);

    // Assert
    expect(stillFound?.id).toBe(live.id);
    expect(afterRelease).toBeUndefined();
  });
});

describe('LinkStore.transition', () => {
  it('moves a link along an allowed transition, bumping its version and updatedAt', async () => {
    // Arrange
    const link = await newLink();

    // Act
    const moved = await links.transition(link.id, 'PROVISIONING', LATER);

    // Assert
    expect(moved).toMatchObject({ status: 'PROVISIONING', version: 2, updatedAt: LATER, createdAt: NOW });
    expect(await links.get(link.id)).toEqual(moved);
  });

  it.each([
    ['PENDING', 'ACTIVE'],
    ['PENDING', 'DELETED'],
    ['ACTIVE', 'FAILED'],
    ['FAILED', 'ACTIVE'],
    ['DELETING', 'ACTIVE'],
    ['DELETING', 'PROVISIONING'],
  ] as const)('refuses %s → %s with LinkStateError and changes nothing', async (from, to) => {
    // Arrange
    const link = await linkIn(from);

    // Act
    const moving = links.transition(link.id, to, LATER);

    // Assert
    await expect(moving).rejects.toBeInstanceOf(LinkStateError);
    expect(await links.get(link.id)).toEqual(link);
  });

  it('refuses every move out of DELETED', async () => {
    // Arrange
    const link = await linkIn('DELETED');
    const others = LINK_STATUSES.filter((s) => s !== 'DELETED');

    // Act
    const outcomes = await Promise.allSettled(others.map((to) => links.transition(link.id, to, LATER)));

    // Assert
    expect(outcomes.map((o) => o.status === 'rejected' && o.reason instanceof LinkStateError)).toEqual(
      others.map(() => true),
    );
    expect(await links.get(link.id)).toEqual(link);
  });

  it('writes nothing when the link is already in that status and nothing else changes (a re-run)', async () => {
    // Arrange
    const link = await linkIn('ACTIVE');

    // Act
    const again = await links.transition(link.id, 'ACTIVE', LATER);

    // Assert
    expect(again).toEqual(link);
    expect((await links.get(link.id)).version).toBe(link.version);
  });

  it('records an error with the status, and removes it when told null', async () => {
    // Arrange
    const link = await linkIn('PROVISIONING');
    const error = { code: 'CONFLICT_UNMANAGED_RESOURCE', message: 'role exists', step: 'targetRole' };

    // Act
    const failed = await links.transition(link.id, 'FAILED', NOW, { error });
    const redriven = await links.transition(link.id, 'PROVISIONING', LATER, { error: null });

    // Assert
    expect(failed.error).toEqual(error);
    expect(redriven.error).toBeUndefined();
    expect(redriven.status).toBe('PROVISIONING');
  });

  it('sets lastExecution and appends every execution to runs, oldest first', async () => {
    // Arrange
    const link = await newLink();
    const first = { name: 'req-1', arn: 'arn:exec:1', workflow: 'onboard' };
    const second = { name: 'reconcile-1', arn: 'arn:exec:2', workflow: 'onboard' };

    // Act
    await links.transition(link.id, 'PROVISIONING', NOW, { lastExecution: first });
    await links.transition(link.id, 'ACTIVE', NOW);
    const after = await links.transition(link.id, 'PROVISIONING', LATER, { lastExecution: second });

    // Assert
    expect(after.lastExecution).toEqual(second);
    expect(after.runs).toEqual([
      { ...first, startedAt: NOW },
      { ...second, startedAt: LATER },
    ]);
  });

  it('clears the step results when asked, and replaces the outputs when given', async () => {
    // Arrange
    const link = await linkIn('FAILED');
    await links.recordStep(link.id, 'targetRole', stepResult(), { targetRoleArn: 'arn:old' });

    // Act
    const redriven = await links.transition(link.id, 'PROVISIONING', LATER, {
      resetSteps: true,
      outputs: { kubeconfig: 'kept' },
    });

    // Assert
    expect(redriven.steps).toEqual({});
    expect(redriven.outputs).toEqual({ kubeconfig: 'kept' });
  });

  it('gives a DELETED link a TTL of 7 days', async () => {
    // Arrange
    const link = await linkIn('DELETING');

    // Act
    await links.transition(link.id, 'DELETED', LATER);

    // Assert
    const raw = await table.db.send(new GetCommand({ TableName: table.tableName, Key: keys.link(link.id) }));
    expect(raw.Item?.expiresAt).toBe(Date.parse(LATER) / 1000 + DELETED_TTL_SECONDS);
    expect((await links.get(link.id)) as unknown as Record<string, unknown>).not.toHaveProperty('expiresAt');
  });

  it('retries on a version conflict and keeps the other writer’s change', async () => {
    // Arrange: another writer records a step between this transition's read and its write.
    const link = await newLink();
    const other = interfering(table.db, async (attempt) => {
      if (attempt === 1) await links.recordStep(link.id, 'resolve', stepResult());
    });
    const racing = new LinkStore(other.client, table.tableName);

    // Act
    const moved = await racing.transition(link.id, 'PROVISIONING', LATER);

    // Assert
    expect(other.updates()).toBe(2);
    expect(moved).toMatchObject({ status: 'PROVISIONING', version: 3 });
    expect(moved.steps.resolve).toEqual(stepResult());
  });

  it('re-checks the transition after a conflict: a link deleted meanwhile is not moved', async () => {
    // Arrange: between the read and the write, the link moves to DELETING.
    const link = await linkIn('ACTIVE');
    const other = interfering(table.db, async (attempt) => {
      if (attempt === 1) await links.transition(link.id, 'DELETING', NOW);
    });
    const racing = new LinkStore(other.client, table.tableName);

    // Act
    const moving = racing.transition(link.id, 'PROVISIONING', LATER);

    // Assert
    await expect(moving).rejects.toBeInstanceOf(LinkStateError);
    expect((await links.get(link.id)).status).toBe('DELETING');
  });

  it('gives up with ConcurrentUpdateError when the link keeps changing', async () => {
    // Arrange
    const link = await newLink();
    const other = interfering(table.db, async () => {
      await links.recordStep(link.id, 'resolve', stepResult());
    });
    const racing = new LinkStore(other.client, table.tableName);

    // Act
    const moving = racing.transition(link.id, 'PROVISIONING', LATER);

    // Assert
    await expect(moving).rejects.toBeInstanceOf(ConcurrentUpdateError);
    expect(other.updates()).toBe(10);
    expect((await links.get(link.id)).status).toBe('PENDING');
  });

  it('answers LinkNotFoundError for a link that does not exist', async () => {
    // Act
    const moving = links.transition('lnk_missing', 'PROVISIONING', NOW);

    // Assert
    await expect(moving).rejects.toBeInstanceOf(LinkNotFoundError);
  });
});

describe('LinkStore.recordStep', () => {
  it('writes each step to its own entry, so the two branches of the Parallel state keep both', async () => {
    // Arrange
    const link = await linkIn('PROVISIONING');

    // Act
    await Promise.all([
      links.recordStep(link.id, 'oidcProvider', stepResult(), { oidcProviderArn: 'arn:oidc' }),
      links.recordStep(link.id, 'targetRole', stepResult({ attempts: 2 }), { targetRoleArn: 'arn:target' }),
    ]);

    // Assert
    const after = await links.get(link.id);
    expect(after.steps).toEqual({
      oidcProvider: stepResult(),
      targetRole: stepResult({ attempts: 2 }),
    });
    expect(after.outputs).toEqual({ oidcProviderArn: 'arn:oidc', targetRoleArn: 'arn:target' });
    expect(after.version).toBe(link.version + 2);
  });

  it("replaces a step's own earlier result and merges outputs without dropping others", async () => {
    // Arrange
    const link = await linkIn('PROVISIONING');
    await links.recordStep(link.id, 'egress', stepResult({ status: 'RUNNING' }), { targetRoleArn: 'a1' });
    await links.recordStep(link.id, 'resolve', stepResult(), { oidcProviderArn: 'b2' });

    // Act
    await links.recordStep(link.id, 'egress', stepResult({ attempts: 3 }), {
      targetRoleArn: 'a10',
      workloadRoleArn: 'c3',
    });

    // Assert
    const after = await links.get(link.id);
    expect(after.steps.egress).toEqual(stepResult({ attempts: 3 }));
    expect(after.steps.resolve).toEqual(stepResult());
    expect(after.outputs).toEqual({ targetRoleArn: 'a10', oidcProviderArn: 'b2', workloadRoleArn: 'c3' });
    expect(after.updatedAt).toBe(LATER);
  });

  it('does not move the status', async () => {
    // Arrange
    const link = await linkIn('DELETING');

    // Act
    await links.recordStep(link.id, 'revokeEgress', stepResult());

    // Assert
    expect((await links.get(link.id)).status).toBe('DELETING');
  });

  it('refuses to record on a DELETED link with LinkStateError', async () => {
    // Arrange
    const link = await linkIn('DELETED');

    // Act
    const recording = links.recordStep(link.id, 'revokeEgress', stepResult());

    // Assert
    await expect(recording).rejects.toBeInstanceOf(LinkStateError);
    expect((await links.get(link.id)).steps).toEqual({});
  });

  it('refuses to record on a link that does not exist, and makes none', async () => {
    // Act
    const recording = links.recordStep('lnk_nowhere', 'resolve', stepResult());

    // Assert
    await expect(recording).rejects.toBeInstanceOf(LinkStateError);
    expect(await links.find('lnk_nowhere')).toBeUndefined();
  });
});

describe('LinkStore.list', () => {
  /** A source account no other test uses, so the listing sees only these links. */
  const ACCOUNT = '900000000001';
  const fixture: Record<string, Link> = {};
  const ids = (...names: string[]) => names.map((n) => fixture[n]!.id);

  beforeAll(async () => {
    // Newest last: 2030 keeps them ahead of every other test's links in the index.
    const at = (minute: number) => `2030-01-01T00:0${minute}:00.000Z`;
    const src = (cluster: string, namespace: string, serviceAccount: string) => ({
      source: { accountId: ACCOUNT, cluster, namespace, serviceAccount },
    });
    const made: [string, keyof typeof PATH_TO, LinkSpec, string][] = [
      ['l1', 'PENDING', specOf({ ...src('src-1', 'a', 'x'), target: { cluster: 'cluster-b' } }), 'req-r1'],
      [
        'l2',
        'PROVISIONING',
        specOf({ ...src('src-1', 'a', 'y'), target: { accountId: '333333333333', cluster: 'cluster-d' } }),
        'req-r1',
      ],
      ['l3', 'ACTIVE', specOf({ ...src('src-2', 'b', 'x'), target: { cluster: 'cluster-b' } }), 'req-r2'],
      [
        'l4',
        'FAILED',
        specOf({ ...src('src-2', 'b', 'y'), target: { accountId: '333333333333', cluster: 'cluster-c' } }),
        'req-r2',
      ],
      ['l5', 'DELETED', specOf({ ...src('src-1', 'c', 'z'), target: { cluster: 'cluster-e' } }), 'req-r3'],
    ];
    for (const [i, [name, status, spec, requestId]] of made.entries()) {
      fixture[name] = await linkIn(status, spec, `${requestId}-${ACCOUNT}`, at(i + 1));
    }
  });

  /** Every page of a listing, followed with the cursor. */
  async function allPages(filters: LinkFilters, limit: number) {
    const pages: string[][] = [];
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await links.list(filters, limit, cursor);
      pages.push(page.items.map((l) => l.id));
      cursor = page.next;
    } while (cursor);
    return pages;
  }

  it('lists newest first', async () => {
    // Act
    const page = await links.list({ sourceAccountId: ACCOUNT }, 10);

    // Assert
    expect(page.items.map((l) => l.id)).toEqual(ids('l5', 'l4', 'l3', 'l2', 'l1'));
    expect(page.items[0]).toEqual(await links.get(fixture.l5!.id));
  });

  it.each([
    ['status', { status: 'ACTIVE' }, ['l3']],
    ['requestId', { requestId: `req-r1-${ACCOUNT}` }, ['l2', 'l1']],
    ['sourceCluster', { sourceCluster: 'src-1' }, ['l5', 'l2', 'l1']],
    ['namespace', { namespace: 'b' }, ['l4', 'l3']],
    ['serviceAccount', { serviceAccount: 'x' }, ['l3', 'l1']],
    ['targetAccountId', { targetAccountId: '333333333333' }, ['l4', 'l2']],
    ['targetCluster', { targetCluster: 'cluster-b' }, ['l3', 'l1']],
    ['several filters at once', { namespace: 'a', targetCluster: 'cluster-d' }, ['l2']],
    ['a filter nothing matches', { status: 'DEGRADED' }, []],
  ] as [string, LinkFilters, string[]][])('filters by %s', async (_name, filters, expected) => {
    // Act
    const page = await links.list({ sourceAccountId: ACCOUNT, ...filters }, 10);

    // Assert
    expect(page.items.map((l) => l.id)).toEqual(ids(...expected));
  });

  it('pages with a cursor, each link once, and says when there is no more', async () => {
    // Act
    const pages = await allPages({ sourceAccountId: ACCOUNT }, 2);

    // Assert
    expect(pages.flat()).toEqual(ids('l5', 'l4', 'l3', 'l2', 'l1'));
    expect(pages.slice(0, 3)).toEqual([ids('l5', 'l4'), ids('l3', 'l2'), ids('l1')]);
    expect(pages.every((p) => p.length <= 2)).toBe(true);
  });

  it('fills a page across reads when the filter skips most items', async () => {
    // Act
    const page = await links.list({ sourceAccountId: ACCOUNT, serviceAccount: 'y' }, 2);

    // Assert
    expect(page.items.map((l) => l.id)).toEqual(ids('l4', 'l2'));
  });
});
