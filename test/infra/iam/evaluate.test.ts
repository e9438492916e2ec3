/**
 * The independent evaluator against the rules of AWS's IAM User Guide it claims to follow,
 * one case per rule (the guide's section in each name).
 */
import { describe, expect, it } from 'vitest';
import {
  CannotEvaluateError,
  evaluate,
  evaluateResourcePolicy,
  type Policy,
  type Statement,
} from './evaluate';

const allow = (s: Omit<Statement, 'Effect'>): Policy => ({ Statement: [{ Effect: 'Allow', ...s }] });
const ROLE = 'arn:aws:iam::111111111111:role/tether/r';

describe('policy evaluation logic', () => {
  it('denies what nothing allows (implicit deny)', () => {
    expect(evaluate([], { action: 'iam:GetRole', resource: ROLE }).decision).toBe('ImplicitDeny');
  });

  it('lets an explicit deny win over any allow, in any policy', () => {
    const policies: Policy[] = [
      allow({ Action: 'iam:*', Resource: '*' }),
      { Statement: { Effect: 'Deny', Action: 'iam:DeleteRole', Resource: ROLE } },
    ];
    expect(evaluate(policies, { action: 'iam:DeleteRole', resource: ROLE }).decision).toBe('ExplicitDeny');
    expect(evaluate(policies, { action: 'iam:GetRole', resource: ROLE }).decision).toBe('Allow');
  });
});

describe('Action, NotAction, Resource, NotResource', () => {
  it('matches actions case-insensitively, with wildcards', () => {
    const p = [allow({ Action: 'IAM:get*', Resource: '*' })];
    expect(evaluate(p, { action: 'iam:GetRole', resource: ROLE }).decision).toBe('Allow');
    expect(evaluate(p, { action: 'iam:PutRolePolicy', resource: ROLE }).decision).toBe('ImplicitDeny');
  });

  it('matches resources case-sensitively', () => {
    const p = [allow({ Action: 'iam:GetRole', Resource: 'arn:aws:iam::111111111111:role/tether/*' })];
    expect(evaluate(p, { action: 'iam:GetRole', resource: ROLE }).decision).toBe('Allow');
    expect(
      evaluate(p, { action: 'iam:GetRole', resource: 'arn:aws:iam::111111111111:role/Tether/r' }).decision,
    ).toBe('ImplicitDeny');
  });

  it('matches each ARN part apart: a wildcard in one part does not reach into the next', () => {
    const p = [allow({ Action: 'eks:DescribeCluster', Resource: 'arn:aws:eks:*:111111111111:cluster/*' })];
    expect(
      evaluate(p, { action: 'eks:DescribeCluster', resource: 'arn:aws:eks:eu-west-1:111111111111:cluster/c' })
        .decision,
    ).toBe('Allow');
    expect(
      evaluate(p, { action: 'eks:DescribeCluster', resource: 'arn:aws:eks:eu-west-1:222222222222:cluster/c' })
        .decision,
    ).toBe('ImplicitDeny');
  });

  it('applies NotAction and NotResource as complements', () => {
    const p: Policy[] = [
      { Statement: [{ Effect: 'Deny', NotAction: ['iam:Get*'], Resource: ROLE }] },
      {
        Statement: [{ Effect: 'Deny', Action: 'iam:PassRole', NotResource: 'arn:aws:iam::*:role/tether/*' }],
      },
      allow({ Action: '*', Resource: '*' }),
    ];
    expect(evaluate(p, { action: 'iam:GetRole', resource: ROLE }).decision).toBe('Allow');
    expect(evaluate(p, { action: 'iam:DeleteRole', resource: ROLE }).decision).toBe('ExplicitDeny');
    expect(evaluate(p, { action: 'iam:PassRole', resource: 'arn:aws:iam::1:role/x' }).decision).toBe(
      'ExplicitDeny',
    );
  });
});

describe('Condition operators', () => {
  const p = (Condition: Statement['Condition']) => [
    allow({ Action: 'iam:CreateRole', Resource: '*', Condition }),
  ];
  const decide = (Condition: Statement['Condition'], context: Record<string, string | string[]>) =>
    evaluate(p(Condition), { action: 'iam:CreateRole', resource: ROLE, context }).decision;

  it('ORs the values of one key, ANDs the keys and the operators', () => {
    const c = {
      StringEquals: { 'aws:RequestTag/team': ['a', 'b'], 'iam:PermissionsBoundary': 'B' },
      StringLike: { 'aws:RequestTag/env': 'prod-*' },
    };
    expect(
      decide(c, {
        'aws:RequestTag/team': 'b',
        'iam:PermissionsBoundary': 'B',
        'aws:RequestTag/env': 'prod-1',
      }),
    ).toBe('Allow');
    expect(
      decide(c, {
        'aws:RequestTag/team': 'b',
        'iam:PermissionsBoundary': 'X',
        'aws:RequestTag/env': 'prod-1',
      }),
    ).toBe('ImplicitDeny');
    expect(decide(c, { 'aws:RequestTag/team': 'b', 'iam:PermissionsBoundary': 'B' })).toBe('ImplicitDeny');
  });

  it('reads condition key names case-insensitively', () => {
    expect(decide({ StringEquals: { 'AWS:RequestTag/team': 'a' } }, { 'aws:requesttag/team': 'a' })).toBe(
      'Allow',
    );
  });

  it('matches a missing key only with a negated operator, …IfExists or Null', () => {
    expect(decide({ StringEquals: { 'iam:PermissionsBoundary': 'B' } }, {})).toBe('ImplicitDeny');
    expect(decide({ StringNotEquals: { 'iam:PermissionsBoundary': 'B' } }, {})).toBe('Allow');
    expect(decide({ StringEqualsIfExists: { 'iam:PermissionsBoundary': 'B' } }, {})).toBe('Allow');
    expect(decide({ Null: { 'iam:PermissionsBoundary': 'true' } }, {})).toBe('Allow');
    expect(decide({ Null: { 'iam:PermissionsBoundary': 'false' } }, {})).toBe('ImplicitDeny');
    expect(decide({ Null: { 'iam:PermissionsBoundary': 'false' } }, { 'iam:PermissionsBoundary': 'B' })).toBe(
      'Allow',
    );
  });

  it('ForAllValues holds for an empty or missing set; ForAnyValue does not', () => {
    const all = { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] } };
    const any = { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['a'] } };
    expect(decide(all, {})).toBe('Allow');
    expect(decide(all, { 'aws:TagKeys': ['a'] })).toBe('Allow');
    expect(decide(all, { 'aws:TagKeys': ['a', 'c'] })).toBe('ImplicitDeny');
    expect(decide(any, {})).toBe('ImplicitDeny');
    expect(decide(any, { 'aws:TagKeys': ['c', 'a'] })).toBe('Allow');
  });

  it('matches ARNs part by part (ArnLike, ArnEquals, ArnNotLike)', () => {
    const tether = 'arn:aws:iam::*:role/tether/*';
    expect(decide({ ArnLike: { 'eks:principalArn': tether } }, { 'eks:principalArn': ROLE })).toBe('Allow');
    expect(
      decide(
        { ArnLike: { 'eks:principalArn': tether } },
        { 'eks:principalArn': 'arn:aws:iam::1:role/admin' },
      ),
    ).toBe('ImplicitDeny');
    expect(decide({ ArnNotLike: { 'eks:principalArn': tether } }, { 'eks:principalArn': ROLE })).toBe(
      'ImplicitDeny',
    );
    expect(decide({ ArnEquals: { 'aws:PrincipalArn': ROLE } }, { 'aws:PrincipalArn': ROLE })).toBe('Allow');
  });

  it('compares Bool and Numeric values', () => {
    expect(decide({ Bool: { 'aws:SecureTransport': 'false' } }, { 'aws:SecureTransport': 'FALSE' })).toBe(
      'Allow',
    );
    expect(
      decide({ NumericLessThan: { 'sts:DurationSeconds': '3601' } }, { 'sts:DurationSeconds': '3600' }),
    ).toBe('Allow');
  });

  it('says it cannot evaluate what it does not model, instead of guessing', () => {
    expect(() => decide({ DateLessThan: { 'aws:CurrentTime': '2030-01-01' } }, {})).toThrow(
      CannotEvaluateError,
    );
    expect(() => decide({ StringEquals: { 'aws:TagKeys': 'a' } }, { 'aws:TagKeys': ['a', 'b'] })).toThrow(
      CannotEvaluateError,
    );
    expect(() =>
      evaluate([allow({ Action: 's3:GetObject', Resource: `arn:aws:s3:::b/${'$'}{aws:username}` })], {
        action: 's3:GetObject',
        resource: 'arn:aws:s3:::b/x',
      }),
    ).toThrow(CannotEvaluateError);
  });
});

describe('Principal (resource policies: a role trust)', () => {
  const trust: Policy = {
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::123456789012:root' },
        Action: 'sts:AssumeRole',
        Condition: { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/hub/a' } },
      },
    ],
  };
  const as = (arn: string, account: string) => ({
    action: 'sts:AssumeRole',
    resource: ROLE,
    principal: { arn, account },
    context: { 'aws:PrincipalArn': arn },
  });

  it('lets an account principal stand for its principals, narrowed by the condition', () => {
    expect(
      evaluateResourcePolicy(trust, as('arn:aws:iam::123456789012:role/hub/a', '123456789012')).decision,
    ).toBe('Allow');
    expect(
      evaluateResourcePolicy(trust, as('arn:aws:iam::123456789012:role/hub/b', '123456789012')).decision,
    ).toBe('ImplicitDeny');
    expect(
      evaluateResourcePolicy(trust, as('arn:aws:iam::999999999999:role/hub/a', '999999999999')).decision,
    ).toBe('ImplicitDeny');
  });
});
