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
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const link = res.body.links[0];
  if (link.status === 'AWAITING_APPROVAL') {
    // Explicit CIDRs wait for an approver under the default policies: an owner of the target account approves.
    const approval = await h.approve(link, 'the AWS behaviour under test');
    expect(approval.status, JSON.stringify(approval.body)).toBe(202);
  }
  return h.settle(link.id);
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

/**
 * The demo link from private CIDRs: its allowance is rules on the cluster security group
 * (the NAT IPs of the demo go to cluster-b's publicAccessCidrs instead).
 */
const fromPrivateCidrs = () => demoRequest({ network: { mode: 'cidrs', cidrs: ['10.40.0.0/24'] } });
/** The request whose allowance makes the call a fault names. */
const requestFor = (fault: { operation: string }) =>
  fault.operation.includes('SecurityGroup') ? fromPrivateCidrs() : demoRequest();

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

describe('throttling, by each code the SDK classifies as throttling (and EKS one-update-at-a-time)', () => {
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
      'EKS ThrottlingException on UpdateClusterConfig',
      { service: 'eks', operation: 'UpdateClusterConfig', code: 'ThrottlingException' },
    ],
    [
      'EKS ResourceInUseException (another cluster update in progress)',
      { service: 'eks', operation: 'UpdateClusterConfig', code: 'ResourceInUseException', statusCode: 409 },
    ],
    [
      'HTTP 429 with a code of its own',
      { service: 'ec2', operation: 'DescribeNatGateways', code: 'SlowYourRoll', statusCode: 429 },
    ],
  ];
  it.each(cases)('retries %s and ends ACTIVE', (_name, fault) =>
    withHarness(async (h) => {
      h.rt.sandbox.injectFault({ ...fault, times: 2 });
      const link = await onboard(h, requestFor(fault));
      expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
      const failed = h.rt.sandbox.calls().filter((c) => c.errorCode === fault.code);
      expect(failed).toHaveLength(2);
    }),
  );
});

describe('AWS throttling the API’s own reads', () => {
  it.each([
    ['POST /links', '/links'],
    ['POST /plans', '/plans'],
  ])(
    'answers %s whose DescribeCluster stays throttled with 503 AWS_UNAVAILABLE and Retry-After, creating nothing',
    (_name, path) =>
      withHarness(async (h) => {
        // Arrange: every attempt the SDK makes is throttled (more than its retries).
        h.rt.sandbox.injectFault({
          service: 'eks',
          operation: 'DescribeCluster',
          code: 'ThrottlingException',
          times: 50,
        });
        const mutatingBefore = h.rt.sandbox.calls().filter((c) => c.mutating).length;

        // Act
        const res = await h.api('POST', path, demoRequest());

        // Assert
        expect(res.status, JSON.stringify(res.body)).toBe(503);
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(res.body).toMatchObject({ code: 'AWS_UNAVAILABLE', status: 503 });
        expect(res.body.detail).toMatch(/eks:DescribeCluster/);
        expect(res.body.detail).not.toMatch(/ThrottlingException: /);
        expect(h.rt.sandbox.calls().filter((c) => c.mutating)).toHaveLength(mutatingBefore);
        expect((await h.api('GET', '/links')).body.items).toEqual([]);
      }),
  );

  it('lets the same request through once AWS stops throttling', () =>
    withHarness(async (h) => {
      h.rt.sandbox.injectFault({
        service: 'eks',
        operation: 'DescribeCluster',
        code: 'ThrottlingException',
        times: 50,
      });
      expect((await h.api('POST', '/links', demoRequest())).status).toBe(503);
      h.rt.sandbox.clearFaults();
      const link = await onboard(h);
      expect(link.status).toBe('ACTIVE');
    }));
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
        const link = await onboard(h, requestFor(fault));
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
