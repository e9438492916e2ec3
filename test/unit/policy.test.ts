import { describe, expect, it } from 'vitest';
import { evaluatePolicy, parsePolicy } from '#link/policy/evaluate';
import { targetTrustPolicy } from '#resources/target-role';
import { workloadPolicy, workloadTrustPolicy } from '#resources/workload-role';

const issuer = 'https://oidc.eks.ap-southeast-1.amazonaws.com/id/ABC';
const host = 'oidc.eks.ap-southeast-1.amazonaws.com/id/ABC';
const w = {
  accountId: '111111111111',
  region: 'ap-southeast-1',
  cluster: 'cluster-a',
  namespace: 'ns',
  serviceAccount: 'sa',
};
const provider = `arn:aws:iam::111111111111:oidc-provider/${host}`;

describe('evaluatePolicy', () => {
  it('allows the IRSA trust for exactly its service account and audience', () => {
    const trust = workloadTrustPolicy('111111111111', issuer, w);
    const ask = (sub: string, aud = 'sts.amazonaws.com') =>
      evaluatePolicy(trust, {
        action: 'sts:AssumeRoleWithWebIdentity',
        principal: { type: 'Federated', id: provider },
        context: { [`${host}:sub`]: sub, [`${host}:aud`]: aud },
      });
    expect(ask('system:serviceaccount:ns:sa')).toBe('Allow');
    expect(ask('system:serviceaccount:ns:other')).toBe('ImplicitDeny');
    expect(ask('system:serviceaccount:ns:sa', 'other')).toBe('ImplicitDeny');
    expect(
      evaluatePolicy(trust, {
        action: 'sts:AssumeRoleWithWebIdentity',
        principal: { type: 'Federated', id: 'arn:aws:iam::999999999999:oidc-provider/x' },
        context: { [`${host}:sub`]: 'system:serviceaccount:ns:sa', [`${host}:aud`]: 'sts.amazonaws.com' },
      }),
    ).toBe('ImplicitDeny');
  });

  it('allows the target trust only for the workload role ARN', () => {
    const workloadArn = 'arn:aws:iam::111111111111:role/tether/w';
    const trust = targetTrustPolicy('111111111111', workloadArn);
    const ask = (arn: string) =>
      evaluatePolicy(trust, {
        action: 'sts:AssumeRole',
        principal: { type: 'AWS', id: arn },
        context: { 'aws:PrincipalArn': arn },
      });
    expect(ask(workloadArn)).toBe('Allow');
    expect(ask('arn:aws:iam::111111111111:role/tether/other')).toBe('ImplicitDeny');
    expect(ask('arn:aws:iam::222222222222:role/tether/w')).toBe('ImplicitDeny');
  });

  it('allows sts:AssumeRole on exactly the listed roles', () => {
    const policy = workloadPolicy([
      'arn:aws:iam::2:role/b',
      'arn:aws:iam::2:role/a',
      'arn:aws:iam::2:role/a',
    ]);
    expect(evaluatePolicy(policy, { action: 'sts:AssumeRole', resource: 'arn:aws:iam::2:role/a' })).toBe(
      'Allow',
    );
    expect(evaluatePolicy(policy, { action: 'sts:AssumeRole', resource: 'arn:aws:iam::2:role/c' })).toBe(
      'ImplicitDeny',
    );
    expect(evaluatePolicy(policy, { action: 'iam:PassRole', resource: 'arn:aws:iam::2:role/a' })).toBe(
      'ImplicitDeny',
    );
  });

  it('lets an explicit deny win and refuses unknown condition operators', () => {
    const policy = {
      Statement: [
        { Effect: 'Allow' as const, Action: 's3:*', Resource: '*' },
        { Effect: 'Deny' as const, Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::b/*' },
      ],
    };
    expect(evaluatePolicy(policy, { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' })).toBe('Allow');
    expect(evaluatePolicy(policy, { action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/k' })).toBe(
      'ExplicitDeny',
    );
    const odd = {
      Statement: [
        { Effect: 'Allow' as const, Action: '*', Resource: '*', Condition: { Frobnicate: { k: 'v' } } },
      ],
    };
    expect(evaluatePolicy(odd, { action: 'x:y', resource: 'r', context: { k: 'v' } })).toBe('ImplicitDeny');
  });

  it('parses the URL-encoded documents IAM returns', () => {
    const doc = encodeURIComponent(
      JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'a:b', Resource: '*' }] }),
    );
    expect(evaluatePolicy(parsePolicy(doc), { action: 'a:b', resource: 'x' })).toBe('Allow');
  });
});
