/**
 * The API's promises around the happy path: bad requests change nothing and say why with a
 * stable code; Idempotency-Key semantics; filters and cursor pagination; GET of unknown ids.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopedIdempotencyKey } from '#api/access';
import { LOCAL_OPERATOR_ARN } from '#local/runtime';
import { type Harness, demoRequest, startHarness } from './harness';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** The demo target (cluster-b, view policy), with overrides. */
const target = (overrides: Record<string, unknown> = {}) => ({ ...demoRequest().targets[0], ...overrides });
const source = (overrides: Record<string, unknown> = {}) => ({ ...demoRequest().source, ...overrides });

async function linkCount(): Promise<number> {
  const res = await h.api('GET', '/links?limit=100');
  return res.body.items.length;
}

describe('bad requests', () => {
  const cases: [string, unknown, number, string][] = [
    ['an unknown top-level field', { ...demoRequest(), color: 'blue' }, 400, 'VALIDATION_FAILED'],
    [
      'an unknown field in a target',
      demoRequest({ targets: [target({ extra: 1 })] }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'an unknown field in access',
      demoRequest({ targets: [target({ access: { groups: ['g'], admin: true } })] }),
      400,
      'VALIDATION_FAILED',
    ],
    ['a bad account id', demoRequest({ source: source({ accountId: '12345' }) }), 400, 'VALIDATION_FAILED'],
    [
      'a namespace Kubernetes refuses',
      demoRequest({ source: source({ namespace: 'Kube_AI' }) }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a namespace of 64 characters',
      demoRequest({ source: source({ namespace: 'a'.repeat(64) }) }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a service account Kubernetes refuses',
      demoRequest({ source: source({ serviceAccount: 'Bad SA' }) }),
      400,
      'VALIDATION_FAILED',
    ],
    ['no targets', demoRequest({ targets: [] }), 400, 'VALIDATION_FAILED'],
    [
      'the same target twice',
      demoRequest({ targets: [target(), target({ access: { groups: ['g'] } })] }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'an unknown source cluster',
      demoRequest({ source: source({ cluster: 'cluster-zz' }) }),
      422,
      'CLUSTER_NOT_FOUND',
    ],
    [
      'an unknown target cluster',
      demoRequest({ targets: [target({ cluster: 'nope' })] }),
      422,
      'CLUSTER_NOT_FOUND',
    ],
    [
      'an account without the agent role',
      demoRequest({ targets: [target({ accountId: '444444444444' })] }),
      422,
      'ACCOUNT_NOT_REACHABLE',
    ],
    [
      'an access policy on a CONFIG_MAP-only cluster',
      demoRequest({
        targets: [target({ accountId: '333333333333', region: 'eu-west-1', cluster: 'cluster-c' })],
      }),
      422,
      'UNSUPPORTED_CLUSTER',
    ],
  ];

  for (const [what, body, status, code] of cases) {
    it(`rejects ${what} with ${status} ${code} and changes nothing`, async () => {
      h.rt.sandbox.resetCalls();
      const before = await linkCount();
      const res = await h.api('POST', '/links', body);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.code).toBe(code);
      expect(res.body.status).toBe(status);
      expect(typeof res.body.detail).toBe('string');
      expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(0);
      expect(await linkCount()).toBe(before);
    });
  }

  it('answers 409 LINK_SPEC_MISMATCH for an existing workload → target asked with another spec, and changes nothing', async () => {
    const first = await h.api('POST', '/links', demoRequest());
    expect([202, 200]).toContain(first.status);
    await h.settle(first.body.links[0].id);
    h.rt.sandbox.resetCalls();
    const res = await h.api('POST', '/links', demoRequest({ network: { mode: 'none' } }));
    expect([res.status, res.body.code]).toEqual([409, 'LINK_SPEC_MISMATCH']);
    expect(res.body.detail).toContain(first.body.links[0].id);
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(0);
  });

  it('rejects malformed JSON with 400 MALFORMED_JSON', async () => {
    const res = await h.api('POST', '/links', '{"source": {"accountId": "1111');
    expect([res.status, res.body.code]).toEqual([400, 'MALFORMED_JSON']);
  });

  it('rejects duplicated keys with 400 MALFORMED_JSON', async () => {
    const res = await h.api('POST', '/links', '{"source": {}, "source": {}}');
    expect([res.status, res.body.code]).toEqual([400, 'MALFORMED_JSON']);
  });

  it('points at the offending field', async () => {
    const res = await h.api('POST', '/links', demoRequest({ source: source({ namespace: 'Kube_AI' }) }));
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain('/source/namespace');
  });

  it('answers 404 LINK_NOT_FOUND for an unknown link and 400 for a malformed id', async () => {
    const unknown = await h.api('GET', '/links/lnk_01M87H2QQVWBJYXZXTDDNSMTNM');
    expect([unknown.status, unknown.body.code]).toEqual([404, 'LINK_NOT_FOUND']);
    const kube = await h.api('GET', '/links/lnk_01M87H2QQVWBJYXZXTDDNSMTNM/kubeconfig');
    expect([kube.status, kube.body.code]).toEqual([404, 'LINK_NOT_FOUND']);
    const bad = await h.api('GET', '/links/not-a-link');
    expect([bad.status, bad.body.code]).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('answers 404 ROUTE_NOT_FOUND and 405 METHOD_NOT_ALLOWED as problems', async () => {
    const route = await h.api('GET', '/nothing-here');
    expect([route.status, route.body.code]).toEqual([404, 'ROUTE_NOT_FOUND']);
    const method = await h.api('PATCH', '/links');
    expect([method.status, method.body.code]).toEqual([405, 'METHOD_NOT_ALLOWED']);
  });

  it('rejects a garbage cursor with 400 INVALID_CURSOR', async () => {
    const res = await h.api('GET', `/links?cursor=${Buffer.from('{"pk":1}').toString('base64url')}`);
    expect([res.status, res.body.code]).toEqual([400, 'INVALID_CURSOR']);
  });
});

describe('Idempotency-Key', () => {
  let first: { status: number; body: any };
  const body = demoRequest({
    targets: [
      target({
        accountId: '333333333333',
        region: 'eu-west-1',
        cluster: 'cluster-c',
        access: { groups: ['viewers'] },
      }),
    ],
  });

  it('returns the same response for the same key and body', async () => {
    first = await h.api('POST', '/links', body, { 'idempotency-key': 'onboard-chatbot-c-1' });
    expect(first.status).toBe(202);
    const again = await h.api('POST', '/links', body, { 'idempotency-key': 'onboard-chatbot-c-1' });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    const link = await h.settle(first.body.links[0].id);
    expect(link.status).toBe('ACTIVE');
    // CONFIG_MAP-only cluster: the access is an aws-auth mapRoles entry, without the role path.
    expect(link.outputs.access).toMatchObject({ kind: 'aws-auth', groups: ['viewers'] });
    expect(link.outputs.access.rolearn).toMatch(/^arn:aws:iam::333333333333:role\/tether-t-/);
  });

  it('answers 422 IDEMPOTENCY_KEY_REUSED for the same key with another body', async () => {
    const res = await h.api('POST', '/links', demoRequest(), { 'idempotency-key': 'onboard-chatbot-c-1' });
    expect([res.status, res.body.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
  });

  it('answers 409 IDEMPOTENCY_KEY_IN_FLIGHT while the first request with the key is processed', async () => {
    const key = 'in-flight-1';
    // Keys are the caller's own: the operator's (no x-tether-caller) as the table keeps it.
    const operator = { arn: LOCAL_OPERATOR_ARN, accountId: '000000000000' };
    await h.rt.runtime.idempotency.begin(
      scopedIdempotencyKey(operator, key) ?? key,
      'another-request-in-progress',
      Date.now(),
    );
    const res = await h.api('POST', '/links', demoRequest(), { 'idempotency-key': key });
    // The stored hash is of another body, so this is reuse; an in-flight request of the SAME body:
    expect(res.status).toBe(422);
    const same = demoRequest({
      targets: [
        target({
          accountId: '333333333333',
          region: 'eu-west-1',
          cluster: 'cluster-d',
          access: { groups: ['g'] },
        }),
      ],
    });
    const key2 = 'in-flight-2';
    const slow = h.api('POST', '/links', same, { 'idempotency-key': key2 });
    const racing = h.api('POST', '/links', same, { 'idempotency-key': key2 });
    const results = (await Promise.all([slow, racing])).map((r) => r.status).sort();
    expect(results.some((s) => s === 202)).toBe(true);
    for (const s of results) expect([202, 409]).toContain(s);
  });
});

describe('GET /links', () => {
  it('filters by status, source and target, and pages with a cursor', async () => {
    const all = await h.api('GET', '/links?limit=100');
    expect(all.status).toBe(200);
    const total = all.body.items.length;
    expect(total).toBeGreaterThanOrEqual(2);

    const byTarget = await h.api('GET', '/links?targetCluster=cluster-c');
    expect(byTarget.body.items.every((l: any) => l.spec.target.cluster === 'cluster-c')).toBe(true);
    expect(byTarget.body.items.length).toBeGreaterThanOrEqual(1);

    const bySource = await h.api(
      'GET',
      '/links?sourceAccountId=111111111111&namespace=kubeai-chatbot&serviceAccount=kubeai-chatbot',
    );
    expect(bySource.body.items.length).toBe(total);
    const none = await h.api('GET', '/links?namespace=other');
    expect(none.body.items).toEqual([]);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await h.api('GET', `/links?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.body.items.map((l: any) => l.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(all.body.items.map((l: any) => l.id).sort());
  });

  it('rejects an unknown status value', async () => {
    const res = await h.api('GET', '/links?status=SLEEPING');
    expect([res.status, res.body.code]).toEqual([400, 'VALIDATION_FAILED']);
  });
});
