/**
 * AWS behaviours Tether must hold against, as the sandbox reproduces them (each with its AWS
 * reference in the sandbox's code): a tag condition on the role to assume, IAM's
 * read-after-write lag, IAM's transient errors, every throttling code the SDK knows, and the
 * refusals a user can act on.
 */
import { CreateRoleCommand, GetRoleCommand, PutRolePolicyCommand, TagRoleCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { isThrottlingError, isTransientError } from '@smithy/core/retry';
import { describe, expect, it } from 'vitest';
import { Sandbox } from '#local/sandbox/index';
import { agentClients, clientsFor, rejectionOf, trustPolicy } from './helpers';

const WORKLOAD_ARN = 'arn:aws:iam::111111111111:role/tether/wl';

/** A workload role allowed `sts:AssumeRole` on `tether-t-*` roles tagged for it, and three target roles. */
async function taggedTargets() {
  const sb = Sandbox.open();
  const source = await agentClients(sb, '111111111111');
  const target = await agentClients(sb, '222222222222');
  await source.iam.send(
    new CreateRoleCommand({
      RoleName: 'wl',
      Path: '/tether/',
      AssumeRolePolicyDocument: trustPolicy({
        Effect: 'Allow',
        Principal: { Federated: 'arn:aws:iam::111111111111:oidc-provider/x' },
        Action: 'sts:AssumeRoleWithWebIdentity',
      }),
    }),
  );
  await source.iam.send(
    new PutRolePolicyCommand({
      RoleName: 'wl',
      PolicyName: 'assume',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Resource: 'arn:aws:iam::*:role/tether/tether-t-*',
            Condition: { StringEquals: { 'aws:ResourceTag/tether:workload': 'workload:w1' } },
          },
        ],
      }),
    }),
  );
  const trust = trustPolicy({
    Effect: 'Allow',
    Principal: { AWS: 'arn:aws:iam::111111111111:root' },
    Action: 'sts:AssumeRole',
    Condition: { ArnEquals: { 'aws:PrincipalArn': WORKLOAD_ARN } },
  });
  const roles: Record<string, string | undefined> = {
    'tether-t-mine': 'workload:w1',
    'tether-t-theirs': 'workload:w2',
    'tether-t-untagged': undefined,
  };
  for (const [name, workload] of Object.entries(roles)) {
    await target.iam.send(
      new CreateRoleCommand({
        RoleName: name,
        Path: '/tether/',
        AssumeRolePolicyDocument: trust,
        ...(workload ? { Tags: [{ Key: 'tether:workload', Value: workload }] } : {}),
      }),
    );
  }
  const session = clientsFor(sb, sb.sessionCredentials(WORKLOAD_ARN, 'pod'));
  const assume = (name: string) =>
    session.sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::222222222222:role/tether/${name}`,
        RoleSessionName: 's1',
      }),
    );
  return { sb, target, assume };
}

describe('STS AssumeRole with a tag condition on the role to assume', () => {
  it('puts the role’s tags in the request context as aws:ResourceTag/…: a role tagged for the workload may be assumed', async () => {
    const { assume } = await taggedTargets();
    const out = await assume('tether-t-mine');
    expect(out.AssumedRoleUser?.Arn).toBe('arn:aws:sts::222222222222:assumed-role/tether-t-mine/s1');
  });

  it('refuses a role that another workload’s tag names, or that has no tag, though its trust would allow it', async () => {
    const { assume } = await taggedTargets();
    expect((await rejectionOf(assume('tether-t-theirs'))).name).toBe('AccessDenied');
    expect((await rejectionOf(assume('tether-t-untagged'))).name).toBe('AccessDenied');
  });

  it('sees a tag added later (TagRole), as IAM evaluates the tags the role has now', async () => {
    const { target, assume } = await taggedTargets();
    await target.iam.send(
      new TagRoleCommand({
        RoleName: 'tether-t-untagged',
        Tags: [{ Key: 'tether:workload', Value: 'workload:w1' }],
      }),
    );
    expect((await assume('tether-t-untagged')).Credentials?.AccessKeyId).toBeDefined();
  });
});

describe('IAM read-after-write lag (readAfterWriteLagCalls)', () => {
  const trust = trustPolicy({
    Effect: 'Allow',
    Principal: { AWS: 'arn:aws:iam::222222222222:root' },
    Action: 'sts:AssumeRole',
  });

  it('answers NoSuchEntity to the first calls that name a role just made, then shows it', async () => {
    const sb = Sandbox.open({ readAfterWriteLagCalls: 2 });
    const { iam } = await agentClients(sb, '222222222222');
    await iam.send(new CreateRoleCommand({ RoleName: 'fresh', AssumeRolePolicyDocument: trust }));
    const first = await rejectionOf(iam.send(new GetRoleCommand({ RoleName: 'fresh' })));
    expect(first.name).toBe('NoSuchEntityException');
    expect(first.$metadata.httpStatusCode).toBe(404);
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'eks:DescribeCluster', Resource: '*' }],
    });
    const put = await rejectionOf(
      iam.send(new PutRolePolicyCommand({ RoleName: 'fresh', PolicyName: 'p', PolicyDocument: policy })),
    );
    expect(put.name).toBe('NoSuchEntityException');
    expect(sb.state().accounts['222222222222']!.iam.roles.fresh!.inlinePolicies).toEqual({});
    expect((await iam.send(new GetRoleCommand({ RoleName: 'fresh' }))).Role?.RoleName).toBe('fresh');
  });

  it('lags nothing by default', async () => {
    const sb = Sandbox.open();
    const { iam } = await agentClients(sb, '222222222222');
    await iam.send(new CreateRoleCommand({ RoleName: 'fresh', AssumeRolePolicyDocument: trust }));
    expect((await iam.send(new GetRoleCommand({ RoleName: 'fresh' }))).Role?.RoleName).toBe('fresh');
  });
});

describe('IAM transient errors, injected', () => {
  it.each([
    ['ConcurrentModification', 'ConcurrentModificationException', /multiple requests to change this object/],
    ['EntityTemporarilyUnmodifiable', 'EntityTemporarilyUnmodifiableException', /temporarily unmodifiable/],
  ])('answers %s as IAM does: the SDK’s class, 409, and IAM’s message', async (code, name, message) => {
    const sb = Sandbox.open();
    const { iam } = await agentClients(sb, '222222222222');
    sb.injectFault({ service: 'iam', operation: 'GetRole', code });
    const err = await rejectionOf(iam.send(new GetRoleCommand({ RoleName: 'tether-agent' })));
    expect(err.name).toBe(name);
    expect(err.$metadata.httpStatusCode).toBe(409);
    expect(err.message).toMatch(message);
    expect(err.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('throttling, injected with every code the SDK classifies as throttling', () => {
  it.each([
    ['iam', 'Throttling'],
    ['eks', 'ThrottlingException'],
    ['eks', 'TooManyRequestsException'],
    ['ec2', 'RequestLimitExceeded'],
    ['ec2', 'EC2ThrottledException'],
    ['iam', 'ThrottledException'],
    ['iam', 'RequestThrottledException'],
    ['iam', 'PriorRequestNotComplete'],
  ] as const)(
    '%s %s reaches the caller as an error the SDK classifies as throttling',
    async (service, code) => {
      const sb = Sandbox.open();
      const clients = await agentClients(sb, '222222222222');
      const { DescribeSecurityGroupsCommand } = await import('@aws-sdk/client-ec2');
      const { ListClustersCommand } = await import('@aws-sdk/client-eks');
      const operation = { iam: 'GetRole', eks: 'ListClusters', ec2: 'DescribeSecurityGroups' }[service];
      sb.injectFault({ service, operation, code });
      const call =
        service === 'iam'
          ? clients.iam.send(new GetRoleCommand({ RoleName: 'tether-agent' }))
          : service === 'eks'
            ? clients.eks.send(new ListClustersCommand({}))
            : clients.ec2.send(new DescribeSecurityGroupsCommand({}));
      const err = await rejectionOf(call);
      expect(err.name).toBe(code);
      expect(isThrottlingError(err as never)).toBe(true);
    },
  );

  it('gives an unmodeled code the HTTP status the fault names: 429 is throttling whatever the code', async () => {
    const sb = Sandbox.open();
    const { iam } = await agentClients(sb, '222222222222');
    sb.injectFault({ service: 'iam', operation: 'GetRole', code: 'SomeNewThrottle', statusCode: 429 });
    const err = await rejectionOf(iam.send(new GetRoleCommand({ RoleName: 'tether-agent' })));
    expect(err.$metadata.httpStatusCode).toBe(429);
    expect(isThrottlingError(err as never)).toBe(true);
    expect(isTransientError(err as never)).toBe(false);
  });
});

describe('refusals a user can act on, injected', () => {
  it('answers IAM AccessDenied and EC2 UnauthorizedOperation with 403', async () => {
    const sb = Sandbox.open();
    const { iam, ec2 } = await agentClients(sb, '222222222222');
    const { DescribeSecurityGroupsCommand } = await import('@aws-sdk/client-ec2');
    sb.injectFault({ service: 'iam', operation: 'GetRole', code: 'AccessDenied' });
    sb.injectFault({ service: 'ec2', operation: 'DescribeSecurityGroups', code: 'UnauthorizedOperation' });
    const denied = await rejectionOf(iam.send(new GetRoleCommand({ RoleName: 'tether-agent' })));
    expect([denied.name, denied.$metadata.httpStatusCode]).toEqual(['AccessDenied', 403]);
    const unauthorized = await rejectionOf(ec2.send(new DescribeSecurityGroupsCommand({})));
    expect([unauthorized.name, unauthorized.$metadata.httpStatusCode]).toEqual([
      'UnauthorizedOperation',
      403,
    ]);
  });
});
