/**
 * AWS permissions in the target account (a target's `awsPolicies`), end to end: a link may
 * ask for managed policies on its target role, from the list the policies allow
 * (`policies/default.cedar`, "target-aws-policies-from-the-list"), after an approver
 * approves; policies that hand out administration or identity control are refused whoever
 * asks (400), as are policies of another account and policies with direct access. Refusals
 * change nothing; offboarding detaches and deletes.
 */
import { ListAttachedRolePoliciesCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetRoleName } from '#link/names';
import { demoRequest, type Harness, startHarness } from './harness';
import { byHand } from './probe';

const TARGET = '222222222222';
const REGION = 'ap-southeast-1';
const ALICE = 'arn:aws:sts::111111111111:assumed-role/developer/alice';
const CAROL = 'arn:aws:sts::222222222222:assumed-role/cluster-owner/carol';
const EC2_READ = 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess';

let h: Harness;
let link: any;

const withPolicies = (awsPolicies: string[], extra: Record<string, unknown> = {}) => {
  const body = demoRequest(extra);
  return { ...body, targets: body.targets.map((t: object) => ({ ...t, awsPolicies })) };
};

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('a link that asks for AWS permissions in the target account', () => {
  it('waits for an approver, then makes the target role with the policy attached', async () => {
    // Act
    const res = await h.api('POST', '/links', withPolicies([EC2_READ]), { 'x-tether-caller': ALICE });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = res.body.links[0].id;
    expect(res.body.links[0].status).toBe('AWAITING_APPROVAL');
    const approval = await h.api(
      'POST',
      `/links/${id}/approval`,
      { decision: 'approve', reason: 'read-only EC2 for the chatbot' },
      { 'x-tether-caller': CAROL },
    );
    expect(approval.status, approval.text).toBe(202);
    link = await h.settle(id);
    // Assert
    expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
    expect(link.spec.awsPolicies).toEqual([EC2_READ]);
    const { iam } = byHand(h.rt.sandbox, TARGET, REGION);
    const attached = await iam.send(
      new ListAttachedRolePoliciesCommand({ RoleName: targetRoleName(link.spec) }),
    );
    expect(attached.AttachedPolicies?.map((p) => p.PolicyArn)).toEqual([EC2_READ]);
    const extras = link.steps.verify.result.hops.find((x: { hop: string }) => x.hop === 'target-role-extras');
    expect(extras.ok).toBe(true);
  });

  it('offboards leaving no role', async () => {
    expect((await h.api('DELETE', `/links/${link.id}`)).status).toBe(202);
    expect((await h.settle(link.id)).status).toBe('DELETED');
    const { iam } = byHand(h.rt.sandbox, TARGET, REGION);
    const roles = (await iam.send(new ListRolesCommand({}))).Roles ?? [];
    expect(roles.filter((r) => /^tether-t-/.test(r.RoleName ?? ''))).toEqual([]);
  });
});

describe('AWS permissions the rules refuse change nothing', () => {
  const cases: [string, string[], Record<string, unknown>][] = [
    ['AdministratorAccess', ['arn:aws:iam::aws:policy/AdministratorAccess'], {}],
    ['IAMFullAccess', ['arn:aws:iam::aws:policy/IAMFullAccess'], {}],
    ['a policy of another account', ['arn:aws:iam::333333333333:policy/reader'], {}],
    ['a policy of another partition', ['arn:aws-cn:iam::aws:policy/AmazonEC2ReadOnlyAccess'], {}],
    ['Tether’s own boundary', [`arn:aws:iam::${TARGET}:policy/tether/tether-boundary`], {}],
    ['policies with direct access', [EC2_READ], { identity: { mode: 'irsa', directAccess: true } }],
  ];
  for (const [what, policies, extra] of cases) {
    it(`answers 400 for ${what}, even to an operator`, async () => {
      const before = h.rt.sandbox.callCounts({ mutating: true });
      const res = await h.api('POST', '/links', withPolicies(policies, extra));
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.errors.map((e: { path: string }) => e.path).join()).toContain('/targets/0/awsPolicies');
      expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(before);
    });
  }

  it('answers 403 for a policy not on the policies’ list, even to an operator', async () => {
    const before = h.rt.sandbox.callCounts({ mutating: true });
    const res = await h.api(
      'POST',
      '/links',
      withPolicies(['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess']),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.policies).toContain('target-aws-policies-from-the-list');
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(before);
  });
});
