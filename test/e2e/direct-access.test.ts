/**
 * Direct access, end to end: the target cluster's access entry names the source workload
 * role itself (EKS STANDARD entries take principals of other accounts): no target role, no
 * role chain. The entry is bound to the workload role's unique id, so a workload role made
 * again under the same ARN is found by verify and its entry replaced by a reconcile.
 * Offboarding leaves nothing in either account.
 */
import { DescribeAccessEntryCommand, ListAccessEntriesCommand } from '@aws-sdk/client-eks';
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListOpenIDConnectProvidersCommand,
  ListRolesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Link } from '#link/model';
import { kubernetesUsername, targetRoleName, WORKLOAD_POLICY_NAME, workloadRoleName } from '#link/names';
import { ROLE_ID_TAG } from '#resources/access-entry';
import { verifyChain } from '#resources/verify';
import { demoRequest, type Harness, startHarness } from './harness';
import { byHand } from './probe';

const SOURCE = '111111111111';
const TARGET = '222222222222';
const REGION = 'ap-southeast-1';

let h: Harness;
let link: any;

/** The pod's session of the workload role (IRSA's web identity) asks the target cluster who it is: no AssumeRole. */
async function workloadDirectlyOnTarget(spec: Link['spec']) {
  const sb = h.rt.sandbox;
  const pod = sb.sessionCredentials(link.outputs.workloadRoleArn, 'kubectl');
  const out = (await sb.invoke(
    'kubernetes',
    'WhoAmI',
    { clusterName: spec.target.cluster, accountId: spec.target.accountId },
    { accessKeyId: pod.accessKeyId, region: REGION },
  )) as { status: { userInfo: { username: string } } };
  return out.status.userInfo;
}

const roles = async (account: string) =>
  ((await byHand(h.rt.sandbox, account, REGION).iam.send(new ListRolesCommand({}))).Roles ?? [])
    .map((r) => r.RoleName ?? '')
    .filter((n) => /^tether-[wt]-/.test(n));

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('POST /links with direct access', () => {
  it('ends ACTIVE with no target role, and an access entry for the workload role bound to its id', async () => {
    // Act
    const res = await h.api(
      'POST',
      '/links',
      demoRequest({ identity: { mode: 'irsa', directAccess: true } }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    link = await h.settle(res.body.links[0].id);
    // Assert
    expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
    expect(link.steps.targetRole.result.action).toBe('not-needed');
    expect(link.outputs.targetRoleArn).toBeUndefined();
    expect(await roles(TARGET)).toEqual([]);
    const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    const workload = (await iam.send(new GetRoleCommand({ RoleName: workloadRoleName(link.spec.source) })))
      .Role!;
    const { eks } = byHand(h.rt.sandbox, TARGET, REGION);
    const entry = (
      await eks.send(new DescribeAccessEntryCommand({ clusterName: 'cluster-b', principalArn: workload.Arn }))
    ).accessEntry!;
    expect(entry.type).toBe('STANDARD');
    expect(entry.tags?.[ROLE_ID_TAG]).toBe(workload.RoleId);
    expect(link.outputs.access.principalArn).toBe(workload.Arn);
  });

  it('lets the workload role in with no role chain', async () => {
    const user = await workloadDirectlyOnTarget(link.spec);
    expect(user.username).toBe(kubernetesUsername(link.spec).replace('{{SessionName}}', 'kubectl'));
  });

  it('verifies the hops that exist: web identity, scoping, cluster access; no target-role hop', () => {
    const hops = link.steps.verify.result.hops.map((x: { hop: string }) => x.hop);
    expect(hops).toEqual(
      expect.arrayContaining(['web-identity→workload-role', 'trust-is-scoped', 'cluster-access']),
    );
    expect(hops.filter((x: string) => x.includes('target-role'))).toEqual([]);
  });

  it('serves a kubeconfig that uses the workload role’s web identity directly (no --role-arn)', async () => {
    const res = await h.api('GET', `/links/${link.id}/kubeconfig`);
    const config = YAML.parse(res.text);
    const exec = config.users[0].user.exec;
    expect(exec.args).not.toContain('--role-arn');
    expect(exec.env).toEqual([
      { name: 'AWS_ROLE_ARN', value: link.outputs.workloadRoleArn },
      {
        name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
        value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      },
    ]);
    expect(config.users[0].name).toBe(link.outputs.workloadRoleArn);
  });

  it('serves manifests: the ServiceAccount annotated with the workload role, the Secret, the Deployment patch', async () => {
    const res = await h.api('GET', `/links/${link.id}/manifests`);
    expect(res.status).toBe(200);
    const objects = YAML.parseAllDocuments(res.text).map((d) => d.toJS());
    expect(objects.map((o) => o.kind)).toEqual(['ServiceAccount', 'Secret', 'Deployment']);
    expect(objects[0].metadata.annotations['eks.amazonaws.com/role-arn']).toBe(link.outputs.workloadRoleArn);
    expect(objects[1].stringData.config).toBe(link.outputs.kubeconfig);
  });
});

describe('a workload role made again under the same ARN, with direct access', () => {
  it('leaves an entry that lets nobody in: verify fails exactly the cluster-access hop, naming the old id', async () => {
    // Arrange: delete the workload role and make it again as it was (a restore from a backup).
    const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    const RoleName = workloadRoleName(link.spec.source);
    const role = (await iam.send(new GetRoleCommand({ RoleName }))).Role!;
    const policy = (await iam.send(new GetRolePolicyCommand({ RoleName, PolicyName: WORKLOAD_POLICY_NAME })))
      .PolicyDocument!;
    await iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName: WORKLOAD_POLICY_NAME }));
    await iam.send(new DeleteRoleCommand({ RoleName }));
    const again = await iam.send(
      new CreateRoleCommand({
        RoleName,
        Path: role.Path,
        AssumeRolePolicyDocument: decodeURIComponent(role.AssumeRolePolicyDocument!),
        Tags: role.Tags,
        ...(role.PermissionsBoundary?.PermissionsBoundaryArn
          ? { PermissionsBoundary: role.PermissionsBoundary.PermissionsBoundaryArn }
          : {}),
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName,
        PolicyName: WORKLOAD_POLICY_NAME,
        PolicyDocument: decodeURIComponent(policy),
      }),
    );
    expect(again.Role?.RoleId).not.toBe(role.RoleId);
    // Act
    const refused = await workloadDirectlyOnTarget(link.spec).catch((err: Error) => err);
    const hops = await verifyChain(await h.rt.links.get(link.id), h.rt.clients);
    // Assert
    expect((refused as { code?: string }).code).toBe('Unauthorized');
    const failed = hops.filter((x) => !x.ok);
    expect(failed.map((x) => x.hop)).toEqual(['cluster-access']);
    expect(failed[0]?.detail).toContain(role.RoleId);
  });

  it('is healed by a reconcile that replaces the entry for the new role, and only that', async () => {
    // Arrange
    h.rt.sandbox.resetCalls();
    // Act
    expect((await h.api('POST', `/links/${link.id}/reconcile`)).status).toBe(202);
    const after = await h.settle(link.id);
    // Assert
    expect(after.status).toBe('ACTIVE');
    expect(after.steps.accessEntry.result.action).toBe('replaced');
    const mutations = h.rt.sandbox
      .calls()
      .filter((c) => c.mutating && c.ok)
      .map((c) => `${c.service}:${c.operation}`);
    expect(mutations).toEqual([
      'eks:DeleteAccessEntry',
      'eks:CreateAccessEntry',
      'eks:AssociateAccessPolicy',
    ]);
    expect((await workloadDirectlyOnTarget(link.spec)).username).toMatch(/^tether:/);
  });
});

describe('DELETE a direct-access link', () => {
  it('leaves nothing: no access entry, no role, no OIDC provider', async () => {
    // Act
    expect((await h.api('DELETE', `/links/${link.id}`)).status).toBe(202);
    const deleted = await h.settle(link.id);
    // Assert
    expect(deleted.status).toBe('DELETED');
    const { eks } = byHand(h.rt.sandbox, TARGET, REGION);
    const entries =
      (await eks.send(new ListAccessEntriesCommand({ clusterName: 'cluster-b' }))).accessEntries ?? [];
    expect(entries.filter((e) => e.includes(':role/tether/'))).toEqual([]);
    expect(await roles(SOURCE)).toEqual([]);
    expect(await roles(TARGET)).toEqual([]);
    const providers = await byHand(h.rt.sandbox, SOURCE, REGION).iam.send(
      new ListOpenIDConnectProvidersCommand({}),
    );
    expect(providers.OpenIDConnectProviderList ?? []).toEqual([]);
    expect(targetRoleName(link.spec)).toMatch(/^tether-t-/); // the name a chained link would have used: never made
  });
});

describe('bad direct-access requests change nothing', () => {
  it('answers 400 for directAccess with another mode than irsa', async () => {
    const before = h.rt.sandbox.callCounts({ mutating: true });
    const res = await h.api(
      'POST',
      '/links',
      demoRequest({ identity: { mode: 'pod-identity', directAccess: true } }),
    );
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain('/identity/directAccess');
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(before);
  });
});
