/**
 * Ensure and delete a role (`#resources/iam-role`), shared by the workload and target roles,
 * against the sandbox: read, compare, change only the difference; never touch a role
 * Tether did not make, or one of another owner.
 */
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRolePolicyCommand,
  PutRolePolicyCommand,
  type Role,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictUnmanagedResourceError, NotYetPropagatedError, QuotaExceededError } from '#link/errors';
import type { PolicyDocument } from '#link/policy/evaluate';
import { ownershipTags } from '#link/tags';
import {
  assertOwnedRole,
  deleteOwnedRole,
  ensureRole,
  findRole,
  type RoleSpec,
  samePolicy,
} from '#resources/iam-role';
import {
  observe,
  parsed,
  roleIn,
  rootClients,
  SOURCE_ACCOUNT,
  startSandboxRuntime,
  TARGET_ACCOUNT,
  tagMap,
  unique,
  type SandboxRuntime,
} from './support';

let rt: SandboxRuntime;

beforeAll(async () => {
  rt = await startSandboxRuntime();
});
afterAll(async () => {
  await rt?.close();
});

const iam = () => rt.clients.iam(TARGET_ACCOUNT);
const root = () => rootClients(rt.sandbox, TARGET_ACCOUNT).iam;

const trustOf = (principal: string): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' }],
});
const allow = (action: string, resource: string): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: action, Resource: resource }],
});

/** A role as GetRole answers it, with these tags. */
const roleWith = (tags: Role['Tags']): Role => ({
  Path: '/tether/',
  RoleName: 'r',
  RoleId: 'AROAUNIT',
  Arn: 'arn:aws:iam::222222222222:role/tether/r',
  CreateDate: new Date(0),
  Tags: tags,
});

/** The spec of a role no other test uses, with two inline policies. */
function roleSpec(overrides: Partial<RoleSpec> = {}): RoleSpec {
  const name = unique('tether-unit-role');
  return {
    name,
    path: '/tether/',
    description: `unit test role ${name}`,
    trust: trustOf(`arn:aws:iam::${SOURCE_ACCOUNT}:root`),
    inlinePolicies: {
      'policy-a': allow('eks:DescribeCluster', '*'),
      'policy-b': allow('sts:AssumeRole', `arn:aws:iam::${SOURCE_ACCOUNT}:role/x`),
    },
    owner: `link:unit/${name}`,
    ...overrides,
  };
}

/** Makes a role as someone other than Tether would: no Tether tags unless given. */
async function lookAlike(spec: RoleSpec, tags: { Key: string; Value: string }[] = []) {
  await root().send(
    new CreateRoleCommand({
      RoleName: spec.name,
      Path: spec.path,
      AssumeRolePolicyDocument: JSON.stringify(trustOf(`arn:aws:iam::${TARGET_ACCOUNT}:root`)),
      Tags: tags,
    }),
  );
}

describe('samePolicy', () => {
  it('treats a one-element list and its element alike, whatever the key order', () => {
    // Arrange
    const written = allow('eks:DescribeCluster', 'arn:x');
    const read = JSON.stringify({
      Statement: [{ Resource: ['arn:x'], Action: ['eks:DescribeCluster'], Effect: 'Allow' }],
      Version: '2012-10-17',
    });

    // Act
    const same = samePolicy(read, written);

    // Assert
    expect(same).toBe(true);
  });

  it('reads the URL-encoded text IAM returns', () => {
    // Arrange
    const written = trustOf('arn:aws:iam::111111111111:root');

    // Act
    const same = samePolicy(encodeURIComponent(JSON.stringify(written)), written);

    // Assert
    expect(same).toBe(true);
  });

  it('tells a missing document, another resource and another list apart', () => {
    // Arrange
    const written = allow('sts:AssumeRole', 'arn:a');

    // Act
    const outcomes = [
      samePolicy(undefined, written),
      samePolicy(allow('sts:AssumeRole', 'arn:b'), written),
      samePolicy(
        {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: ['arn:a', 'arn:b'] }],
        },
        written,
      ),
    ];

    // Assert
    expect(outcomes).toEqual([false, false, false]);
  });
});

describe('assertOwnedRole', () => {
  it('accepts a role carrying the owner’s tags', () => {
    // Arrange
    const role = roleWith(ownershipTags('link:a'));

    // Act
    const check = () => assertOwnedRole(role, 'link:a');

    // Assert
    expect(check).not.toThrow();
  });

  it('refuses a role without the managed tag, and a Tether role of another owner', () => {
    // Arrange
    const unmanaged = roleWith([{ Key: 'tether:owner', Value: 'link:a' }]);
    const others = roleWith(ownershipTags('link:b'));

    // Act
    const checks = [() => assertOwnedRole(unmanaged, 'link:a'), () => assertOwnedRole(others, 'link:a')];

    // Assert
    expect(checks[0]).toThrow(/was not made by Tether/);
    expect(checks[1]).toThrow(/belongs to link:b, not link:a/);
    for (const check of checks) expect(check).toThrow(ConflictUnmanagedResourceError);
  });
});

describe('ensureRole', () => {
  it('creates the role with its path, description, trust, inline policies and ownership tags', async () => {
    // Arrange
    const spec = roleSpec();

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => ensureRole(iam(), spec));

    // Assert
    const role = roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name)!;
    expect(value).toEqual({
      arn: role.Arn,
      roleId: role.RoleId,
      createdAt: new Date(role.CreateDate).toISOString(),
      action: 'created',
      changes: [],
    });
    expect(role.Arn).toBe(`arn:aws:iam::${TARGET_ACCOUNT}:role/tether/${spec.name}`);
    expect(role.Path).toBe('/tether/');
    expect(role.Description).toBe(spec.description);
    expect(parsed(role.AssumeRolePolicyDocument)).toEqual(spec.trust);
    expect(Object.keys(role.inlinePolicies).sort()).toEqual(['policy-a', 'policy-b']);
    expect(parsed(role.inlinePolicies['policy-a'])).toEqual(spec.inlinePolicies['policy-a']);
    expect(tagMap(role.Tags)).toEqual({ 'tether:managed': 'true', 'tether:owner': spec.owner });
    expect(mutations).toEqual(['iam:CreateRole', 'iam:PutRolePolicy', 'iam:PutRolePolicy']);
  });

  it('makes no mutating call when the role is as specified', async () => {
    // Arrange
    const spec = roleSpec();
    const created = await ensureRole(iam(), spec);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => ensureRole(iam(), spec));

    // Assert
    expect(value).toEqual({ ...created, action: 'unchanged', changes: [] });
    expect(mutations).toEqual([]);
  });

  it('rewrites a drifted trust with one call, and nothing else', async () => {
    // Arrange
    const spec = roleSpec();
    await ensureRole(iam(), spec);
    await root().send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: spec.name,
        PolicyDocument: JSON.stringify(trustOf(`arn:aws:iam::${TARGET_ACCOUNT}:root`)),
      }),
    );

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => ensureRole(iam(), spec));

    // Assert
    expect(value).toMatchObject({ action: 'updated', changes: ['trust'] });
    expect(mutations).toEqual(['iam:UpdateAssumeRolePolicy']);
    expect(parsed(roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name)?.AssumeRolePolicyDocument)).toEqual(
      spec.trust,
    );
  });

  it('rewrites only the drifted inline policy, and puts back a deleted one', async () => {
    // Arrange
    const spec = roleSpec();
    await ensureRole(iam(), spec);
    await root().send(
      new PutRolePolicyCommand({
        RoleName: spec.name,
        PolicyName: 'policy-a',
        PolicyDocument: JSON.stringify(allow('eks:*', '*')),
      }),
    );
    await root().send(new DeleteRolePolicyCommand({ RoleName: spec.name, PolicyName: 'policy-b' }));

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => ensureRole(iam(), spec));

    // Assert
    expect(value).toMatchObject({ action: 'updated', changes: ['policy:policy-a', 'policy:policy-b'] });
    expect(mutations).toEqual(['iam:PutRolePolicy', 'iam:PutRolePolicy']);
    const role = roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name)!;
    expect(parsed(role.inlinePolicies['policy-a'])).toEqual(spec.inlinePolicies['policy-a']);
    expect(parsed(role.inlinePolicies['policy-b'])).toEqual(spec.inlinePolicies['policy-b']);
  });

  it('refuses a role of the same name that Tether did not make, and changes nothing', async () => {
    // Arrange
    const spec = roleSpec();
    await lookAlike(spec);
    const before = roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name);

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => ensureRole(iam(), spec));

    // Assert
    expect(error).toBeInstanceOf(ConflictUnmanagedResourceError);
    expect((error as ConflictUnmanagedResourceError).resource).toBe(before?.Arn);
    expect(mutations).toEqual([]);
    expect(roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name)).toEqual(before);
  });

  it('refuses a Tether role that belongs to another owner, and changes nothing', async () => {
    // Arrange
    const spec = roleSpec();
    await lookAlike(spec, ownershipTags('link:someone-else'));
    const before = roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name);

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => ensureRole(iam(), spec));

    // Assert
    expect(error).toBeInstanceOf(ConflictUnmanagedResourceError);
    expect((error as Error).message).toMatch(/belongs to link:someone-else/);
    expect(mutations).toEqual([]);
    expect(roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name)).toEqual(before);
  });

  it('checks a role that a concurrent run made first as an existing one, and completes it', async () => {
    // Arrange: CreateRole is applied, then answers EntityAlreadyExists (the other run won).
    const spec = roleSpec();
    rt.sandbox.injectFault({
      service: 'iam',
      operation: 'CreateRole',
      code: 'EntityAlreadyExists',
      when: 'after',
    });

    // Act
    const { value } = await observe(rt.sandbox, () => ensureRole(iam(), spec));

    // Assert
    expect(value).toMatchObject({ action: 'updated', changes: ['policy:policy-a', 'policy:policy-b'] });
    expect(Object.keys(roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name)?.inlinePolicies ?? {})).toHaveLength(2);
  });

  it('answers NotYetPropagatedError when IAM does not see a principal of the trust yet', async () => {
    // Arrange
    const spec = roleSpec();
    rt.sandbox.injectFault({
      service: 'iam',
      operation: 'CreateRole',
      code: 'MalformedPolicyDocument',
      message: 'Invalid principal in policy: "AWS":"arn:aws:iam::111111111111:role/tether/new"',
    });

    // Act
    const { error } = await observe(rt.sandbox, () => ensureRole(iam(), spec));

    // Assert
    expect(error).toBeInstanceOf(NotYetPropagatedError);
    expect(roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name)).toBeUndefined();
  });

  it('answers QuotaExceededError when IAM refuses a policy for a quota', async () => {
    // Arrange
    const spec = roleSpec();
    rt.sandbox.injectFault({ service: 'iam', operation: 'PutRolePolicy', code: 'LimitExceeded' });

    // Act
    const { error } = await observe(rt.sandbox, () => ensureRole(iam(), spec));

    // Assert
    expect(error).toBeInstanceOf(QuotaExceededError);
  });
});

describe('findRole', () => {
  it('answers undefined for a role that does not exist', async () => {
    // Act
    const role = await findRole(iam(), unique('no-such-role'));

    // Assert
    expect(role).toBeUndefined();
  });
});

describe('deleteOwnedRole', () => {
  it('deletes its own role with its inline and attached policies', async () => {
    // Arrange
    const spec = roleSpec();
    const { arn } = await ensureRole(iam(), spec);
    await root().send(
      new AttachRolePolicyCommand({
        RoleName: spec.name,
        PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
      }),
    );

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      deleteOwnedRole(iam(), spec.name, spec.owner),
    );

    // Assert
    expect(value).toEqual({ action: 'deleted', arn });
    expect(roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name)).toBeUndefined();
    expect(mutations).toEqual([
      'iam:DeleteRolePolicy',
      'iam:DeleteRolePolicy',
      'iam:DetachRolePolicy',
      'iam:DeleteRole',
    ]);
  });

  it('leaves a role it did not make exactly as it is', async () => {
    // Arrange
    const spec = roleSpec();
    await lookAlike(spec);
    const before = roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      deleteOwnedRole(iam(), spec.name, spec.owner),
    );

    // Assert
    expect(value).toEqual({ action: 'left-unmanaged', arn: before?.Arn });
    expect(mutations).toEqual([]);
    expect(roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name)).toEqual(before);
  });

  it('leaves a Tether role of another owner', async () => {
    // Arrange
    const spec = roleSpec();
    await ensureRole(iam(), { ...spec, owner: 'link:another-link' });

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      deleteOwnedRole(iam(), spec.name, spec.owner),
    );

    // Assert
    expect(value?.action).toBe('left-unmanaged');
    expect(mutations).toEqual([]);
    expect(roleIn(rt.sandbox, TARGET_ACCOUNT, spec.name)).toBeDefined();
  });

  it('answers absent for a role that is not there, with no mutating call', async () => {
    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      deleteOwnedRole(iam(), unique('gone'), 'link:unit/gone'),
    );

    // Assert
    expect(value).toEqual({ action: 'absent' });
    expect(mutations).toEqual([]);
  });
});
