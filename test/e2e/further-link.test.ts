/**
 * A workload's further link, through the API, the onboard ASL and the handlers. The source
 * side it shares (the issuer's OIDC provider, the workload role) was read, made and confirmed
 * by the workload's first link; the further link leaves its reading to its own Verify role
 * chain, which reads those documents back anyway. When verify finds the side changed by
 * hand, the run reads it again (`Confirm: ensure …`), puts back the difference, verifies
 * again and ends ACTIVE; what the confirm cannot put right ends the link FAILED after one
 * pass, as before (docs/architecture.md#a-further-link-of-a-workload).
 */
import {
  AttachRolePolicyCommand,
  DeleteOpenIDConnectProviderCommand,
  GetOpenIDConnectProviderCommand,
  GetRolePolicyCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Link } from '#link/model';
import { oidcProviderArn, WORKLOAD_POLICY_NAME, workloadRoleName } from '#link/names';
import { workloadPolicy } from '#resources/workload-role';
import { demoRequest, type Harness, startHarness } from './harness';
import { byHand } from './probe';

const SOURCE = '111111111111';
const REGION = 'ap-southeast-1';
const VIEW = {
  policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
  scope: { type: 'cluster' },
};
const TO_B = { accountId: '222222222222', region: REGION, cluster: 'cluster-b', access: VIEW };
const TO_D = { accountId: '333333333333', region: 'eu-west-1', cluster: 'cluster-d', access: VIEW };
const CONFIRM_STATES = ['Confirm: ensure OIDC provider', 'Confirm: ensure workload role'];

let h: Harness;
let n = 0;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const iam = () => byHand(h.rt.sandbox, SOURCE, REGION).iam;

/** The states a link's last run entered, in order. */
const entered = (link: Link) =>
  h.rt.stepFunctions
    .history(link.lastExecution?.arn ?? '')
    .filter((e) => e.type.endsWith('StateEntered'))
    .map((e) => e.state);

async function onboard(source: Record<string, unknown>, target: Record<string, unknown>): Promise<Link> {
  const res = await h.api('POST', '/links', demoRequest({ source, targets: [target] }));
  expect(res.status, res.text).toBe(202);
  const settled = await h.settle(res.body.links[0].id);
  return h.rt.links.get(settled.id);
}

/**
 * A new workload's first link (to cluster-b), then, after `meanwhile`, its further link (to
 * cluster-d); the sandbox's calls of the further link's run.
 */
async function furtherLink(meanwhile: (first: Link) => Promise<void> = async () => {}) {
  n += 1;
  const source = { ...demoRequest().source, serviceAccount: `further-${n}` };
  const first = await onboard(source, TO_B);
  expect(first.status, JSON.stringify(first.error)).toBe('ACTIVE');
  await meanwhile(first);
  h.rt.sandbox.resetCalls();
  const further = await onboard(source, TO_D);
  const run = h.rt.sandbox.calls().filter((c) => c.sessionName?.startsWith(`tether-${further.id}-`));
  return { first, further, run };
}

describe('a further link of a workload', () => {
  it('reads the source side only in its verify, and ends ACTIVE with no write there', async () => {
    // Act
    const { first, further, run } = await furtherLink();

    // Assert
    expect(further.status, JSON.stringify(further.error)).toBe('ACTIVE');
    expect(further.steps.oidcProvider?.result).toMatchObject({
      action: 'confirmed-before',
      confirmedBy: first.id,
    });
    expect(further.steps.workloadRole?.result).toMatchObject({
      action: 'confirmed-before',
      confirmedBy: first.id,
    });
    const source = run.filter((c) => c.accountId === SOURCE && c.service === 'iam');
    expect(source.filter((c) => c.mutating)).toEqual([]);
    // Verify's read-back, once each: the provider, the role, its policy, its lists.
    expect(source.map((c) => c.operation).sort()).toEqual([
      'GetOpenIDConnectProvider',
      'GetRole',
      'GetRolePolicy',
      'ListAttachedRolePolicies',
      'ListRolePolicies',
    ]);
    expect(entered(further)).not.toEqual(expect.arrayContaining([CONFIRM_STATES[0]]));
  });

  it('puts back a workload role policy changed by hand: verify finds it, the run confirms the side, ends ACTIVE', async () => {
    // Act
    const { first, further } = await furtherLink(async (first) => {
      await iam().send(
        new PutRolePolicyCommand({
          RoleName: workloadRoleName(first.spec.source),
          PolicyName: WORKLOAD_POLICY_NAME,
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }],
          }),
        }),
      );
    });

    // Assert
    expect(further.status, JSON.stringify(further.error)).toBe('ACTIVE');
    const states = entered(further);
    expect(states.filter((s) => CONFIRM_STATES.includes(s ?? ''))).toEqual(CONFIRM_STATES);
    expect(states.filter((s) => s === 'Verify role chain')).toHaveLength(2);
    expect(further.steps.workloadRole?.result).toMatchObject({
      action: 'updated',
      changes: [`policy:${WORKLOAD_POLICY_NAME}`],
    });
    const policy = await iam().send(
      new GetRolePolicyCommand({
        RoleName: workloadRoleName(first.spec.source),
        PolicyName: WORKLOAD_POLICY_NAME,
      }),
    );
    expect(JSON.parse(decodeURIComponent(policy.PolicyDocument ?? ''))).toEqual(
      workloadPolicy(first.spec.source),
    );
    expect((await h.rt.links.get(first.id)).status).toBe('ACTIVE');
  });

  it('makes the OIDC provider again when someone deleted it, and ends ACTIVE', async () => {
    // Act
    const { further } = await furtherLink(async (first) => {
      await iam().send(
        new DeleteOpenIDConnectProviderCommand({
          OpenIDConnectProviderArn: oidcProviderArn(SOURCE, first.outputs.resolved!.source.issuer!),
        }),
      );
    });

    // Assert
    expect(further.status, JSON.stringify(further.error)).toBe('ACTIVE');
    expect(entered(further).filter((s) => CONFIRM_STATES.includes(s ?? ''))).toEqual(CONFIRM_STATES);
    expect(further.steps.oidcProvider?.result).toMatchObject({ action: 'created' });
    const arn = oidcProviderArn(SOURCE, further.outputs.resolved!.source.issuer!);
    const provider = await iam().send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    expect(provider.ClientIDList).toContain('sts.amazonaws.com');
  });

  it('ends FAILED after one confirm when the confirm cannot put it right (a policy attached by hand), and leaves the first link whole', async () => {
    // Act
    const { first, further } = await furtherLink(async (first) => {
      await iam().send(
        new AttachRolePolicyCommand({
          RoleName: workloadRoleName(first.spec.source),
          PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
        }),
      );
    });

    // Assert
    expect(further.status).toBe('FAILED');
    expect(further.error).toMatchObject({ code: 'VERIFICATION_FAILED' });
    expect(further.error?.message).toContain('workload-role-extras');
    const states = entered(further);
    expect(states.filter((s) => CONFIRM_STATES.includes(s ?? ''))).toEqual(CONFIRM_STATES);
    expect(states.filter((s) => s === 'Verify role chain')).toHaveLength(2);
    // The compensation released the further link's share; the workload role stays for the first.
    expect(further.steps.releaseWorkloadRole?.result).toMatchObject({ action: 'kept', remainingLinks: 1 });
    const role = await iam().send(
      new GetRolePolicyCommand({
        RoleName: workloadRoleName(first.spec.source),
        PolicyName: WORKLOAD_POLICY_NAME,
      }),
    );
    expect(role.PolicyDocument).toBeDefined();
  });
});
