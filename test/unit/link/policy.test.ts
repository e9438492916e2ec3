// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${…}` here is IAM policy-variable syntax, meant literally
import { describe, expect, it } from 'vitest';
import {
  type Decision,
  type EvaluationOptions,
  type EvaluationRequest,
  evaluatePolicies,
  evaluatePolicy,
  type PolicyDocument,
  parsePolicy,
} from '#link/policy/evaluate';
import { targetTrustPolicy } from '#resources/target-role';
import { workloadPolicy, workloadTrustPolicy } from '#resources/workload-role';

// Tables from IAM's documentation (IAM JSON policy elements: Effect, Action, Resource,
// Principal, NotPrincipal, Condition operators, Variables and tags; Single-valued vs.
// multivalued context keys; Policy evaluation logic). A document is written loosely typed on
// purpose: the evaluator must judge documents Tether did not write.

type Loose = Record<string, unknown>;
const V = '2012-10-17';
const OBJECT = 'arn:aws:s3:::bucket/key';

/** An identity policy of the given statements. */
const policy = (...statements: Loose[]): PolicyDocument => ({ Version: V, Statement: statements }) as never;
const allowAll: Loose = { Effect: 'Allow', Action: '*', Resource: '*' };

const decide = (doc: PolicyDocument, request: EvaluationRequest, options?: EvaluationOptions): Decision =>
  evaluatePolicy(doc, request, options).decision;

/** The decision of one Allow statement on `s3:GetObject` with `condition`, for `context`. */
function allowWhen(condition: Loose, context: EvaluationRequest['context'], version = V): Decision {
  const doc = { Version: version, Statement: [{ ...allowAll, Condition: condition }] } as never;
  return decide(doc, { action: 's3:GetObject', resource: OBJECT, ...(context ? { context } : {}) });
}

/** The decision of Allow * plus one Deny with `condition`, for `context`. */
function denyWhen(condition: Loose, context: EvaluationRequest['context']): Decision {
  const doc = policy(allowAll, { Effect: 'Deny', Action: '*', Resource: '*', Condition: condition });
  return decide(doc, { action: 's3:GetObject', resource: OBJECT, ...(context ? { context } : {}) });
}

type ConditionCase = readonly [
  name: string,
  condition: Loose,
  context: Loose | undefined,
  expected: Decision,
];

const conditionTable = (rows: readonly ConditionCase[]) =>
  it.each(rows)('%s', (_name, condition, context, expected) => {
    // Arrange
    const ctx = context as EvaluationRequest['context'];
    // Act
    const decision = allowWhen(condition, ctx);
    // Assert
    expect(decision).toBe(expected);
  });

const denyTable = (rows: readonly ConditionCase[]) =>
  it.each(rows)('%s', (_name, condition, context, expected) => {
    // Arrange
    const ctx = context as EvaluationRequest['context'];
    // Act
    const decision = denyWhen(condition, ctx);
    // Assert
    expect(decision).toBe(expected);
  });

describe('evaluation logic: Effect and explicit-deny precedence', () => {
  type Case = [name: string, statements: Loose[], action: string, expected: Decision];
  const deleteObject = { Effect: 'Deny', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::bucket/*' };
  const unknownDeny = { ...deleteObject, Action: 's3:*', Condition: { Frobnicate: { k: 'v' } } };
  const unknownAllow = { ...allowAll, Condition: { Frobnicate: { k: 'v' } } };
  it.each<Case>([
    ['allows what an Allow statement covers', [allowAll], 's3:GetObject', 'Allow'],
    [
      'denies implicitly when no statement applies',
      [{ ...allowAll, Action: 'ec2:*' }],
      's3:GetObject',
      'ImplicitDeny',
    ],
    ['lets an explicit Deny win over an Allow', [allowAll, deleteObject], 's3:DeleteObject', 'ExplicitDeny'],
    ['ignores a Deny for another action', [allowAll, deleteObject], 's3:GetObject', 'Allow'],
    [
      'cannot evaluate a Deny with an unknown operator',
      [allowAll, unknownDeny],
      's3:GetObject',
      'CannotEvaluate',
    ],
    [
      'lets a known Deny win over an unknown one',
      [unknownDeny, deleteObject],
      's3:DeleteObject',
      'ExplicitDeny',
    ],
    [
      'skips an unknown Deny whose Action does not match',
      [allowAll, unknownDeny],
      'ec2:RunInstances',
      'Allow',
    ],
    [
      'allows when a known Allow applies beside an unknown one',
      [unknownAllow, allowAll],
      's3:GetObject',
      'Allow',
    ],
    [
      'cannot evaluate when only an unknown Allow could allow',
      [unknownAllow],
      's3:GetObject',
      'CannotEvaluate',
    ],
    [
      'cannot evaluate an Effect that is not Allow or Deny',
      [allowAll, { ...deleteObject, Effect: 'deny' }],
      's3:GetObject',
      'CannotEvaluate',
    ],
    [
      'cannot evaluate an element IAM does not document',
      [{ ...allowAll, Actions: 's3:*' }],
      'ec2:Run',
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a statement with both Action and NotAction',
      [{ ...allowAll, NotAction: 'x:y' }],
      's3:GetObject',
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a statement with neither Action nor NotAction',
      [{ Effect: 'Allow', Resource: '*' }],
      's3:GetObject',
      'CannotEvaluate',
    ],
  ])('%s', (_name, statements, action, expected) => {
    // Arrange
    const doc = policy(...statements);
    // Act
    const decision = decide(doc, { action, resource: OBJECT });
    // Assert
    expect(decision).toBe(expected);
  });

  it('names the statement and the operator it cannot evaluate', () => {
    // Arrange
    const doc = policy(allowAll, { ...unknownDeny, Sid: 'Odd' });
    // Act
    const result = evaluatePolicy(doc, { action: 's3:GetObject', resource: OBJECT });
    // Assert
    expect(result).toEqual({
      decision: 'CannotEvaluate',
      reason: "statement 2 (Odd): condition operator 'Frobnicate' is not one IAM documents",
    });
  });

  it('names the Deny that decides', () => {
    // Arrange
    const doc = policy(allowAll, { ...deleteObject, Sid: 'NoDelete' });
    // Act
    const result = evaluatePolicy(doc, { action: 's3:DeleteObject', resource: OBJECT });
    // Assert
    expect(result).toEqual({ decision: 'ExplicitDeny', reason: 'explicit Deny in statement 2 (NoDelete)' });
  });

  it.each([
    ['a Version IAM does not document', { Version: '2020-01-01', Statement: [allowAll] }],
    ['a top-level element IAM does not document', { Version: V, Statement: [allowAll], Extra: 1 }],
    ['a missing Statement', { Version: V }],
    ['a statement that is not an object', { Version: V, Statement: ['Allow'] }],
  ])('cannot evaluate a document with %s', (_name, doc) => {
    // Act
    const decision = decide(doc as never, { action: 's3:GetObject', resource: OBJECT });
    // Assert
    expect(decision).toBe('CannotEvaluate');
  });

  it('reads a single statement object as well as a list', () => {
    // Act
    const decision = decide({ Version: V, Statement: allowAll } as never, { action: 'a:b', resource: '*' });
    // Assert
    expect(decision).toBe('Allow');
  });

  it('lets a Deny in one identity policy win over an Allow in another', () => {
    // Arrange
    const docs = [policy(allowAll), policy({ Effect: 'Deny', Action: 's3:*', Resource: '*' })];
    // Act
    const result = evaluatePolicies(docs, { action: 's3:GetObject', resource: OBJECT });
    // Assert
    expect(result).toEqual({ decision: 'ExplicitDeny', reason: 'explicit Deny in policy 2, statement 1' });
  });

  it('lets an Allow in one identity policy allow when another cannot be evaluated only for other actions', () => {
    // Arrange
    const docs = [policy(allowAll), policy({ ...allowAll, Action: 'ec2:*', Condition: { Odd: { k: 'v' } } })];
    // Act
    const decision = evaluatePolicies(docs, { action: 's3:GetObject', resource: OBJECT }).decision;
    // Assert
    expect(decision).toBe('Allow');
  });
});

describe('Action and NotAction', () => {
  type Case = [name: string, element: Loose, action: string, expected: Decision];
  it.each<Case>([
    ['matches the exact action', { Action: 's3:GetObject' }, 's3:GetObject', 'Allow'],
    ['matches actions case-insensitively', { Action: 'S3:getobject' }, 's3:GetObject', 'Allow'],
    ['matches a trailing wildcard', { Action: 's3:Get*' }, 's3:GetObjectAcl', 'Allow'],
    [
      'matches wildcards anywhere (iam:*AccessKey*)',
      { Action: 'iam:*AccessKey*' },
      'iam:CreateAccessKey',
      'Allow',
    ],
    ['matches ? as one character', { Action: 's3:?etObject' }, 's3:GetObject', 'Allow'],
    ['does not match ? against two characters', { Action: 's3:?tObject' }, 's3:GetObject', 'ImplicitDeny'],
    ['matches * as every action', { Action: '*' }, 'ec2:RunInstances', 'Allow'],
    ['matches any action of a list', { Action: ['ec2:*', 's3:GetObject'] }, 's3:GetObject', 'Allow'],
    ['does not match another service', { Action: 's3:*' }, 'ec2:RunInstances', 'ImplicitDeny'],
    [
      'NotAction excludes the listed action',
      { NotAction: 's3:DeleteObject' },
      's3:DeleteObject',
      'ImplicitDeny',
    ],
    ['NotAction covers every other action', { NotAction: 's3:DeleteObject' }, 's3:GetObject', 'Allow'],
    ['NotAction excludes by wildcard', { NotAction: 'iam:*' }, 'iam:CreateRole', 'ImplicitDeny'],
    [
      'cannot evaluate an action without a service prefix',
      { Action: 'GetObject' },
      's3:GetObject',
      'CannotEvaluate',
    ],
  ])('%s', (_name, element, action, expected) => {
    // Arrange
    const doc = policy({ Effect: 'Allow', Resource: '*', ...element });
    // Act
    const decision = decide(doc, { action, resource: OBJECT });
    // Assert
    expect(decision).toBe(expected);
  });

  it('lets a Deny with NotAction deny every action but the listed ones', () => {
    // Arrange
    const doc = policy(allowAll, { Effect: 'Deny', NotAction: ['iam:Get*', 'iam:List*'], Resource: '*' });
    // Act
    const read = decide(doc, { action: 'iam:GetRole', resource: '*' });
    const write = decide(doc, { action: 'iam:DeleteRole', resource: '*' });
    // Assert
    expect([read, write]).toEqual(['Allow', 'ExplicitDeny']);
  });
});

describe('Resource and NotResource', () => {
  type Case = [name: string, element: Loose, resource: string, expected: Decision, context?: Loose];
  it.each<Case>([
    [
      'matches the exact ARN',
      { Resource: 'arn:aws:sqs:us-east-2:111122223333:queue1' },
      'arn:aws:sqs:us-east-2:111122223333:queue1',
      'Allow',
    ],
    [
      'matches every object of a bucket',
      { Resource: 'arn:aws:s3:::my_corporate_bucket/*' },
      'arn:aws:s3:::my_corporate_bucket/a/b',
      'Allow',
    ],
    [
      'matches users under a path',
      { Resource: 'arn:aws:iam::111122223333:user/accounting/*' },
      'arn:aws:iam::111122223333:user/accounting/bob',
      'Allow',
    ],
    ['matches * as every resource', { Resource: '*' }, 'arn:aws:ec2:us-east-1:1:instance/i-1', 'Allow'],
    [
      'matches ARNs case-sensitively',
      { Resource: 'arn:aws:s3:::Bucket/*' },
      'arn:aws:s3:::bucket/k',
      'ImplicitDeny',
    ],
    [
      'keeps a wildcard inside its ARN component',
      { Resource: 'arn:aws:someservice:*:111122223333:finance/*' },
      'arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt',
      'ImplicitDeny',
    ],
    [
      'matches any account with * in the account component',
      { Resource: 'arn:aws:iam::*:role/x' },
      'arn:aws:iam::222233334444:role/x',
      'Allow',
    ],
    [
      'lets a wildcard in the resource part span colons',
      { Resource: 'arn:aws:logs:us-east-1:111122223333:log-group:app:*' },
      'arn:aws:logs:us-east-1:111122223333:log-group:app:log-stream:s',
      'Allow',
    ],
    [
      'does not match a resource that is not an ARN',
      { Resource: 'arn:aws:s3:::bucket/*' },
      'bucket/key',
      'ImplicitDeny',
    ],
    ['cannot evaluate a pattern that is not an ARN', { Resource: 'bucket/*' }, OBJECT, 'CannotEvaluate'],
    [
      'NotResource excludes the listed resource',
      { NotResource: 'arn:aws:s3:::bucket/*' },
      OBJECT,
      'ImplicitDeny',
    ],
    [
      'NotResource covers every other resource',
      { NotResource: 'arn:aws:s3:::bucket/*' },
      'arn:aws:s3:::other/key',
      'Allow',
    ],
    [
      'substitutes ${aws:username} in the resource part',
      { Resource: 'arn:aws:s3:::bucket/home/${aws:username}/*' },
      'arn:aws:s3:::bucket/home/David/notes',
      'Allow',
      { 'aws:username': 'David' },
    ],
    [
      'does not match another user under ${aws:username}',
      { Resource: 'arn:aws:s3:::bucket/home/${aws:username}/*' },
      'arn:aws:s3:::bucket/home/Adele/notes',
      'ImplicitDeny',
      { 'aws:username': 'David' },
    ],
    [
      'matches nothing when the variable names an absent key',
      { Resource: 'arn:aws:s3:::bucket/home/${aws:username}/*' },
      'arn:aws:s3:::bucket/home//notes',
      'ImplicitDeny',
      {},
    ],
    [
      'substitutes a tag variable',
      { Resource: 'arn:aws:s3:::bucket/${aws:PrincipalTag/department}' },
      'arn:aws:s3:::bucket/hr',
      'Allow',
      { 'aws:PrincipalTag/department': 'hr' },
    ],
    [
      'cannot evaluate NotResource with a variable that names an absent key',
      { NotResource: 'arn:aws:s3:::bucket/${aws:username}/*' },
      OBJECT,
      'CannotEvaluate',
      {},
    ],
    [
      'cannot evaluate a variable before the resource part',
      { Resource: 'arn:aws:sqs:us-east-2:${aws:PrincipalAccount}:q' },
      'arn:aws:sqs:us-east-2:1:q',
      'CannotEvaluate',
      { 'aws:PrincipalAccount': '1' },
    ],
  ])('%s', (_name, element, resource, expected, context) => {
    // Arrange
    const doc = policy({ Effect: 'Allow', Action: '*', ...element });
    // Act
    const decision = decide(doc, {
      action: 's3:GetObject',
      resource,
      ...(context ? { context: context as never } : {}),
    });
    // Assert
    expect(decision).toBe(expected);
  });

  it('reads ${aws:username} as literal text before version 2012-10-17', () => {
    // Arrange
    const doc = {
      Version: '2008-10-17',
      Statement: [{ ...allowAll, Resource: 'arn:aws:s3:::b/${aws:username}' }],
    };
    // Act
    const literal = decide(doc as never, {
      action: 'a:b',
      resource: 'arn:aws:s3:::b/${aws:username}',
      context: { 'aws:username': 'x' },
    });
    const substituted = decide(doc as never, {
      action: 'a:b',
      resource: 'arn:aws:s3:::b/x',
      context: { 'aws:username': 'x' },
    });
    // Assert
    expect([literal, substituted]).toEqual(['Allow', 'ImplicitDeny']);
  });

  it('lets an Allow with NotResource allow only outside the listed resources', () => {
    // Arrange
    const doc = policy({
      Effect: 'Allow',
      Action: 's3:*',
      NotResource: ['arn:aws:s3:::secret', 'arn:aws:s3:::secret/*'],
    });
    // Act
    const inside = decide(doc, { action: 's3:GetObject', resource: 'arn:aws:s3:::secret/k' });
    const outside = decide(doc, { action: 's3:GetObject', resource: OBJECT });
    // Assert
    expect([inside, outside]).toEqual(['ImplicitDeny', 'Allow']);
  });

  it('cannot evaluate an identity statement without Resource or NotResource', () => {
    // Act
    const decision = decide(policy({ Effect: 'Allow', Action: '*' }), { action: 'a:b', resource: OBJECT });
    // Assert
    expect(decision).toBe('CannotEvaluate');
  });
});

describe('Principal and NotPrincipal', () => {
  const ACCOUNT = '111122223333';
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/tether/app`;
  const session = `arn:aws:sts::${ACCOUNT}:assumed-role/app/s1`;
  const trust = (principal: Loose): PolicyDocument =>
    policy({ Effect: 'Allow', Action: 'sts:AssumeRole', ...principal });
  type Case = readonly [
    name: string,
    element: Loose,
    who: EvaluationRequest['principal'],
    expected: Decision,
  ];
  const aws = (id: string) => ({ type: 'AWS' as const, id });
  it.each<Case>([
    [
      'lets an account id cover a role session of the account',
      { Principal: { AWS: ACCOUNT } },
      aws(session),
      'Allow',
    ],
    [
      'lets a root ARN cover a user of the account',
      { Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` } },
      aws(`arn:aws:iam::${ACCOUNT}:user/Bob`),
      'Allow',
    ],
    [
      'does not let an account cover another account',
      { Principal: { AWS: ACCOUNT } },
      aws('arn:aws:iam::999999999999:role/app'),
      'ImplicitDeny',
    ],
    ['lets a role ARN cover the role', { Principal: { AWS: roleArn } }, aws(roleArn), 'Allow'],
    [
      'lets a role ARN cover its sessions, whose ARN drops the path',
      { Principal: { AWS: roleArn } },
      aws(session),
      'Allow',
    ],
    [
      'does not let a role ARN cover a session of another role',
      { Principal: { AWS: roleArn } },
      aws(`arn:aws:sts::${ACCOUNT}:assumed-role/other/s1`),
      'ImplicitDeny',
    ],
    [
      'does not let a role ARN cover a same-named role in another account',
      { Principal: { AWS: roleArn } },
      aws('arn:aws:sts::999999999999:assumed-role/app/s1'),
      'ImplicitDeny',
    ],
    [
      'does not let a role ARN cover a same-named role under another path',
      { Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/app` } },
      aws(roleArn),
      'ImplicitDeny',
    ],
    ['lets a session ARN cover exactly that session', { Principal: { AWS: session } }, aws(session), 'Allow'],
    [
      'does not let a session ARN cover another session of the role',
      { Principal: { AWS: session } },
      aws(`arn:aws:sts::${ACCOUNT}:assumed-role/app/s2`),
      'ImplicitDeny',
    ],
    [
      'does not let a session ARN cover the role itself',
      { Principal: { AWS: session } },
      aws(roleArn),
      'ImplicitDeny',
    ],
    [
      'lets a user ARN cover that user',
      { Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/Bob` } },
      aws(`arn:aws:iam::${ACCOUNT}:user/Bob`),
      'Allow',
    ],
    ['lets "*" cover everyone', { Principal: '*' }, { type: 'Service', id: 'ec2.amazonaws.com' }, 'Allow'],
    ['lets "AWS": "*" cover any AWS principal', { Principal: { AWS: '*' } }, aws(session), 'Allow'],
    [
      'lets a service principal cover that service',
      { Principal: { Service: ['ecs.amazonaws.com', 'elasticloadbalancing.amazonaws.com'] } },
      { type: 'Service', id: 'ecs.amazonaws.com' },
      'Allow',
    ],
    [
      'does not let a service principal cover another service',
      { Principal: { Service: 'ecs.amazonaws.com' } },
      { type: 'Service', id: 'ec2.amazonaws.com' },
      'ImplicitDeny',
    ],
    [
      'does not let an AWS principal cover a service',
      { Principal: { AWS: ACCOUNT } },
      { type: 'Service', id: 'ec2.amazonaws.com' },
      'ImplicitDeny',
    ],
    [
      'lets a federated principal cover that provider',
      { Principal: { Federated: 'accounts.google.com' } },
      { type: 'Federated', id: 'accounts.google.com' },
      'Allow',
    ],
    [
      'matches no one for a deleted role shown as its unique id',
      { Principal: { AWS: 'AROAEXAMPLEID12345678' } },
      aws(session),
      'ImplicitDeny',
    ],
    [
      'cannot evaluate a wildcard inside a principal',
      { Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/*` } },
      aws(session),
      'CannotEvaluate',
    ],
    [
      'cannot evaluate "AWS": "*" for a service principal',
      { Principal: { AWS: '*' } },
      { type: 'Service', id: 'ec2.amazonaws.com' },
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a principal when the request names none',
      { Principal: { AWS: ACCOUNT } },
      undefined,
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a resource statement without Principal or NotPrincipal',
      {},
      aws(session),
      'CannotEvaluate',
    ],
  ])('%s', (_name, element, who, expected) => {
    // Arrange
    const doc = trust(element);
    // Act
    const decision = decide(
      doc,
      { action: 'sts:AssumeRole', ...(who ? { principal: who } : {}) },
      { policyType: 'resource' },
    );
    // Assert
    expect(decision).toBe(expected);
  });

  type NotCase = [name: string, listed: string[], expected: Decision];
  it.each<NotCase>([
    // IAM NotPrincipal example: list the session, its role and its account to exempt a session.
    [
      'exempts a session whose session, role and account are all listed',
      [session, roleArn, `arn:aws:iam::${ACCOUNT}:root`],
      'Allow',
    ],
    [
      'denies a session none of whose identities is listed',
      ['arn:aws:iam::999999999999:root'],
      'ExplicitDeny',
    ],
    [
      'cannot evaluate a NotPrincipal that lists the session but not its role and account',
      [session],
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a NotPrincipal that lists the account but not the session',
      [`arn:aws:iam::${ACCOUNT}:root`],
      'CannotEvaluate',
    ],
  ])('NotPrincipal with Deny %s', (_name, listed, expected) => {
    // Arrange
    const doc = policy(
      { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*' },
      { Effect: 'Deny', NotPrincipal: { AWS: listed }, Action: 's3:*', Resource: 'arn:aws:s3:::bucket/*' },
    );
    // Act
    const decision = decide(
      doc,
      { action: 's3:GetObject', resource: OBJECT, principal: aws(session) },
      { policyType: 'resource' },
    );
    // Assert
    expect(decision).toBe(expected);
  });

  it('ignores Principal in an identity policy rather than skipping the statement', () => {
    // Arrange
    const doc = policy(
      { ...allowAll, Principal: { AWS: '999999999999' } },
      { Effect: 'Deny', Action: 's3:Delete*', Resource: '*', Principal: '*' },
    );
    // Act
    const get = decide(doc, { action: 's3:GetObject', resource: OBJECT }, { policyType: 'identity' });
    const del = decide(
      doc,
      { action: 's3:DeleteObject', resource: OBJECT, principal: aws(session) },
      { policyType: 'identity' },
    );
    // Assert
    expect([get, del]).toEqual(['Allow', 'ExplicitDeny']);
  });

  it('cannot evaluate NotPrincipal in an identity policy', () => {
    // Act
    const decision = decide(policy({ ...allowAll, NotPrincipal: { AWS: ACCOUNT } }), {
      action: 'a:b',
      resource: OBJECT,
    });
    // Assert
    expect(decision).toBe('CannotEvaluate');
  });
});

describe('String condition operators', () => {
  const tag = 'aws:PrincipalTag/job-category';
  conditionTable([
    [
      'StringEquals matches the exact value',
      { StringEquals: { [tag]: 'iamuser-admin' } },
      { [tag]: 'iamuser-admin' },
      'Allow',
    ],
    [
      'StringEquals is case-sensitive',
      { StringEquals: { [tag]: 'iamuser-admin' } },
      { [tag]: 'IAMUSER-ADMIN' },
      'ImplicitDeny',
    ],
    [
      'StringEquals is false on a missing key',
      { StringEquals: { [tag]: 'iamuser-admin' } },
      {},
      'ImplicitDeny',
    ],
    [
      'StringEquals ORs the listed values',
      { StringEquals: { [tag]: ['audit', 'security'] } },
      { [tag]: 'security' },
      'Allow',
    ],
    [
      'StringEquals compares a JSON number as text',
      { StringEquals: { 's3:max-keys': 10 } },
      { 's3:max-keys': '10' },
      'Allow',
    ],
    [
      'StringNotEquals holds for another value',
      { StringNotEquals: { [tag]: 'admin' } },
      { [tag]: 'dev' },
      'Allow',
    ],
    [
      'StringNotEquals fails for the value',
      { StringNotEquals: { [tag]: 'admin' } },
      { [tag]: 'admin' },
      'ImplicitDeny',
    ],
    ['StringNotEquals holds on a missing key', { StringNotEquals: { [tag]: 'admin' } }, {}, 'Allow'],
    [
      'StringNotEquals needs the value to match none of the list',
      { StringNotEquals: { [tag]: ['audit', 'security'] } },
      { [tag]: 'audit' },
      'ImplicitDeny',
    ],
    [
      'StringEqualsIgnoreCase ignores case',
      { StringEqualsIgnoreCase: { [tag]: 'Admin' } },
      { [tag]: 'ADMIN' },
      'Allow',
    ],
    [
      'StringEqualsIgnoreCase is false on a missing key',
      { StringEqualsIgnoreCase: { [tag]: 'Admin' } },
      {},
      'ImplicitDeny',
    ],
    [
      'StringNotEqualsIgnoreCase fails for the value in any case',
      { StringNotEqualsIgnoreCase: { [tag]: 'Admin' } },
      { [tag]: 'aDMIN' },
      'ImplicitDeny',
    ],
    [
      'StringNotEqualsIgnoreCase holds on a missing key',
      { StringNotEqualsIgnoreCase: { [tag]: 'Admin' } },
      {},
      'Allow',
    ],
    [
      'StringLike matches *',
      { StringLike: { 's3:prefix': 'home/*' } },
      { 's3:prefix': 'home/David/' },
      'Allow',
    ],
    [
      'StringLike matches ? as one character',
      { StringLike: { 's3:prefix': 'v?' } },
      { 's3:prefix': 'v2' },
      'Allow',
    ],
    [
      'StringLike needs a wildcard for a partial match',
      { StringLike: { 's3:prefix': 'home/' } },
      { 's3:prefix': 'home/David/' },
      'ImplicitDeny',
    ],
    [
      'StringLike matches the empty string',
      { StringLike: { 's3:prefix': ['', 'home/'] } },
      { 's3:prefix': '' },
      'Allow',
    ],
    [
      'StringLike is case-sensitive',
      { StringLike: { 'ec2:InstanceType': 't2.*' } },
      { 'ec2:InstanceType': 'T2.micro' },
      'ImplicitDeny',
    ],
    ['StringLike is false on a missing key', { StringLike: { 's3:prefix': '*' } }, {}, 'ImplicitDeny'],
    [
      'StringNotLike fails for a matching value',
      { StringNotLike: { 's3:prefix': 'secret/*' } },
      { 's3:prefix': 'secret/x' },
      'ImplicitDeny',
    ],
    ['StringNotLike holds on a missing key', { StringNotLike: { 's3:prefix': 'secret/*' } }, {}, 'Allow'],
  ]);
  denyTable([
    [
      'a Deny with StringNotEquals fires on a missing key',
      { StringNotEquals: { 'aws:PrincipalOrgID': 'o-1' } },
      {},
      'ExplicitDeny',
    ],
    [
      'a Deny with StringNotEquals spares the listed value',
      { StringNotEquals: { 'aws:PrincipalOrgID': 'o-1' } },
      { 'aws:PrincipalOrgID': 'o-1' },
      'Allow',
    ],
    [
      'a Deny with StringEquals does not fire on a missing key',
      { StringEquals: { 'aws:ResourceTag/Protection': 'enabled' } },
      {},
      'Allow',
    ],
  ]);
});

describe('Numeric condition operators', () => {
  const k = 's3:max-keys';
  conditionTable([
    [
      'NumericLessThanEquals allows up to the limit',
      { NumericLessThanEquals: { [k]: '10' } },
      { [k]: '10' },
      'Allow',
    ],
    [
      'NumericLessThanEquals refuses above the limit',
      { NumericLessThanEquals: { [k]: '10' } },
      { [k]: '11' },
      'ImplicitDeny',
    ],
    [
      'NumericLessThanEquals is false on a missing key',
      { NumericLessThanEquals: { [k]: '10' } },
      {},
      'ImplicitDeny',
    ],
    ['NumericLessThan is strict', { NumericLessThan: { [k]: 10 } }, { [k]: '10' }, 'ImplicitDeny'],
    [
      'NumericGreaterThan compares as numbers, not text',
      { NumericGreaterThan: { [k]: '9' } },
      { [k]: '10' },
      'Allow',
    ],
    [
      'NumericGreaterThanEquals holds at the bound',
      { NumericGreaterThanEquals: { [k]: '10' } },
      { [k]: '10' },
      'Allow',
    ],
    ['NumericEquals compares decimals by value', { NumericEquals: { [k]: '10' } }, { [k]: '10.0' }, 'Allow'],
    [
      'NumericNotEquals fails for the value',
      { NumericNotEquals: { [k]: ['5', '10'] } },
      { [k]: '10' },
      'ImplicitDeny',
    ],
    ['NumericNotEquals holds on a missing key', { NumericNotEquals: { [k]: '10' } }, {}, 'Allow'],
    [
      'cannot evaluate a policy value that is not a number',
      { NumericEquals: { [k]: 'ten' } },
      { [k]: '10' },
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a request value that is not a number',
      { NumericEquals: { [k]: '10' } },
      { [k]: 'ten' },
      'CannotEvaluate',
    ],
  ]);
});

describe('Date condition operators', () => {
  const k = 'aws:TokenIssueTime';
  conditionTable([
    [
      'DateGreaterThan holds after the date',
      { DateGreaterThan: { [k]: '2020-01-01T00:00:01Z' } },
      { [k]: '2020-06-01T00:00:00Z' },
      'Allow',
    ],
    [
      'DateGreaterThan fails before the date',
      { DateGreaterThan: { [k]: '2020-01-01T00:00:01Z' } },
      { [k]: '2019-12-31T23:59:59Z' },
      'ImplicitDeny',
    ],
    [
      'DateGreaterThan is false on a missing key',
      { DateGreaterThan: { [k]: '2020-01-01T00:00:01Z' } },
      {},
      'ImplicitDeny',
    ],
    [
      'DateLessThan compares across time zones',
      { DateLessThan: { 'aws:CurrentTime': '2020-01-01T10:00:00+02:00' } },
      { 'aws:CurrentTime': '2020-01-01T08:30:00Z' },
      'ImplicitDeny',
    ],
    [
      'DateLessThanEquals holds at the instant in another zone',
      { DateLessThanEquals: { 'aws:CurrentTime': '2020-01-01T10:00:00+02:00' } },
      { 'aws:CurrentTime': '2020-01-01T08:00:00Z' },
      'Allow',
    ],
    [
      'DateGreaterThanEquals takes epoch seconds',
      { DateGreaterThanEquals: { 'aws:EpochTime': '1577836800' } },
      { 'aws:EpochTime': '1577836800' },
      'Allow',
    ],
    [
      'DateEquals matches a date against midnight UTC',
      { DateEquals: { 'aws:CurrentTime': '2020-01-01' } },
      { 'aws:CurrentTime': '2020-01-01T00:00:00Z' },
      'Allow',
    ],
    [
      'DateEquals compares an ISO date with epoch seconds',
      { DateEquals: { 'aws:CurrentTime': 1577836800 } },
      { 'aws:CurrentTime': '2020-01-01T00:00:00Z' },
      'Allow',
    ],
    ['DateNotEquals holds on a missing key', { DateNotEquals: { [k]: '2020-01-01T00:00:00Z' } }, {}, 'Allow'],
    [
      'cannot evaluate a date that is not ISO 8601 or epoch',
      { DateLessThan: { [k]: 'next tuesday' } },
      { [k]: '2020-01-01T00:00:00Z' },
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a date-time without a time zone',
      { DateLessThan: { [k]: '2020-01-01T00:00:00' } },
      { [k]: '2020-01-01T00:00:00Z' },
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a day that does not exist',
      { DateLessThan: { [k]: '2021-02-30' } },
      { [k]: '2020-01-01T00:00:00Z' },
      'CannotEvaluate',
    ],
  ]);
});

describe('Bool condition operator', () => {
  // IAM's BooleanExample: deny S3 over plain HTTP.
  denyTable([
    [
      'denies a request that is not over TLS',
      { Bool: { 'aws:SecureTransport': 'false' } },
      { 'aws:SecureTransport': 'false' },
      'ExplicitDeny',
    ],
    [
      'spares a request over TLS',
      { Bool: { 'aws:SecureTransport': 'false' } },
      { 'aws:SecureTransport': 'true' },
      'Allow',
    ],
    ['does not fire on a missing key', { Bool: { 'aws:SecureTransport': 'false' } }, {}, 'Allow'],
    [
      'reads a JSON boolean',
      { Bool: { 'aws:SecureTransport': false } },
      { 'aws:SecureTransport': 'false' },
      'ExplicitDeny',
    ],
    [
      'compares booleans case-insensitively',
      { Bool: { 'aws:SecureTransport': 'FALSE' } },
      { 'aws:SecureTransport': 'false' },
      'ExplicitDeny',
    ],
    [
      'cannot evaluate a value that is not a boolean',
      { Bool: { 'aws:SecureTransport': 'no' } },
      { 'aws:SecureTransport': 'false' },
      'CannotEvaluate',
    ],
    [
      'lets BoolIfExists fire on a missing key',
      { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'false' } },
      {},
      'ExplicitDeny',
    ],
  ]);
});

describe('Binary condition operator', () => {
  conditionTable([
    [
      'BinaryEquals compares the decoded bytes',
      { BinaryEquals: { k: 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' } },
      { k: 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' },
      'Allow',
    ],
    [
      'BinaryEquals fails for other bytes',
      { BinaryEquals: { k: 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' } },
      { k: 'b3RoZXI=' },
      'ImplicitDeny',
    ],
    [
      'BinaryEquals is false on a missing key',
      { BinaryEquals: { k: 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' } },
      {},
      'ImplicitDeny',
    ],
    [
      'cannot evaluate a value that is not base-64',
      { BinaryEquals: { k: 'not base64!' } },
      { k: 'b3RoZXI=' },
      'CannotEvaluate',
    ],
  ]);
});

describe('IP address condition operators', () => {
  const ip = 'aws:SourceIp';
  conditionTable([
    [
      'IpAddress matches an address in the range',
      { IpAddress: { [ip]: '203.0.113.0/24' } },
      { [ip]: '203.0.113.7' },
      'Allow',
    ],
    [
      'IpAddress refuses an address outside the range',
      { IpAddress: { [ip]: '203.0.113.0/24' } },
      { [ip]: '203.0.114.7' },
      'ImplicitDeny',
    ],
    [
      'IpAddress reads a bare address as /32',
      { IpAddress: { [ip]: '203.0.113.7' } },
      { [ip]: '203.0.113.8' },
      'ImplicitDeny',
    ],
    [
      'IpAddress matches /0 as every IPv4 address',
      { IpAddress: { [ip]: '0.0.0.0/0' } },
      { [ip]: '8.8.8.8' },
      'Allow',
    ],
    [
      'IpAddress matches an IPv6 range',
      { IpAddress: { [ip]: ['203.0.113.0/24', '2001:DB8:1234:5678::/64'] } },
      { [ip]: '2001:db8:1234:5678:abcd::1' },
      'Allow',
    ],
    [
      'IpAddress refuses an IPv6 address outside the range',
      { IpAddress: { [ip]: '2001:DB8:1234:5678::/64' } },
      { [ip]: '2001:db8:1234:5679::1' },
      'ImplicitDeny',
    ],
    [
      'IpAddress never matches an IPv4 address to an IPv6 range',
      { IpAddress: { [ip]: '::/0' } },
      { [ip]: '203.0.113.7' },
      'ImplicitDeny',
    ],
    [
      'IpAddress is false on a missing key (a VPC endpoint request)',
      { IpAddress: { [ip]: '203.0.113.0/24' } },
      {},
      'ImplicitDeny',
    ],
    [
      'NotIpAddress holds outside the range',
      { NotIpAddress: { [ip]: '203.0.113.0/24' } },
      { [ip]: '198.51.100.1' },
      'Allow',
    ],
    [
      'NotIpAddress fails inside the range',
      { NotIpAddress: { [ip]: '203.0.113.0/24' } },
      { [ip]: '203.0.113.1' },
      'ImplicitDeny',
    ],
    ['NotIpAddress holds on a missing key', { NotIpAddress: { [ip]: '203.0.113.0/24' } }, {}, 'Allow'],
    [
      'cannot evaluate a prefix longer than the address',
      { IpAddress: { [ip]: '203.0.113.0/33' } },
      { [ip]: '203.0.113.7' },
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a request value that is not an address',
      { IpAddress: { [ip]: '203.0.113.0/24' } },
      { [ip]: 'vpce-1' },
      'CannotEvaluate',
    ],
  ]);
});

describe('ARN condition operators', () => {
  const k = 'aws:SourceArn';
  const pattern = 'arn:aws:someservice:*:111122223333:finance/*';
  const value = 'arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt';
  conditionTable([
    [
      'ArnEquals matches the exact ARN',
      { ArnEquals: { [k]: 'arn:aws:sns:us-east-1:123456789012:topic' } },
      { [k]: 'arn:aws:sns:us-east-1:123456789012:topic' },
      'Allow',
    ],
    [
      'ArnEquals takes wildcards like ArnLike',
      { ArnEquals: { [k]: 'arn:aws:sns:*:123456789012:*' } },
      { [k]: 'arn:aws:sns:us-east-1:123456789012:topic' },
      'Allow',
    ],
    [
      'ArnLike checks each component on its own',
      { ArnLike: { [k]: pattern } },
      { [k]: value },
      'ImplicitDeny',
    ],
    [
      'StringLike lets the same wildcard span components',
      { StringLike: { [k]: pattern } },
      { [k]: value },
      'Allow',
    ],
    [
      'ArnLike is case-sensitive',
      { ArnLike: { [k]: 'arn:aws:iam::*:role/Admin' } },
      { [k]: 'arn:aws:iam::1:role/admin' },
      'ImplicitDeny',
    ],
    ['ArnLike is false on a missing key', { ArnLike: { [k]: 'arn:aws:sns:*:*:*' } }, {}, 'ImplicitDeny'],
    [
      'ArnNotEquals fails for a matching ARN',
      { ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::1:role/a' } },
      { 'aws:PrincipalArn': 'arn:aws:iam::1:role/a' },
      'ImplicitDeny',
    ],
    ['ArnNotLike holds on a missing key', { ArnNotLike: { [k]: 'arn:aws:sns:*:*:*' } }, {}, 'Allow'],
    [
      'ArnLike does not match a request value that is not an ARN',
      { ArnLike: { [k]: 'arn:aws:sns:*:*:*' } },
      { [k]: 'topic' },
      'ImplicitDeny',
    ],
    [
      'cannot evaluate a policy value that is not an ARN',
      { ArnLike: { [k]: 'sns/*' } },
      { [k]: 'arn:aws:sns:us-east-1:1:t' },
      'CannotEvaluate',
    ],
  ]);
});

describe('...IfExists condition operators', () => {
  const types = { StringLikeIfExists: { 'ec2:InstanceType': ['t1.*', 't2.*', 'm3.*'] } };
  conditionTable([
    ['StringLikeIfExists holds when the key is missing', types, {}, 'Allow'],
    ['StringLikeIfExists checks the key when present', types, { 'ec2:InstanceType': 't2.micro' }, 'Allow'],
    [
      'StringLikeIfExists fails for a present, non-matching key',
      types,
      { 'ec2:InstanceType': 'c5.large' },
      'ImplicitDeny',
    ],
    [
      'NumericLessThanIfExists holds when the key is missing',
      { NumericLessThanIfExists: { 's3:max-keys': '5' } },
      {},
      'Allow',
    ],
    [
      'IpAddressIfExists checks the key when present',
      { IpAddressIfExists: { 'aws:SourceIp': '10.0.0.0/8' } },
      { 'aws:SourceIp': '192.168.0.1' },
      'ImplicitDeny',
    ],
  ]);
  denyTable([
    // IAM: "with a negated condition operator like StringNotEqualsIfExists, the request is still denied even if the tag is missing".
    [
      'a Deny with StringNotEqualsIfExists fires on a missing key',
      { StringNotEqualsIfExists: { 'aws:ResourceTag/team': 'a' } },
      {},
      'ExplicitDeny',
    ],
    [
      'a Deny with StringEqualsIfExists fires on a missing key',
      { StringEqualsIfExists: { 'aws:ResourceTag/team': 'a' } },
      {},
      'ExplicitDeny',
    ],
  ]);
});

describe('Null condition operator', () => {
  conditionTable([
    ['Null true holds when the key is missing', { Null: { 'aws:TokenIssueTime': 'true' } }, {}, 'Allow'],
    [
      'Null true fails when the key is present',
      { Null: { 'aws:TokenIssueTime': 'true' } },
      { 'aws:TokenIssueTime': '2020-01-01T00:00:00Z' },
      'ImplicitDeny',
    ],
    [
      'Null false holds when the key is present',
      { Null: { 'aws:TokenIssueTime': false } },
      { 'aws:TokenIssueTime': '2020-01-01T00:00:00Z' },
      'Allow',
    ],
    [
      'Null false fails when the key is missing',
      { Null: { 'aws:TokenIssueTime': 'false' } },
      {},
      'ImplicitDeny',
    ],
    [
      'Null true holds for a multivalued key with no values',
      { Null: { 'aws:TagKeys': 'true' } },
      { 'aws:TagKeys': [] },
      'Allow',
    ],
    [
      'Null false holds for a multivalued key',
      { Null: { 'aws:TagKeys': 'false' } },
      { 'aws:TagKeys': ['a', 'b'] },
      'Allow',
    ],
    [
      'cannot evaluate Null with a value other than true or false',
      { Null: { 'aws:TokenIssueTime': 'maybe' } },
      {},
      'CannotEvaluate',
    ],
    [
      'cannot evaluate NullIfExists, which IAM does not document',
      { NullIfExists: { 'aws:TokenIssueTime': 'true' } },
      {},
      'CannotEvaluate',
    ],
  ]);
});

describe('set operators on multivalued keys', () => {
  const k = 'dynamodb:requestedAttributes';
  const only = { 'ForAllValues:StringLike': { [k]: ['PostDateTime', 'Message', 'Tags'] } };
  conditionTable([
    ['ForAllValues holds when every value is listed', only, { [k]: ['PostDateTime', 'Message'] }, 'Allow'],
    [
      'ForAllValues fails when one value is not listed',
      only,
      { [k]: ['PostDateTime', 'UserName'] },
      'ImplicitDeny',
    ],
    ['ForAllValues holds when the key is missing', only, {}, 'Allow'],
    ['ForAllValues holds when the key has no values', only, { [k]: [] }, 'Allow'],
    ['ForAllValues reads a single-valued key as a set of one', only, { [k]: 'Tags' }, 'Allow'],
    [
      'ForAnyValue holds when one value is listed',
      { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['env', 'team'] } },
      { 'aws:TagKeys': ['cost', 'team'] },
      'Allow',
    ],
    [
      'ForAnyValue fails when no value is listed',
      { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['env'] } },
      { 'aws:TagKeys': ['cost'] },
      'ImplicitDeny',
    ],
    [
      'ForAnyValue is false when the key is missing',
      { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['env'] } },
      {},
      'ImplicitDeny',
    ],
    [
      'ForAnyValue with IfExists holds when the key is missing',
      { 'ForAnyValue:StringEqualsIfExists': { 'aws:TagKeys': ['env'] } },
      {},
      'Allow',
    ],
    [
      'ForAllValues:StringNotEquals holds when no value is forbidden',
      { 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['owner'] } },
      { 'aws:TagKeys': ['env', 'team'] },
      'Allow',
    ],
    [
      'ForAllValues:StringNotEquals fails when one value is forbidden',
      { 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['owner'] } },
      { 'aws:TagKeys': ['env', 'owner'] },
      'ImplicitDeny',
    ],
    [
      'ForAnyValue:StringNotEquals holds when one value is not listed',
      { 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['env'] } },
      { 'aws:TagKeys': ['env', 'team'] },
      'Allow',
    ],
    [
      'cannot evaluate a plain operator on a multivalued key',
      { StringEquals: { 'aws:TagKeys': 'env' } },
      { 'aws:TagKeys': ['env', 'team'] },
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a negated plain operator on a multivalued key',
      { StringNotEquals: { 'aws:TagKeys': 'env' } },
      { 'aws:TagKeys': ['env'] },
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a set operator IAM does not document',
      { 'ForSomeValues:StringEquals': { 'aws:TagKeys': 'env' } },
      { 'aws:TagKeys': ['env'] },
      'CannotEvaluate',
    ],
  ]);
  denyTable([
    // IAM's example: deny PutItem when any requested attribute is ID or PostDateTime.
    [
      'a Deny with ForAnyValue fires when one value is listed',
      { 'ForAnyValue:StringLike': { [k]: ['ID', 'PostDateTime'] } },
      { [k]: ['UserName', 'Message', 'PostDateTime'] },
      'ExplicitDeny',
    ],
    [
      'a Deny with ForAnyValue spares values none of which is listed',
      { 'ForAnyValue:StringLike': { [k]: ['ID', 'PostDateTime'] } },
      { [k]: ['UserName'] },
      'Allow',
    ],
    [
      'a Deny with ForAnyValue spares a missing key',
      { 'ForAnyValue:StringLike': { [k]: ['ID', 'PostDateTime'] } },
      {},
      'Allow',
    ],
    [
      'a Deny with ForAllValues fires on a missing key',
      { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env'] } },
      {},
      'ExplicitDeny',
    ],
  ]);
});

describe('policy variables in conditions', () => {
  const user = { 'aws:username': 'David' };
  conditionTable([
    [
      'StringLike substitutes ${aws:username}',
      { StringLike: { 's3:prefix': ['${aws:username}/*'] } },
      { ...user, 's3:prefix': 'David/notes' },
      'Allow',
    ],
    [
      'StringLike refuses another user',
      { StringLike: { 's3:prefix': ['${aws:username}/*'] } },
      { ...user, 's3:prefix': 'Adele/notes' },
      'ImplicitDeny',
    ],
    [
      'a variable naming a missing key matches nothing',
      { StringLike: { 's3:prefix': ['home/${aws:username}/*'] } },
      { 's3:prefix': 'home//x' },
      'ImplicitDeny',
    ],
    [
      'the other values still match when one variable names a missing key',
      { StringLike: { 's3:prefix': ['', 'home/', 'home/${aws:username}/'] } },
      { 's3:prefix': 'home/' },
      'Allow',
    ],
    [
      'a default value stands in for a missing key',
      { StringEquals: { 'aws:PrincipalTag/team': "${aws:ResourceTag/team, 'none'}" } },
      { 'aws:PrincipalTag/team': 'none' },
      'Allow',
    ],
    [
      'the key wins over the default value',
      { StringEquals: { 'aws:PrincipalTag/team': "${aws:ResourceTag/team, 'none'}" } },
      { 'aws:PrincipalTag/team': 'none', 'aws:ResourceTag/team': 'red' },
      'ImplicitDeny',
    ],
    [
      'variable names are case-insensitive',
      { StringEquals: { k: '${AWS:UserName}' } },
      { ...user, k: 'David' },
      'Allow',
    ],
    [
      '${*} is a literal asterisk, not a wildcard',
      { StringLike: { k: 'a${*}b' } },
      { k: 'axb' },
      'ImplicitDeny',
    ],
    ['${*} matches a literal asterisk', { StringLike: { k: 'a${*}b' } }, { k: 'a*b' }, 'Allow'],
    ['${?} and ${$} are literal characters', { StringEquals: { k: '${?}${$}' } }, { k: '?$' }, 'Allow'],
    [
      'a substituted value never acts as a wildcard',
      { StringLike: { k: '${aws:username}' } },
      { 'aws:username': 'a*', k: 'abc' },
      'ImplicitDeny',
    ],
    [
      'ArnLike substitutes a variable',
      { ArnLike: { 'aws:SourceArn': 'arn:aws:sns:*:*:${aws:username}-topic' } },
      { ...user, 'aws:SourceArn': 'arn:aws:sns:us-east-1:1:David-topic' },
      'Allow',
    ],
    [
      'cannot evaluate a negated operator whose variable names a missing key',
      { StringNotEquals: { k: '${aws:username}' } },
      { k: 'x' },
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a multivalued key as a variable',
      { StringEquals: { k: '${aws:TagKeys}' } },
      { 'aws:TagKeys': ['a'], k: 'a' },
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a variable in a Numeric operator',
      { NumericEquals: { k: '${aws:username}' } },
      { ...user, k: '1' },
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a variable that is not closed',
      { StringEquals: { k: '${aws:username' } },
      { ...user, k: 'David' },
      'CannotEvaluate',
    ],
  ]);

  it('reads ${aws:username} in a condition as literal text before version 2012-10-17', () => {
    // Act
    const decision = allowWhen(
      { StringEquals: { k: '${aws:username}' } },
      { k: '${aws:username}', 'aws:username': 'x' },
      '2008-10-17',
    );
    // Assert
    expect(decision).toBe('Allow');
  });
});

describe('the Condition element', () => {
  conditionTable([
    [
      'reads condition key names case-insensitively',
      { IpAddress: { 'AWS:SourceIP': '10.0.0.0/8' } },
      { 'aws:sourceip': '10.1.2.3' },
      'Allow',
    ],
    [
      'ANDs the keys of one operator',
      { StringEquals: { a: '1', b: '2' } },
      { a: '1', b: '3' },
      'ImplicitDeny',
    ],
    [
      'ANDs the operators of one block',
      { StringEquals: { a: '1' }, StringLike: { b: '2*' } },
      { a: '1', b: '20' },
      'Allow',
    ],
    [
      'lets a false operator decide beside an unknown one',
      { StringEquals: { a: '1' }, Frobnicate: { b: '2' } },
      { a: '0' },
      'ImplicitDeny',
    ],
    ['cannot evaluate an unknown operator', { Frobnicate: { k: 'v' } }, { k: 'v' }, 'CannotEvaluate'],
    [
      'cannot evaluate an operator in the wrong case',
      { stringequals: { k: 'v' } },
      { k: 'v' },
      'CannotEvaluate',
    ],
    [
      'cannot evaluate a value that is an object',
      { StringEquals: { k: { v: 1 } } },
      { k: 'v' },
      'CannotEvaluate',
    ],
    ['cannot evaluate an empty list of values', { StringEquals: { k: [] } }, { k: 'v' }, 'CannotEvaluate'],
    [
      'cannot evaluate a key the context holds twice in different case',
      { StringEquals: { k: 'v' } },
      { k: 'v', K: 'w' },
      'CannotEvaluate',
    ],
  ]);

  it('cannot evaluate a key an incomplete context does not list', () => {
    // Arrange
    const doc = policy(allowAll, {
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1' } },
    });
    const request = { action: 's3:GetObject', resource: OBJECT, contextIsComplete: false };
    // Act
    const unlisted = decide(doc, request);
    const listed = decide(doc, { ...request, context: { 'aws:RequestedRegion': 'eu-west-1' } });
    // Assert
    expect([unlisted, listed]).toEqual(['CannotEvaluate', 'Allow']);
  });
});

describe('the documents Tether writes', () => {
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

  it('allows the IRSA trust for exactly its service account and audience', () => {
    // Arrange
    const trust = workloadTrustPolicy('111111111111', issuer, w);
    const ask = (sub: string, aud = 'sts.amazonaws.com', id = provider) =>
      decide(trust, {
        action: 'sts:AssumeRoleWithWebIdentity',
        principal: { type: 'Federated', id },
        context: { [`${host}:sub`]: sub, [`${host}:aud`]: aud },
      });
    // Act
    const answers = [
      ask('system:serviceaccount:ns:sa'),
      ask('system:serviceaccount:ns:other'),
      ask('system:serviceaccount:ns:sa', 'other'),
      ask('system:serviceaccount:ns:sa', 'sts.amazonaws.com', 'arn:aws:iam::999999999999:oidc-provider/x'),
    ];
    // Assert
    expect(answers).toEqual(['Allow', 'ImplicitDeny', 'ImplicitDeny', 'ImplicitDeny']);
  });

  it('allows the target trust only for the workload role ARN, and its sessions', () => {
    // Arrange
    const workloadArn = 'arn:aws:iam::111111111111:role/tether/w';
    const trust = targetTrustPolicy('111111111111', workloadArn);
    const ask = (id: string, principalArn = id) =>
      decide(trust, {
        action: 'sts:AssumeRole',
        principal: { type: 'AWS', id },
        context: { 'aws:PrincipalArn': principalArn },
      });
    // Act
    const answers = [
      ask(workloadArn),
      ask('arn:aws:sts::111111111111:assumed-role/w/botocore-session-1', workloadArn),
      ask('arn:aws:iam::111111111111:role/tether/other'),
      ask('arn:aws:iam::222222222222:role/tether/w'),
    ];
    // Assert
    expect(answers).toEqual(['Allow', 'Allow', 'ImplicitDeny', 'ImplicitDeny']);
  });

  it('allows sts:AssumeRole on Tether target roles tagged for the workload, in any account, and nothing else', () => {
    // Arrange
    const w = { accountId: '1', region: 'r', cluster: 'c', namespace: 'n', serviceAccount: 's' };
    const doc = workloadPolicy(w);
    const tagged = (value: string) => ({ 'aws:ResourceTag/tether:workload': value });
    const mine = tagged('workload:1/r/c/n/s');
    // Act
    const answers = [
      decide(doc, {
        action: 'sts:AssumeRole',
        resource: 'arn:aws:iam::2:role/tether/tether-t-a',
        context: mine,
      }),
      decide(doc, {
        action: 'sts:AssumeRole',
        resource: 'arn:aws:iam::3:role/tether/tether-t-b',
        context: mine,
      }),
      decide(doc, {
        action: 'sts:AssumeRole',
        resource: 'arn:aws:iam::2:role/tether/tether-t-a',
        context: tagged('workload:1/r/c/n/other'),
      }),
      decide(doc, {
        action: 'sts:AssumeRole',
        resource: 'arn:aws:iam::2:role/tether/tether-t-a',
        context: {},
      }),
      decide(doc, {
        action: 'sts:AssumeRole',
        resource: 'arn:aws:iam::2:role/tether/tether-w-x',
        context: mine,
      }),
      decide(doc, {
        action: 'sts:AssumeRole',
        resource: 'arn:aws:iam::2:role/other/tether-t-a',
        context: mine,
      }),
      decide(doc, {
        action: 'iam:PassRole',
        resource: 'arn:aws:iam::2:role/tether/tether-t-a',
        context: mine,
      }),
    ];
    // Assert
    expect(answers).toEqual([
      'Allow',
      'Allow',
      'ImplicitDeny',
      'ImplicitDeny',
      'ImplicitDeny',
      'ImplicitDeny',
      'ImplicitDeny',
    ]);
  });

  it('parses the URL-encoded documents IAM returns', () => {
    // Arrange
    const doc = encodeURIComponent(
      JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'a:b', Resource: '*' }] }),
    );
    // Act
    const decision = decide(parsePolicy(doc), { action: 'a:b', resource: 'x' });
    // Assert
    expect(decision).toBe('Allow');
  });
});
