/**
 * Verify on the demo link when the target role's policy holds what the evaluator cannot
 * judge: the hop fails and says why, rather than passing on a skipped Deny.
 */
import { GetRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Link } from '#link/model';
import { TARGET_POLICY_NAME, targetRoleName } from '#link/names';
import { verifyChain } from '#resources/verify';
import { demoRequest, type Harness, startHarness } from './harness';

let h: Harness;
let link: Link;
let written: string;

beforeAll(async () => {
  h = await startHarness();
  const res = await h.api('POST', '/links', demoRequest());
  const settled = await h.settle(res.body.links[0].id);
  expect(settled.status).toBe('ACTIVE');
  link = await h.rt.links.get(settled.id);
  written = await targetPolicy();
});
afterEach(async () => {
  await h.rt.clients.iam(link.spec.target.accountId).send(
    new PutRolePolicyCommand({
      RoleName: targetRoleName(link.spec),
      PolicyName: TARGET_POLICY_NAME,
      PolicyDocument: written,
    }),
  );
});
afterAll(async () => {
  await h?.close();
});

/** The target role's policy as IAM holds it, as JSON text. */
async function targetPolicy(): Promise<string> {
  const got = await h.rt.clients
    .iam(link.spec.target.accountId)
    .send(new GetRolePolicyCommand({ RoleName: targetRoleName(link.spec), PolicyName: TARGET_POLICY_NAME }));
  return decodeURIComponent(got.PolicyDocument ?? '{}');
}

/** Puts the target role's policy back with one more statement than Tether wrote. */
async function addToTargetPolicy(statement: Record<string, unknown>) {
  const doc = JSON.parse(written);
  doc.Statement = [...doc.Statement, statement];
  await h.rt.clients.iam(link.spec.target.accountId).send(
    new PutRolePolicyCommand({
      RoleName: targetRoleName(link.spec),
      PolicyName: TARGET_POLICY_NAME,
      PolicyDocument: JSON.stringify(doc),
    }),
  );
}

describe('verify with a policy it cannot evaluate', () => {
  it('passes every hop of the demo link as Tether wrote it', async () => {
    // Act
    const hops = await verifyChain(link, h.rt.clients);
    // Assert
    expect(hops.filter((x) => !x.ok)).toEqual([]);
  });

  it('fails the hop whose policy holds a Deny with an unknown operator, and names it', async () => {
    // Arrange
    await addToTargetPolicy({
      Effect: 'Deny',
      Action: 'eks:*',
      Resource: '*',
      Condition: { StringFrobnicate: { k: 'v' } },
    });
    // Act
    const hops = await verifyChain(link, h.rt.clients);
    // Assert
    const hop = hops.find((x) => x.hop === 'target-role→describe-cluster');
    expect(hop?.ok).toBe(false);
    expect(hop?.detail).toMatch(/cannot evaluate: statement 2: condition operator 'StringFrobnicate'/);
  });

  it('fails the hop whose Deny depends on a key verify does not model', async () => {
    // Arrange
    await addToTargetPolicy({
      Effect: 'Deny',
      Action: 'eks:*',
      Resource: '*',
      Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1' } },
    });
    // Act
    const hops = await verifyChain(link, h.rt.clients);
    // Assert
    const hop = hops.find((x) => x.hop === 'target-role→describe-cluster');
    expect(hop?.detail).toMatch(/cannot evaluate: .*'aws:RequestedRegion'/);
  });
});
