/**
 * The link survives what AWS does (docs/aws-facts.md): IAM's transient errors, its
 * read-after-write lag and throttling by every code the SDK knows are retried to ACTIVE;
 * every other refusal ends the link FAILED with a code a user can act on, the AWS code and
 * the AWS request id — never INTERNAL.
 */
import { describe, expect, it } from 'vitest';
import type { FaultSpec } from '#local/sandbox/sandbox';
import { demoRequest, type Harness, startHarness } from './harness';

async function onboard(h: Harness, body = demoRequest()) {
  const res = await h.api('POST', '/links', body);
  expect(res.status).toBe(202);
  return h.settle(res.body.links[0].id);
}

async function withHarness<T>(fn: (h: Harness) => Promise<T>, options = {}): Promise<T> {
  const h = await startHarness(options);
  try {
    return await fn(h);
  } finally {
    await h.close();
  }
}

const SOURCE = '111111111111';
const TARGET = '222222222222';

describe('IAM transient errors', () => {
  it('retries ConcurrentModification on the target role’s policy and ends ACTIVE', () =>
    withHarness(async (h) => {
      h.rt.sandbox.injectFault({
        service: 'iam',
        operation: 'PutRolePolicy',
        accountId: TARGET,
        code: 'ConcurrentModification',
        times: 2,
      });
      const link = await onboard(h);
      expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
      expect(link.steps.targetRole.attempts).toBe(3);
    }));

  it('retries EntityTemporarilyUnmodifiable on the workload role and ends ACTIVE', () =>
    withHarness(async (h) => {
      h.rt.sandbox.injectFault({
        service: 'iam',
        operation: 'CreateRole',
        accountId: SOURCE,
        code: 'EntityTemporarilyUnmodifiable',
      });
      const link = await onboard(h);
      expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
      expect(link.steps.workloadRole.attempts).toBe(2);
    }));

  it('retries NoSuchEntity on a role the step has just made (read-after-write lag) and ends ACTIVE', () =>
    withHarness(
      async (h) => {
        const link = await onboard(h);
        expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
        const lagged = h.rt.sandbox
          .calls()
          .filter((c) => c.service === 'iam' && c.errorCode === 'NoSuchEntity');
        expect(lagged.map((c) => c.operation)).toContain('PutRolePolicy');
        expect(link.steps.targetRole.attempts).toBeGreaterThan(1);
        expect(link.steps.verify.result.hops.every((x: { ok: boolean }) => x.ok)).toBe(true);
      },
      { readAfterWriteLagCalls: 1 },
    ));
});

describe('throttling, by each code the SDK classifies as throttling', () => {
  const cases: [string, Omit<FaultSpec, 'times'>][] = [
    ['IAM Throttling', { service: 'iam', operation: 'CreateRole', code: 'Throttling' }],
    ['IAM ThrottledException', { service: 'iam', operation: 'PutRolePolicy', code: 'ThrottledException' }],
    [
      'IAM RequestThrottledException',
      { service: 'iam', operation: 'GetRole', code: 'RequestThrottledException' },
    ],
    [
      'IAM PriorRequestNotComplete',
      { service: 'iam', operation: 'CreateOpenIDConnectProvider', code: 'PriorRequestNotComplete' },
    ],
    [
      'EKS ThrottlingException',
      { service: 'eks', operation: 'CreateAccessEntry', code: 'ThrottlingException' },
    ],
    [
      'EKS TooManyRequestsException',
      { service: 'eks', operation: 'AssociateAccessPolicy', code: 'TooManyRequestsException' },
    ],
    [
      'EC2 RequestLimitExceeded',
      { service: 'ec2', operation: 'AuthorizeSecurityGroupIngress', code: 'RequestLimitExceeded' },
    ],
    [
      'EC2 EC2ThrottledException',
      { service: 'ec2', operation: 'DescribeSecurityGroupRules', code: 'EC2ThrottledException' },
    ],
    [
      'HTTP 429 with a code of its own',
      { service: 'ec2', operation: 'DescribeNatGateways', code: 'SlowYourRoll', statusCode: 429 },
    ],
  ];
  it.each(cases)('retries %s and ends ACTIVE', (_name, fault) =>
    withHarness(async (h) => {
      h.rt.sandbox.injectFault({ ...fault, times: 2 });
      const link = await onboard(h);
      expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
      const failed = h.rt.sandbox.calls().filter((c) => c.errorCode === fault.code);
      expect(failed).toHaveLength(2);
    }),
  );
});

describe('refusals a user can act on', () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const cases: [string, FaultSpec, { code: string; step: string; mentions: string }][] = [
    [
      'EKS ResourceLimitExceededException',
      { service: 'eks', operation: 'CreateAccessEntry', code: 'ResourceLimitExceededException' },
      { code: 'QUOTA_EXCEEDED', step: 'accessEntry', mentions: 'eks:CreateAccessEntry' },
    ],
    [
      'IAM AccessDenied',
      { service: 'iam', operation: 'CreateRole', accountId: TARGET, code: 'AccessDenied' },
      { code: 'AGENT_NOT_AUTHORIZED', step: 'targetRole', mentions: 'iam:CreateRole' },
    ],
    [
      'EKS AccessDeniedException',
      { service: 'eks', operation: 'AssociateAccessPolicy', code: 'AccessDeniedException' },
      { code: 'AGENT_NOT_AUTHORIZED', step: 'accessEntry', mentions: 'eks:AssociateAccessPolicy' },
    ],
    [
      'EC2 UnauthorizedOperation',
      { service: 'ec2', operation: 'AuthorizeSecurityGroupIngress', code: 'UnauthorizedOperation' },
      { code: 'AGENT_NOT_AUTHORIZED', step: 'egress', mentions: 'ec2:AuthorizeSecurityGroupIngress' },
    ],
    [
      'EC2 InvalidGroup.NotFound',
      { service: 'ec2', operation: 'AuthorizeSecurityGroupIngress', code: 'InvalidGroup.NotFound' },
      { code: 'SECURITY_GROUP_NOT_FOUND', step: 'egress', mentions: 'security group' },
    ],
  ];
  it.each(cases)(
    'ends FAILED on %s with a stable code, the AWS code and request id',
    (_name, fault, expected) =>
      withHarness(async (h) => {
        h.rt.sandbox.injectFault(fault);
        const link = await onboard(h);
        expect(link.status).toBe('FAILED');
        expect(link.error).toMatchObject({ code: expected.code, step: expected.step, awsCode: fault.code });
        expect(link.error.awsRequestId).toMatch(UUID);
        expect(link.error.message).toContain(expected.mentions);
        expect(link.steps[expected.step].error).toMatchObject({ code: expected.code, awsCode: fault.code });
      }),
  );

  it('ends FAILED with KUBERNETES_ACCESS_DENIED when the target’s Kubernetes API answers 403', () =>
    withHarness(async (h) => {
      h.rt.sandbox.injectFault({
        service: 'kubernetes',
        operation: 'GetConfigMap',
        code: 'Forbidden',
        statusCode: 403,
      });
      const link = await onboard(
        h,
        demoRequest({
          targets: [
            {
              accountId: '333333333333',
              region: 'eu-west-1',
              cluster: 'cluster-c',
              access: { groups: ['viewers'] },
            },
          ],
        }),
      );
      expect(link.status).toBe('FAILED');
      expect(link.error).toMatchObject({ code: 'KUBERNETES_ACCESS_DENIED', step: 'accessEntry' });
      expect(link.error.message).toContain('403');
    }));
});
