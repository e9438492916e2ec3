/**
 * The link's access to the target cluster (`#resources/access-entry`), against the sandbox:
 * on API clusters an access entry for the target role with exactly its one access policy
 * association (or its groups), tagged with the link's owner; on CONFIG_MAP clusters one
 * `aws-auth` mapRoles entry, Tether's by its username. Removed with the link; never one
 * Tether did not make.
 */
import {
  type AccessScope,
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DisassociateAccessPolicyCommand,
  UpdateAccessEntryCommand,
} from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ConflictUnmanagedResourceError, NotYetPropagatedError, UnsupportedClusterError } from '#link/errors';
import type { Access, ClusterRef, Link, LinkSpec } from '#link/model';
import { kubernetesUsername, owners, roleArn, targetRoleName } from '#link/names';
import { ownerTagValue } from '#link/tags';
import {
  accessEntryStep,
  entryPrincipalFromTargetRoleStep,
  kubernetesOf,
  ROLE_ID_TAG,
  removeAccessEntryStep,
  withoutPath,
} from '#resources/access-entry';
import { AWS_AUTH_NAME, AWS_AUTH_NAMESPACE } from '#aws/kubernetes';
import { resolvedOf } from '#resources/resolve';
import { targetRoleStep } from '#resources/target-role';
import {
  clusterIn,
  EDIT_POLICY,
  linkOf,
  newCluster,
  newSpec,
  OTHER_TARGET_ACCOUNT,
  observe,
  resolvedLink,
  rootClients,
  startSandboxRuntime,
  TARGET_ACCOUNT,
  VIEW_POLICY,
  type SandboxRuntime,
} from './support';

let rt: SandboxRuntime;

beforeAll(async () => {
  rt = await startSandboxRuntime();
});
afterAll(async () => {
  await rt?.close();
});

const CLUSTER_B: ClusterRef = { accountId: TARGET_ACCOUNT, region: 'ap-southeast-1', cluster: 'cluster-b' };
const CLUSTER_C: ClusterRef = { accountId: OTHER_TARGET_ACCOUNT, region: 'eu-west-1', cluster: 'cluster-c' };
const GROUPS = { groups: ['tether-readers', 'app-viewers'] } satisfies Access;

const targetRoleArn = (spec: LinkSpec) => roleArn(spec.target.accountId, targetRoleName(spec));
const entryOf = (spec: LinkSpec) => clusterIn(rt.sandbox, spec.target).accessEntries[targetRoleArn(spec)];
const eks = (ref: ClusterRef = CLUSTER_B) => rootClients(rt.sandbox, ref.accountId, ref.region).eks;

/** A resolved link of a new workload to `target`, with its target role made (as the workflow does first). */
async function linkTo(target: ClusterRef, access?: Access): Promise<Link> {
  const link = await resolvedLink(rt.runtime, newSpec({ target, ...(access ? { access } : {}) }));
  await targetRoleStep(link, rt.runtime);
  return link;
}

/** The mapRoles of a cluster's aws-auth, parsed. */
function mapRolesOf(ref: ClusterRef): { rolearn: string; username?: string; groups?: string[] }[] {
  const cm = clusterIn(rt.sandbox, ref).configMaps[`${AWS_AUTH_NAMESPACE}/${AWS_AUTH_NAME}`];
  return cm ? (YAML.parse(cm.data.mapRoles ?? '') ?? []) : [];
}

/** Writes aws-auth as someone other than Tether (a node group, an operator). */
async function writeAwsAuth(link: Link, mapRoles: unknown[]) {
  const kube = kubernetesOf(rt.clients, link.spec.target, resolvedOf(link).target);
  const current = await kube.getConfigMap(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME);
  await kube.replaceConfigMap(
    AWS_AUTH_NAMESPACE,
    AWS_AUTH_NAME,
    { ...current?.data, mapRoles: YAML.stringify(mapRoles) },
    current?.resourceVersion ?? '',
  );
}

describe('withoutPath', () => {
  it.each([
    ['arn:aws:iam::222222222222:role/tether/tether-t-x', 'arn:aws:iam::222222222222:role/tether-t-x'],
    ['arn:aws:iam::222222222222:role/a/b/c/name', 'arn:aws:iam::222222222222:role/name'],
    ['arn:aws:iam::222222222222:role/name', 'arn:aws:iam::222222222222:role/name'],
    ['arn:aws-cn:iam::222222222222:role/p/name', 'arn:aws-cn:iam::222222222222:role/name'],
  ])('turns %s into %s', (arn, expected) => {
    // Act
    const bare = withoutPath(arn);

    // Assert
    expect(bare).toBe(expected);
  });
});

describe('accessEntryStep on a cluster in API mode', () => {
  it('creates a STANDARD entry for the target role, with Tether’s username, the link’s tags and exactly its one policy', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    const entry = entryOf(link.spec)!;
    expect(entry).toMatchObject({
      type: 'STANDARD',
      username: kubernetesUsername(link.spec),
      kubernetesGroups: [],
      tags: { 'tether:managed': 'true', 'tether:owner': ownerTagValue(owners.link(link.spec)) },
    });
    expect(entry.associations.map((a) => [a.policyArn, a.accessScope])).toEqual([
      [VIEW_POLICY, { type: 'cluster' }],
    ]);
    expect(value?.result).toMatchObject({
      kind: 'access-entry',
      action: 'created',
      accessEntryArn: entry.accessEntryArn,
      principalArn: targetRoleArn(link.spec),
      policyArn: VIEW_POLICY,
    });
    expect(value?.outputs).toEqual({ access: value?.result });
    expect(mutations).toEqual(['eks:CreateAccessEntry', 'eks:AssociateAccessPolicy']);
  });

  it('scopes the policy to the asked namespaces', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B, {
      policyArn: VIEW_POLICY,
      scope: { type: 'namespace', namespaces: ['payments', 'billing'] },
    });

    // Act
    await accessEntryStep(link, rt.runtime);

    // Assert
    const [association] = entryOf(link.spec)!.associations;
    expect(association?.accessScope.type).toBe('namespace');
    expect([...(association?.accessScope.namespaces ?? [])].sort()).toEqual(['billing', 'payments']);
  });

  it('maps the asked Kubernetes groups and username instead of a policy', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B, { ...GROUPS, username: 'chatbot-reader' });

    // Act
    const { mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(entryOf(link.spec)).toMatchObject({
      username: 'chatbot-reader',
      kubernetesGroups: ['app-viewers', 'tether-readers'],
      associations: [],
    });
    expect(mutations).toEqual(['eks:CreateAccessEntry']);
  });

  it('makes no mutating call when run again', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B, {
      policyArn: VIEW_POLICY,
      scope: { type: 'namespace', namespaces: ['a'] },
    });
    await accessEntryStep(link, rt.runtime);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'unchanged', changes: [] });
    expect(mutations).toEqual([]);
  });

  it('associates its policy again when someone removed it', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B);
    await accessEntryStep(link, rt.runtime);
    const principalArn = targetRoleArn(link.spec);
    await eks().send(
      new DisassociateAccessPolicyCommand({ clusterName: 'cluster-b', principalArn, policyArn: VIEW_POLICY }),
    );

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'updated', changes: [`associated:${VIEW_POLICY}`] });
    expect(mutations).toEqual(['eks:AssociateAccessPolicy']);
    expect(entryOf(link.spec)?.associations.map((a) => a.policyArn)).toEqual([VIEW_POLICY]);
  });

  it('takes off a policy someone added to its entry, and restores a changed scope', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B);
    await accessEntryStep(link, rt.runtime);
    const principalArn = targetRoleArn(link.spec);
    const drift: [string, AccessScope][] = [
      [EDIT_POLICY, { type: 'cluster' }],
      [VIEW_POLICY, { type: 'namespace', namespaces: ['default'] }],
    ];
    for (const [policyArn, accessScope] of drift) {
      await eks().send(
        new AssociateAccessPolicyCommand({ clusterName: 'cluster-b', principalArn, policyArn, accessScope }),
      );
    }

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({
      action: 'updated',
      changes: [`disassociated:${EDIT_POLICY}`, `associated:${VIEW_POLICY}`],
    });
    expect(mutations).toEqual(['eks:DisassociateAccessPolicy', 'eks:AssociateAccessPolicy']);
    expect(entryOf(link.spec)?.associations.map((a) => [a.policyArn, a.accessScope])).toEqual([
      [VIEW_POLICY, { type: 'cluster' }],
    ]);
  });

  it('puts back the username and groups someone changed on its entry', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B, GROUPS);
    await accessEntryStep(link, rt.runtime);
    await eks().send(
      new UpdateAccessEntryCommand({
        clusterName: 'cluster-b',
        principalArn: targetRoleArn(link.spec),
        kubernetesGroups: ['cluster-editors'],
        username: 'someone',
      }),
    );

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'updated', changes: ['kubernetesGroups'] });
    expect(mutations).toEqual(['eks:UpdateAccessEntry']);
    expect(entryOf(link.spec)).toMatchObject({
      username: kubernetesUsername(link.spec),
      kubernetesGroups: ['app-viewers', 'tether-readers'],
    });
  });

  it('refuses an entry for the target role that Tether did not make, and changes nothing', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B);
    await eks().send(
      new CreateAccessEntryCommand({
        clusterName: 'cluster-b',
        principalArn: targetRoleArn(link.spec),
        type: 'STANDARD',
      }),
    );
    const before = entryOf(link.spec);

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(ConflictUnmanagedResourceError);
    expect((error as ConflictUnmanagedResourceError).resource).toBe(before?.accessEntryArn);
    expect(mutations).toEqual([]);
    expect(entryOf(link.spec)).toEqual(before);
  });

  it('answers NotYetPropagatedError while EKS does not see the new target role yet', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B);
    rt.sandbox.injectFault({
      service: 'eks',
      operation: 'CreateAccessEntry',
      code: 'InvalidParameterException',
      message: 'The specified principalArn is invalid: invalid principal',
    });

    // Act
    const { error } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(NotYetPropagatedError);
    expect(entryOf(link.spec)).toBeUndefined();
  });

  it('binds the entry to the role id "Ensure target role" recorded in this run, with no GetRole of its own', async () => {
    // Arrange: the link as the workflow hands it over, the target role's step result on it
    const spec = newSpec({ target: CLUSTER_B });
    const resolved = await resolvedLink(rt.runtime, spec);
    const made = await targetRoleStep(resolved, rt.runtime);
    const link: Link = {
      ...resolved,
      steps: {
        ...resolved.steps,
        targetRole: {
          status: 'SUCCEEDED',
          startedAt: new Date().toISOString(),
          attempts: 1,
          result: made.result,
        },
      },
    };
    rt.sandbox.resetCalls();

    // Act
    await accessEntryStep(link, rt.runtime);

    // Assert
    const reads = rt.sandbox.calls().map((c) => `${c.service}:${c.operation}`);
    expect(reads).not.toContain('iam:GetRole');
    const roleId = (made.result as { roleId?: string }).roleId;
    expect(roleId).toMatch(/^AROA/);
    expect(entryOf(spec)?.tags?.[ROLE_ID_TAG]).toBe(roleId);
  });

  it('reads the role itself when the recorded result is not for its role, or there is none', () => {
    // Arrange
    const spec = newSpec({ target: CLUSTER_B });
    const base = linkOf(spec);
    const step = (result: Record<string, unknown>) => ({
      ...base,
      steps: { targetRole: { status: 'SUCCEEDED' as const, startedAt: '', attempts: 1, result } },
    });

    // Act + Assert
    expect(entryPrincipalFromTargetRoleStep(base)).toBeUndefined();
    expect(
      entryPrincipalFromTargetRoleStep(
        step({ arn: 'arn:aws:iam::222222222222:role/other', roleId: 'AROAX' }),
      ),
    ).toBeUndefined();
    expect(
      entryPrincipalFromTargetRoleStep(
        step({ arn: targetRoleArn(spec), roleId: 'AROAX', createdAt: '2026-01-02T00:00:00.000Z' }),
      ),
    ).toEqual({ arn: targetRoleArn(spec), roleId: 'AROAX', createdAt: new Date('2026-01-02T00:00:00.000Z') });
  });
});

describe('removeAccessEntryStep on a cluster in API mode', () => {
  it('deletes the link’s own entry with its policy, and no other link’s', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B);
    const other = await linkTo(CLUSTER_B);
    await accessEntryStep(link, rt.runtime);
    await accessEntryStep(other, rt.runtime);
    const arn = entryOf(link.spec)?.accessEntryArn;

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => removeAccessEntryStep(link, rt.runtime));

    // Assert
    expect(value).toEqual({ result: { kind: 'access-entry', action: 'deleted', accessEntryArn: arn } });
    expect(mutations).toEqual(['eks:DeleteAccessEntry']);
    expect(entryOf(link.spec)).toBeUndefined();
    expect(entryOf(other.spec)?.associations).toHaveLength(1);
  });

  it('leaves an entry Tether did not make', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B);
    await eks().send(
      new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: targetRoleArn(link.spec) }),
    );
    const before = entryOf(link.spec);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => removeAccessEntryStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'left-unmanaged' });
    expect(mutations).toEqual([]);
    expect(entryOf(link.spec)).toEqual(before);
  });

  it('answers absent when the entry is already gone, and removes nothing for a link never resolved', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_B);

    // Act
    const absent = await observe(rt.sandbox, () => removeAccessEntryStep(link, rt.runtime));
    const unresolved = await observe(rt.sandbox, () => removeAccessEntryStep(linkOf(newSpec()), rt.runtime));

    // Assert
    expect(absent.value).toEqual({ result: { kind: 'access-entry', action: 'absent' } });
    expect(unresolved.value).toEqual({ result: { action: 'nothing-to-remove' } });
    expect([...absent.mutations, ...unresolved.mutations]).toEqual([]);
  });
});

describe('accessEntryStep on a cluster in CONFIG_MAP mode (aws-auth)', () => {
  it('adds one mapRoles entry: the role ARN without its path, Tether’s username, the groups; others stay', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_C, GROUPS);
    const before = mapRolesOf(CLUSTER_C);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    const rolearn = `arn:aws:iam::${OTHER_TARGET_ACCOUNT}:role/${targetRoleName(link.spec)}`;
    const want = {
      rolearn,
      username: kubernetesUsername(link.spec),
      groups: ['app-viewers', 'tether-readers'],
    };
    expect(mapRolesOf(CLUSTER_C)).toEqual([...before, want]);
    expect(value?.result).toEqual({ kind: 'aws-auth', action: 'created', ...want });
    expect(mutations).toEqual(['kubernetes:ReplaceConfigMap']);
  });

  it('creates aws-auth on a cluster that has none', async () => {
    // Arrange
    const { ref } = newCluster(rt.sandbox, {
      accountId: OTHER_TARGET_ACCOUNT,
      authenticationMode: 'CONFIG_MAP',
    });
    const link = await linkTo(ref, GROUPS);

    // Act
    const { mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(mapRolesOf(ref).map((r) => r.username)).toEqual([kubernetesUsername(link.spec)]);
    expect(mutations).toEqual(['kubernetes:CreateConfigMap']);
  });

  it('makes no mutating call when run again', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_C, GROUPS);
    await accessEntryStep(link, rt.runtime);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'unchanged' });
    expect(mutations).toEqual([]);
  });

  it('puts back the groups someone changed on its entry', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_C, GROUPS);
    await accessEntryStep(link, rt.runtime);
    const rolearn = withoutPath(targetRoleArn(link.spec));
    await writeAwsAuth(
      link,
      mapRolesOf(CLUSTER_C).map((r) => (r.rolearn === rolearn ? { ...r, groups: ['cluster-admins'] } : r)),
    );

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ action: 'updated' });
    expect(mutations).toEqual(['kubernetes:ReplaceConfigMap']);
    expect(mapRolesOf(CLUSTER_C).find((r) => r.rolearn === rolearn)?.groups).toEqual([
      'app-viewers',
      'tether-readers',
    ]);
  });

  it('refuses a mapping of the role that Tether did not write, and changes nothing', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_C, GROUPS);
    const rolearn = withoutPath(targetRoleArn(link.spec));
    await writeAwsAuth(link, [...mapRolesOf(CLUSTER_C), { rolearn, username: 'ops-admin', groups: ['ops'] }]);
    const before = mapRolesOf(CLUSTER_C);

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(ConflictUnmanagedResourceError);
    expect(mutations).toEqual([]);
    expect(mapRolesOf(CLUSTER_C)).toEqual(before);
  });

  it('refuses an access policy, which aws-auth cannot carry, and writes nothing', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_C, { policyArn: VIEW_POLICY, scope: { type: 'cluster' } });

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => accessEntryStep(link, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(UnsupportedClusterError);
    expect(mutations).toEqual([]);
  });
});

describe('removeAccessEntryStep on a cluster in CONFIG_MAP mode (aws-auth)', () => {
  it('removes only the link’s own mapRoles entry', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_C, GROUPS);
    const other = await linkTo(CLUSTER_C, GROUPS);
    await accessEntryStep(link, rt.runtime);
    await accessEntryStep(other, rt.runtime);
    const before = mapRolesOf(CLUSTER_C);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => removeAccessEntryStep(link, rt.runtime));

    // Assert
    const rolearn = withoutPath(targetRoleArn(link.spec));
    expect(value).toEqual({ result: { kind: 'aws-auth', action: 'deleted', rolearn } });
    expect(mutations).toEqual(['kubernetes:ReplaceConfigMap']);
    expect(mapRolesOf(CLUSTER_C)).toEqual(before.filter((r) => r.rolearn !== rolearn));
  });

  it('leaves a mapping of the role that Tether did not write', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_C, GROUPS);
    const rolearn = withoutPath(targetRoleArn(link.spec));
    await writeAwsAuth(link, [...mapRolesOf(CLUSTER_C), { rolearn, username: 'ops-admin', groups: ['ops'] }]);
    const before = mapRolesOf(CLUSTER_C);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => removeAccessEntryStep(link, rt.runtime));

    // Assert
    expect(value).toEqual({ result: { kind: 'aws-auth', action: 'left-unmanaged', rolearn } });
    expect(mutations).toEqual([]);
    expect(mapRolesOf(CLUSTER_C)).toEqual(before);
  });

  it('answers absent when the entry is already gone', async () => {
    // Arrange
    const link = await linkTo(CLUSTER_C, GROUPS);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => removeAccessEntryStep(link, rt.runtime));

    // Assert
    expect(value?.result).toMatchObject({ kind: 'aws-auth', action: 'absent' });
    expect(mutations).toEqual([]);
  });
});
