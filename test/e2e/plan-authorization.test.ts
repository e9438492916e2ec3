/**
 * `POST /plans` and the policies: per target, the decision the policies make for this caller —
 * allowed, needs approval, or denied — where a denied target is shown and not read, and a plan
 * whose every target is denied is ACCESS_DENIED as `POST /links` would be.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../cli/run-cli';
import { type Harness, startHarness } from './harness';

const DEVELOPER = 'arn:aws:iam::111111111111:role/developer';
let h: Harness;

beforeAll(async () => {
  // The default policies, and one more: nobody of a source account links to cluster-d.
  const dir = tempDir('tether-policies-');
  for (const f of ['default.cedar', 'tether.cedarschema']) copyFileSync(join('policies', f), join(dir, f));
  writeFileSync(
    join(dir, 'no-cluster-d.cedar'),
    [
      '@id("no-cluster-d")',
      'forbid (principal, action == Tether::Action::"CreateLink", resource)',
      'when { resource.target.cluster == "cluster-d" }',
      'unless { principal in context.hub };',
      '',
    ].join('\n'),
  );
  h = await startHarness({ policyDir: dir });
});
afterAll(async () => {
  await h?.close();
});

const source = (sa: string) => ({
  accountId: '111111111111',
  region: 'ap-southeast-1',
  cluster: 'cluster-a',
  namespace: 'plans',
  serviceAccount: sa,
});
const VIEW = {
  policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
  scope: { type: 'cluster' },
};
const ADMIN = {
  policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
  scope: { type: 'cluster' },
};
const B = { accountId: '222222222222', region: 'ap-southeast-1', cluster: 'cluster-b' };
const C = { accountId: '333333333333', region: 'eu-west-1', cluster: 'cluster-c' };
const D = { accountId: '333333333333', region: 'eu-west-1', cluster: 'cluster-d' };

describe('POST /plans: the authorization decision per target', () => {
  it('allowed, needs-approval and denied side by side; the denied target is not read and changes nothing', async () => {
    // Arrange
    h.rt.sandbox.resetCalls();

    // Act
    const res = await h.api(
      'POST',
      '/plans',
      {
        source: source('mixed'),
        targets: [
          { ...B, access: VIEW },
          { ...C, access: { groups: ['tether-readers'] } },
          { ...D, access: VIEW },
        ],
      },
      { 'x-tether-caller': DEVELOPER },
    );
    const adminPlan = await h.api(
      'POST',
      '/plans',
      { source: source('admin'), targets: [{ ...B, access: ADMIN }] },
      { 'x-tether-caller': DEVELOPER },
    );

    // Assert
    expect(res.status, res.text).toBe(200);
    const [b, c, d] = res.body.targets;
    expect(b).toMatchObject({ target: B, action: 'create', authorization: { decision: 'allowed' } });
    expect(c).toMatchObject({ target: C, action: 'create', authorization: { decision: 'allowed' } });
    expect(d).toMatchObject({
      target: D,
      action: 'none',
      checks: [],
      authorization: { decision: 'denied', policies: ['no-cluster-d'] },
    });
    expect(d.authorization.detail).toContain(`${DEVELOPER} may not CreateLink`);
    expect(b.checks.length).toBeGreaterThan(0);
    // cluster-d was not read for this plan, and nothing changed anywhere.
    const calls = h.rt.sandbox.calls();
    expect(calls.filter((c) => c.mutating)).toEqual([]);
    expect(calls.filter((c) => c.service === 'eks' && JSON.stringify(c.input).includes('cluster-d'))).toEqual(
      [],
    );
    expect(adminPlan.status, adminPlan.text).toBe(200);
    expect(adminPlan.body.targets[0]).toMatchObject({
      approval: 'required',
      authorization: { decision: 'needs-approval' },
    });
  });

  it('every target denied: 403 ACCESS_DENIED, as POST /links', async () => {
    const res = await h.api(
      'POST',
      '/plans',
      { source: source('denied'), targets: [{ ...D, access: VIEW }] },
      { 'x-tether-caller': DEVELOPER },
    );
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'ACCESS_DENIED', policies: ['no-cluster-d'] });
  });
});
