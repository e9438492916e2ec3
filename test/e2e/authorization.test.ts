/**
 * Who may do what, through the HTTP API (docs/architecture.md#who-may-link-what): a table of
 * callers × operations × requests with the answer each must get under the default policies,
 * and the escalation attempts no policy lets through. Every refused request leaves the
 * sandbox's mutating-call count and the whole table exactly as they were.
 *
 * Callers: the operator (no `x-tether-caller`: Tether's own account), alice (the source
 * account, 111111111111), bob and carol (the target account of cluster-b, 222222222222),
 * mallory (an account of no link, 444444444444).
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '#link/canonical-json';
import { DEFAULT_TABLE_NAME } from '#store/table';
import { type ApiResponse, demoRequest, type Harness, startHarness } from './harness';

const ALICE = 'arn:aws:sts::111111111111:assumed-role/developer/alice';
const BOB = 'arn:aws:sts::222222222222:assumed-role/cluster-owner/bob';
const CAROL = 'arn:aws:iam::222222222222:user/carol';
const MALLORY = 'arn:aws:iam::444444444444:user/mallory';
const OPERATOR = undefined;
type Who = string | undefined;

const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
const CLUSTER_ADMIN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';
const CLUSTER_B = { accountId: '222222222222', region: 'ap-southeast-1', cluster: 'cluster-b' };
/** A target in the target account whose endpoint is public only (added to the demo world). */
const PUBLIC_ONLY = { accountId: '222222222222', region: 'ap-southeast-1', cluster: 'cluster-public' };

let h: Harness;
/** alice's demo link (cluster-a → cluster-b, view), ACTIVE. */
let aliceLink: string;

const as = (who: Who): Record<string, string> => (who ? { 'x-tether-caller': who } : {});
const call = (who: Who, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  h.api(method, path, body, { ...as(who), ...headers });

/** The demo request of a workload of the source account, with a network and an access. */
function request(
  options: { namespace?: string; network?: unknown; access?: unknown; target?: unknown } = {},
) {
  const body = demoRequest();
  body.source = { ...body.source, namespace: options.namespace ?? 'authz' };
  body.targets = [
    {
      ...((options.target as object | undefined) ?? CLUSTER_B),
      access: options.access ?? { policyArn: VIEW, scope: { type: 'cluster' } },
    },
  ];
  if (options.network) body.network = options.network;
  return body;
}
const cidrs = (...list: string[]) => ({ mode: 'cidrs', cidrs: list });

/** Everything in the one table, in a stable order. */
async function tableSnapshot(): Promise<string> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await h.rt.clients
      .dynamodb()
      .send(
        new ScanCommand({ TableName: DEFAULT_TABLE_NAME, ...(start ? { ExclusiveStartKey: start } : {}) }),
      );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items
    .map((i) => canonicalJson(i))
    .sort()
    .join('\n');
}

/** Sends a request that must be refused, and checks that it changed nothing. */
async function refused(send: () => Promise<ApiResponse>): Promise<ApiResponse> {
  await h.rt.stepFunctions.idle();
  const mutating = h.rt.sandbox.callCounts({ mutating: true });
  const table = await tableSnapshot();
  const res = await send();
  await h.rt.stepFunctions.idle();
  expect(res.status, res.text).toBeGreaterThanOrEqual(400);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(h.rt.sandbox.callCounts({ mutating: true }), 'mutating calls').toBe(mutating);
  expect(await tableSnapshot(), 'the table').toBe(table);
  return res;
}

beforeAll(async () => {
  h = await startHarness();
  h.rt.sandbox.addEksCluster({
    accountId: PUBLIC_ONLY.accountId,
    region: PUBLIC_ONLY.region,
    name: PUBLIC_ONLY.cluster,
    authenticationMode: 'API',
    endpointPrivateAccess: false,
  });
  const made = await call(ALICE, 'POST', '/links', demoRequest());
  expect(made.status).toBe(202);
  aliceLink = made.body.links[0].id;
  expect((await h.settle(aliceLink)).status).toBe('ACTIVE');
});
afterAll(async () => {
  await h?.close();
});

describe('POST /links: who may ask for what', () => {
  it.each([
    ['mallory (no account of the link)', MALLORY],
    ['bob (the target account: owners approve, they do not ask)', BOB],
  ])('refuses %s with 403 ACCESS_DENIED naming CreateLink and the link', async (_who, who) => {
    // Act
    const res = await refused(() => call(who, 'POST', '/links', request()));

    // Assert
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      code: 'ACCESS_DENIED',
      action: 'CreateLink',
      resource:
        '111111111111/ap-southeast-1/cluster-a/authz/kubeai-chatbot@222222222222/ap-southeast-1/cluster-b',
    });
    expect(res.body.detail).toContain(`${who} may not CreateLink`);
  });

  it('refuses alice a private range: the policies leave those to operators', async () => {
    // Act
    const res = await refused(() =>
      call(ALICE, 'POST', '/links', request({ network: cidrs('10.1.2.0/24') })),
    );

    // Assert
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'ACCESS_DENIED', policies: ['private-ranges-by-operators'] });
  });

  it.each([
    ['cluster admin', { access: { policyArn: CLUSTER_ADMIN, scope: { type: 'cluster' } } }],
    ['explicit public CIDRs', { network: cidrs('18.0.35.0/24', '52.94.76.0/24') }],
  ])('makes alice’s request for %s wait for an approver, with nothing made', async (_what, options) => {
    // Arrange
    const mutating = h.rt.sandbox.callCounts({ mutating: true });

    // Act
    const res = await call(
      ALICE,
      'POST',
      '/links',
      request({ namespace: `wait-${_what.length}`, ...options }),
    );
    await h.rt.stepFunctions.idle();
    const link = await call(ALICE, 'GET', `/links/${res.body.links[0].id}`);

    // Assert
    expect(res.status).toBe(202);
    expect(res.body.links[0]).toMatchObject({ status: 'AWAITING_APPROVAL', created: true, redriven: false });
    expect(link.body).toMatchObject({ status: 'AWAITING_APPROVAL', createdBy: { arn: ALICE }, steps: {} });
    expect(link.body.runs ?? []).toEqual([]);
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(mutating);
  });

  it('tells alice in a plan which targets would wait for an approver', async () => {
    // Act
    const res = await call(ALICE, 'POST', '/plans', {
      ...request({ namespace: 'plan' }),
      targets: [
        { ...CLUSTER_B, access: { policyArn: CLUSTER_ADMIN, scope: { type: 'cluster' } } },
        {
          accountId: '333333333333',
          region: 'eu-west-1',
          cluster: 'cluster-d',
          access: { policyArn: VIEW, scope: { type: 'cluster' } },
        },
      ],
    });

    // Assert
    expect(res.status).toBe(200);
    expect(res.body.targets.map((t: { approval: string }) => t.approval)).toEqual(['required', 'none']);
  });

  it('refuses mallory a plan of alice’s workload, changing nothing', async () => {
    const res = await refused(() => call(MALLORY, 'POST', '/plans', request()));
    expect(res.body).toMatchObject({ code: 'ACCESS_DENIED', action: 'CreateLink' });
  });
});

describe('escalation attempts no policy lets through', () => {
  it.each([
    ['every address', cidrs('0.0.0.0/0'), '/network/cidrs/0', /every address/],
    ['a private /8', cidrs('10.0.0.0/8'), '/network/cidrs/0', /wider than \/24/],
    ['CGNAT toward a public endpoint', cidrs('100.64.0.0/10'), '/network/cidrs/0', /wider than \/24/],
    ['a public /8', cidrs('18.0.0.0/8'), '/network/cidrs/0', /wider than \/24/],
    ['loopback', cidrs('18.0.35.0/24', '127.0.0.1/32'), '/network/cidrs/1', /loopback/],
    ['the instance metadata address', cidrs('169.254.169.254/32'), '/network/cidrs/0', /link-local/],
    ['host bits set', cidrs('18.0.35.117/24'), '/network/cidrs/0', /did you mean 18\.0\.35\.0\/24/],
    [
      '21 CIDRs (one more than a link may have)',
      cidrs(...Array.from({ length: 21 }, (_, i) => `18.0.${i}.0/24`)),
      '/network/cidrs/20',
      /at most 20/,
    ],
    [
      '51 CIDRs (more than the schema takes)',
      cidrs(...Array.from({ length: 51 }, (_, i) => `18.0.${i}.0/24`)),
      '/network/cidrs',
      /at most 50/,
    ],
  ])('refuses %s with 400 and the field, even to the operator', async (_what, network, path, message) => {
    // Act
    const res = await refused(() => call(OPERATOR, 'POST', '/links', request({ network })));

    // Assert
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors).toContainEqual(
      expect.objectContaining({ path, message: expect.stringMatching(message) }),
    );
  });

  it('refuses a workload linked to its own cluster (that is in-cluster RBAC)', async () => {
    // Act
    const res = await refused(() =>
      call(
        OPERATOR,
        'POST',
        '/links',
        request({ target: { accountId: '111111111111', region: 'ap-southeast-1', cluster: 'cluster-a' } }),
      ),
    );

    // Assert
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      expect.objectContaining({ path: '/targets/0', message: expect.stringMatching(/own cluster/) }),
    ]);
  });

  it('refuses a private range toward a target with no private endpoint, even to the operator (422)', async () => {
    // Act
    const res = await refused(() =>
      call(OPERATOR, 'POST', '/links', request({ network: cidrs('100.64.1.0/24'), target: PUBLIC_ONLY })),
    );

    // Assert
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      code: 'UNSUPPORTED_CLUSTER',
      errors: [
        expect.objectContaining({
          path: '/targets/0',
          message: expect.stringMatching(/no private endpoint/),
        }),
      ],
    });
  });

  it('lets the operator ask for a private range toward a target whose private endpoint takes it (approval first)', async () => {
    // Act
    const res = await call(
      OPERATOR,
      'POST',
      '/links',
      request({ namespace: 'peered', network: cidrs('10.1.2.0/24') }),
    );

    // Assert
    expect(res.status).toBe(202);
    expect(res.body.links[0].status).toBe('AWAITING_APPROVAL');
  });
});

describe('operations on alice’s link by each caller', () => {
  const ops = {
    read: () => ['GET', `/links/${aliceLink}`] as const,
    kubeconfig: () => ['GET', `/links/${aliceLink}/kubeconfig`] as const,
    runs: () => ['GET', `/links/${aliceLink}/runs`] as const,
    reconcile: () => ['POST', `/links/${aliceLink}/reconcile`] as const,
    delete: () => ['DELETE', `/links/${aliceLink}`] as const,
    approve: () => ['POST', `/links/${aliceLink}/approval`] as const,
  } as const;
  const ACTION = {
    read: 'ReadLink',
    kubeconfig: 'ReadLink',
    runs: 'ReadLink',
    reconcile: 'ReconcileLink',
    delete: 'DeleteLink',
    approve: 'ApproveLink',
  } as const;
  const body = (op: keyof typeof ops) =>
    op === 'approve' ? { decision: 'approve', reason: 'looks fine' } : undefined;

  // Refusals first: they must change nothing. Then the allowed ones, each on the live link.
  it.each([
    ['mallory', MALLORY, 'read'],
    ['mallory', MALLORY, 'kubeconfig'],
    ['mallory', MALLORY, 'runs'],
    ['mallory', MALLORY, 'reconcile'],
    ['mallory', MALLORY, 'delete'],
    ['mallory', MALLORY, 'approve'],
    ['bob', BOB, 'reconcile'],
    ['alice', ALICE, 'approve'],
  ] as const)('refuses %s %s with 403 naming the action and the link', async (_who, who, op) => {
    // Arrange
    const [method, path] = ops[op]();

    // Act
    const res = await refused(() => call(who, method, path, body(op)));

    // Assert
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'ACCESS_DENIED', action: ACTION[op], resource: aliceLink });
  });

  it('answers bob’s approval of a link that waits for nothing with 409, changing nothing', async () => {
    const res = await refused(() => call(BOB, 'POST', `/links/${aliceLink}/approval`, body('approve')));
    expect(res.body.code).toBe('NOT_AWAITING_APPROVAL');
  });

  it('answers 404 for a link that does not exist, whoever asks', async () => {
    const res = await refused(() => call(MALLORY, 'GET', '/links/lnk_00000000000000000000000000'));
    expect(res.status).toBe(404);
  });

  it.each([
    ['the operator', OPERATOR, ['read', 'kubeconfig', 'runs']],
    ['alice', ALICE, ['read', 'kubeconfig', 'runs']],
    ['bob', BOB, ['read', 'kubeconfig', 'runs']],
  ] as const)('lets %s read it', async (_who, who, allowed) => {
    for (const op of allowed) {
      const [method, path] = ops[op]();
      const res = await call(who, method, path);
      expect(res.status, `${op}: ${res.text}`).toBe(200);
    }
  });

  it('lists for each caller only the links they may read', async () => {
    // Act
    const ids = async (who: Who) =>
      ((await call(who, 'GET', '/links?limit=100')).body.items as { id: string }[]).map((l) => l.id);
    const operator = await ids(OPERATOR);
    const alice = await ids(ALICE);
    const bob = await ids(BOB);
    const mallory = await ids(MALLORY);

    // Assert
    expect(mallory).toEqual([]);
    expect(alice).toContain(aliceLink);
    expect(bob).toContain(aliceLink);
    expect(operator).toEqual(expect.arrayContaining([...alice, ...bob]));
    // The operator's waiting request for a private range is its own, in the source account.
    expect(alice.length).toBeGreaterThan(1);
  });

  it('pages a filtered listing without losing a readable link', async () => {
    // Act: one link per page, as carol (the target account).
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(CAROL, 'GET', `/links?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((l: { id: string }) => l.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    const all = (await call(CAROL, 'GET', '/links?limit=100')).body.items.map((l: { id: string }) => l.id);

    // Assert
    expect(seen).toEqual(all);
  });

  it('lets alice reconcile it, recording her as the run’s asker', async () => {
    // Act
    const res = await call(ALICE, 'POST', `/links/${aliceLink}/reconcile`);
    const settled = await h.settle(aliceLink);

    // Assert
    expect(res.status).toBe(202);
    expect(settled.status).toBe('ACTIVE');
    expect(settled.requestedBy).toMatchObject({ arn: ALICE });
    expect(settled.runs.at(-1)).toMatchObject({ requestedBy: ALICE });
  });

  it('lets bob (the target account) take it away, recording him as the deletion’s asker', async () => {
    // Act
    const res = await call(BOB, 'DELETE', `/links/${aliceLink}`);
    const settled = await h.settle(aliceLink);
    const runs = await call(BOB, 'GET', `/links/${aliceLink}/runs`);

    // Assert
    expect(res.status).toBe(202);
    expect(settled.status).toBe('DELETED');
    expect(settled.createdBy).toMatchObject({ arn: ALICE });
    expect(runs.body.items[0]).toMatchObject({ workflow: 'offboard', requestedBy: BOB });
  });
});

describe('Idempotency-Key is the caller’s own', () => {
  it('replays alice’s response to alice only: mallory with her key is judged as herself', async () => {
    // Arrange
    const key = 'authz-key-1';
    const body = request({ namespace: 'idem' });
    const first = await call(ALICE, 'POST', '/links', body, { 'idempotency-key': key });
    await h.settle(first.body.links[0].id);

    // Act
    const replay = await call(ALICE, 'POST', '/links', body, { 'idempotency-key': key });
    const stolen = await refused(() => call(MALLORY, 'POST', '/links', body, { 'idempotency-key': key }));
    const otherBody = await call(OPERATOR, 'POST', '/plans', request({ namespace: 'idem-2' }), {
      'idempotency-key': key,
    });

    // Assert
    expect(first.status).toBe(202);
    expect(replay.body).toEqual(first.body);
    expect(stolen.status).toBe(403);
    expect(stolen.body.code).toBe('ACCESS_DENIED');
    expect(otherBody.status).toBe(200);
  });

  it('keeps the operator’s use of alice’s key apart from hers (no IDEMPOTENCY_KEY_REUSED)', async () => {
    // Arrange
    const key = 'authz-key-2';
    await call(ALICE, 'POST', '/links', request({ namespace: 'idem-3' }), { 'idempotency-key': key });

    // Act
    const operator = await call(OPERATOR, 'POST', '/links', request({ namespace: 'idem-4' }), {
      'idempotency-key': key,
    });

    // Assert
    expect(operator.status).toBe(202);
    await h.rt.stepFunctions.idle();
  });
});

describe('a request that names no caller the API can take', () => {
  it('is refused by the local adapter with 400 and the header, changing nothing', async () => {
    const res = await refused(() => call('alice', 'GET', '/links'));
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'x-tether-caller', in: 'header' })]);
  });
});
