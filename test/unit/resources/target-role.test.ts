/**
 * The target role of one link (`#resources/target-role`), against the sandbox: made in the
 * target account before the workload role exists, trusting the source account with
 * `ArnEquals aws:PrincipalArn` = the workload role, allowed to describe its one cluster;
 * removed with its link, and never one Tether did not make.
 */
import { CreateRoleCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictUnmanagedResourceError } from '#link/errors';
import type { LinkSpec } from '#link/model';
import {
  eksClusterArn,
  roleArn,
  TARGET_POLICY_NAME,
  targetRoleName,
  workloadKey,
  workloadRoleName,
} from '#link/names';
import {
  removeTargetRoleStep,
  targetPolicy,
  targetRoleStep,
  targetTrustPolicy,
} from '#resources/target-role';
import {
  linkOf,
  newSpec,
  OTHER_TARGET_ACCOUNT,
  observe,
  parsed,
  roleIn,
  rootClients,
  SOURCE_ACCOUNT,
  startSandboxRuntime,
  TARGET_ACCOUNT,
  tagMap,
  type SandboxRuntime,
} from './support';

let rt: SandboxRuntime;

beforeAll(async () => {
  rt = await startSandboxRuntime();
});
afterAll(async () => {
  await rt?.close();
});

const workloadRoleArnOf = (spec: LinkSpec) => roleArn(spec.source.accountId, workloadRoleName(spec.source));
const targetRoleIn = (spec: LinkSpec) => roleIn(rt.sandbox, spec.target.accountId, targetRoleName(spec));
const root = (accountId = TARGET_ACCOUNT) => rootClients(rt.sandbox, accountId).iam;

describe('targetTrustPolicy', () => {
  it('trusts the source account only for the workload role, by aws:PrincipalArn', () => {
    // Act
    const trust = targetTrustPolicy(SOURCE_ACCOUNT, 'arn:aws:iam::111111111111:role/tether/w');

    // Assert
    expect(trust).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111111111111:root' },
          Action: 'sts:AssumeRole',
          Condition: { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111111111111:role/tether/w' } },
        },
      ],
    });
  });
});

describe('targetPolicy', () => {
  it('allows eks:DescribeCluster on the one cluster', () => {
    // Act
    const policy = targetPolicy('arn:aws:eks:ap-southeast-1:222222222222:cluster/cluster-b');

    // Assert
    expect(policy.Statement).toEqual([
      {
        Sid: 'DescribeTargetCluster',
        Effect: 'Allow',
        Action: 'eks:DescribeCluster',
        Resource: 'arn:aws:eks:ap-southeast-1:222222222222:cluster/cluster-b',
      },
    ]);
  });
});

describe('targetRoleStep', () => {
  it('creates the link’s role in the target account before the workload role exists', async () => {
    // Arrange
    const spec = newSpec();
    const link = linkOf(spec);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => targetRoleStep(link, rt.runtime));

    // Assert
    const role = targetRoleIn(spec)!;
    expect(value).toEqual({
      result: {
        arn: role.Arn,
        roleId: role.RoleId,
        createdAt: new Date(role.CreateDate).toISOString(),
        action: 'created',
        changes: [],
      },
      outputs: { targetRoleArn: role.Arn },
    });
    expect(role.Arn).toBe(roleArn(TARGET_ACCOUNT, targetRoleName(spec)));
    expect(role.Path).toBe('/tether/');
    expect(parsed(role.AssumeRolePolicyDocument)).toEqual(
      targetTrustPolicy(SOURCE_ACCOUNT, workloadRoleArnOf(spec)),
    );
    expect(parsed(role.inlinePolicies[TARGET_POLICY_NAME])).toEqual(targetPolicy(eksClusterArn(spec.target)));
    expect(tagMap(role.Tags)).toEqual({
      'tether:managed': 'true',
      'tether:owner': `link:${workloadKey(spec.source)}@${TARGET_ACCOUNT}/ap-southeast-1/cluster-b`,
      // The workload role's constant policy admits only target roles tagged for its workload.
      'tether:workload': `workload:${workloadKey(spec.source)}`,
    });
    expect(roleIn(rt.sandbox, SOURCE_ACCOUNT, workloadRoleName(spec.source))).toBeUndefined();
    expect(mutations).toEqual(['iam:CreateRole', 'iam:PutRolePolicy']);
  });

  it('makes no mutating call when the role is in place', async () => {
    // Arrange
    const link = linkOf(newSpec());
    const first = await targetRoleStep(link, rt.runtime);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => targetRoleStep(link, rt.runtime));

    // Assert
    expect(value?.result).toEqual({ ...first.result, action: 'unchanged' });
    expect(mutations).toEqual([]);
  });

  it('narrows a trust that was opened to the whole source account back to the workload role', async () => {
    // Arrange
    const spec = newSpec();
    const link = linkOf(spec);
    await targetRoleStep(link, rt.runtime);
    const opened = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${SOURCE_ACCOUNT}:root` },
          Action: 'sts:AssumeRole',
        },
      ],
    };
    await root().send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: targetRoleName(spec),
        PolicyDocument: JSON.stringify(opened),
      }),
    );

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => targetRoleStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'updated', changes: ['trust'] });
    expect(mutations).toEqual(['iam:UpdateAssumeRolePolicy']);
    expect(parsed(targetRoleIn(spec)?.AssumeRolePolicyDocument)).toEqual(
      targetTrustPolicy(SOURCE_ACCOUNT, workloadRoleArnOf(spec)),
    );
  });

  it('narrows a widened cluster policy back to its one cluster', async () => {
    // Arrange
    const spec = newSpec();
    const link = linkOf(spec);
    await targetRoleStep(link, rt.runtime);
    await root().send(
      new PutRolePolicyCommand({
        RoleName: targetRoleName(spec),
        PolicyName: TARGET_POLICY_NAME,
        PolicyDocument: JSON.stringify(targetPolicy('*')),
      }),
    );

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => targetRoleStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'updated', changes: [`policy:${TARGET_POLICY_NAME}`] });
    expect(mutations).toEqual(['iam:PutRolePolicy']);
    expect(parsed(targetRoleIn(spec)?.inlinePolicies[TARGET_POLICY_NAME])).toEqual(
      targetPolicy(eksClusterArn(spec.target)),
    );
  });

  it('refuses a role of the same name that Tether did not make, and changes nothing', async () => {
    // Arrange
    const spec = newSpec();
    await root().send(
      new CreateRoleCommand({
        RoleName: targetRoleName(spec),
        Path: '/tether/',
        AssumeRolePolicyDocument: JSON.stringify(targetTrustPolicy(SOURCE_ACCOUNT, workloadRoleArnOf(spec))),
      }),
    );
    const before = targetRoleIn(spec);

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => targetRoleStep(linkOf(spec), rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(ConflictUnmanagedResourceError);
    expect(mutations).toEqual([]);
    expect(targetRoleIn(spec)).toEqual(before);
  });

  it('makes one role per target of the same workload, each describing only its cluster', async () => {
    // Arrange
    const toB = newSpec();
    const toD = {
      ...toB,
      target: { accountId: OTHER_TARGET_ACCOUNT, region: 'eu-west-1', cluster: 'cluster-d' },
    };

    // Act
    await targetRoleStep(linkOf(toB), rt.runtime);
    await targetRoleStep(linkOf(toD), rt.runtime);

    // Assert
    expect(targetRoleName(toB)).not.toBe(targetRoleName(toD));
    expect(parsed(targetRoleIn(toD)?.inlinePolicies[TARGET_POLICY_NAME])).toEqual(
      targetPolicy('arn:aws:eks:eu-west-1:333333333333:cluster/cluster-d'),
    );
    expect(targetRoleIn(toB)).toBeDefined();
  });
});

describe('removeTargetRoleStep', () => {
  it('deletes the link’s own role and no other link’s', async () => {
    // Arrange: the same workload to two targets, and another workload to the same target.
    const spec = newSpec();
    const sameWorkload = {
      ...spec,
      target: { accountId: OTHER_TARGET_ACCOUNT, region: 'eu-west-1', cluster: 'cluster-d' },
    };
    const sameTarget = newSpec();
    for (const s of [spec, sameWorkload, sameTarget]) await targetRoleStep(linkOf(s), rt.runtime);
    const arn = targetRoleIn(spec)?.Arn;

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      removeTargetRoleStep(linkOf(spec), rt.runtime),
    );

    // Assert
    expect(value).toEqual({ result: { action: 'deleted', arn } });
    expect(mutations).toEqual(['iam:DeleteRolePolicy', 'iam:DeleteRole']);
    expect(targetRoleIn(spec)).toBeUndefined();
    expect(targetRoleIn(sameWorkload)).toBeDefined();
    expect(targetRoleIn(sameTarget)).toBeDefined();
  });

  it('leaves a role of the same name that Tether did not make', async () => {
    // Arrange
    const spec = newSpec();
    await root().send(
      new CreateRoleCommand({
        RoleName: targetRoleName(spec),
        AssumeRolePolicyDocument: JSON.stringify(targetTrustPolicy(SOURCE_ACCOUNT, workloadRoleArnOf(spec))),
      }),
    );
    const before = targetRoleIn(spec);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      removeTargetRoleStep(linkOf(spec), rt.runtime),
    );

    // Assert
    expect(value?.result.action).toBe('left-unmanaged');
    expect(mutations).toEqual([]);
    expect(targetRoleIn(spec)).toEqual(before);
  });

  it('answers absent when the role is already gone (a re-run)', async () => {
    // Arrange
    const link = linkOf(newSpec());
    await targetRoleStep(link, rt.runtime);
    await removeTargetRoleStep(link, rt.runtime);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => removeTargetRoleStep(link, rt.runtime));

    // Assert
    expect(value).toEqual({ result: { action: 'absent' } });
    expect(mutations).toEqual([]);
  });
});
