/**
 * Identity mode `principal` (the KIAM / Cluster API runbook), end to end: an existing IAM
 * role of the source account, which Tether does not own, is the source. Tether makes only
 * the target side (target role trusting that role, access entry, the CIDRs given), never
 * writes to the source account, returns the exact statement the source role needs and says,
 * read-only, whether the role already allows it; offboarding leaves nothing.
 */
import { DescribeAccessEntryCommand } from '@aws-sdk/client-eks';
import {
  CreateRoleCommand,
  GetRoleCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Link } from '#link/model';
import { targetRoleName } from '#link/names';
import { attachSandbox } from '#local/adapters/sdk-plugin';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { demoRequest, type Harness, startHarness } from './harness';
import { byHand } from './probe';

const SOURCE = '111111111111';
const TARGET = '222222222222';
const REGION = 'ap-southeast-1';
const PRINCIPAL = `arn:aws:iam::${SOURCE}:role/kiam/kiam-server`;

let h: Harness;
let link: any;

const decode = (doc: string | undefined) => JSON.parse(decodeURIComponent(doc ?? '{}'));

/** The principal's session assumes the link's target role and asks the target cluster who it is. */
async function principalOnTarget(spec: Link['spec']) {
  const sb = h.rt.sandbox;
  const pod = sb.sessionCredentials(PRINCIPAL, 'kiam');
  const sts = attachSandbox(new STSClient({ region: REGION, credentials: pod, maxAttempts: 1 }), sb, 'sts');
  const { Credentials } = await sts.send(
    new AssumeRoleCommand({ RoleArn: link.outputs.targetRoleArn, RoleSessionName: 'kubectl' }),
  );
  const out = (await sb.invoke(
    'kubernetes',
    'WhoAmI',
    { clusterName: spec.target.cluster, accountId: spec.target.accountId },
    { accessKeyId: Credentials?.AccessKeyId ?? '', region: REGION },
  )) as { status: { userInfo: { username: string } } };
  return out.status.userInfo;
}

const principalRequest = () =>
  demoRequest({
    source: { ...demoRequest().source, namespace: 'capi-system', serviceAccount: 'capa-controller' },
    identity: { mode: 'principal', principalArn: PRINCIPAL },
    network: { mode: 'none' },
  });

beforeAll(async () => {
  h = await startHarness();
  // The KIAM server role, made by the source account's owner, trusting the control-plane instances.
  const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'kiam-server',
      Path: '/kiam/',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
});
afterAll(async () => {
  await h?.close();
});

describe('POST /plans with identity mode principal', () => {
  it('plans only the target side, reading nothing of the source cluster and changing nothing', async () => {
    // Arrange
    h.rt.sandbox.resetCalls();
    // Act
    const res = await h.api('POST', '/plans', principalRequest());
    // Assert
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const resources = res.body.targets[0].resources;
    expect(resources.sourcePrincipal).toContain(PRINCIPAL);
    expect(resources.workloadRole).toBeUndefined();
    expect(resources.targetRole).toMatch(/^tether-t-/);
    const calls = h.rt.sandbox.calls();
    expect(calls.filter((c) => c.mutating)).toEqual([]);
    expect(calls.filter((c) => c.accountId === SOURCE)).toEqual([]);
  });
});

describe('POST /links with identity mode principal', () => {
  it('ends ACTIVE having written nothing in the source account', async () => {
    // Arrange
    h.rt.sandbox.resetCalls();
    // Act
    const res = await h.api('POST', '/links', principalRequest());
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    link = await h.settle(res.body.links[0].id);
    // Assert
    expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
    expect(link.steps.oidcProvider.result.action).toBe('not-needed');
    expect(link.steps.workloadRole.result).toMatchObject({ action: 'not-managed', principalArn: PRINCIPAL });
    const sourceWrites = h.rt.sandbox
      .calls()
      .filter((c) => c.accountId === SOURCE && c.mutating)
      .map((c) => `${c.service}:${c.operation}`);
    expect(sourceWrites).toEqual([]);
    const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    const roles = (await iam.send(new ListRolesCommand({}))).Roles ?? [];
    expect(roles.filter((r) => /^tether-[wt]-/.test(r.RoleName ?? ''))).toEqual([]);
  });

  it('makes a target role that trusts exactly the principal (aws:PrincipalArn)', async () => {
    const { iam } = byHand(h.rt.sandbox, TARGET, REGION);
    const role = (await iam.send(new GetRoleCommand({ RoleName: targetRoleName(link.spec) }))).Role!;
    const trust = decode(role.AssumeRolePolicyDocument);
    expect(trust.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${SOURCE}:root` },
        Action: 'sts:AssumeRole',
        Condition: { ArnEquals: { 'aws:PrincipalArn': PRINCIPAL } },
      },
    ]);
  });

  it('returns the exact statement the source role needs, and says it does not allow it yet', () => {
    expect(link.outputs.sourcePrincipal).toMatchObject({
      principalArn: PRINCIPAL,
      allows: 'no',
      requiredStatement: {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: link.outputs.targetRoleArn,
      },
    });
    const hop = link.steps.verify.result.hops.find((x: any) => x.hop === 'source-principal→target-role');
    expect(hop).toMatchObject({ ok: false, advisory: true });
  });

  it('serves a kubeconfig that uses the principal’s own credentials (no web identity) and the target role', async () => {
    const res = await h.api('GET', `/links/${link.id}/kubeconfig`);
    const exec = YAML.parse(res.text).users[0].user.exec;
    expect(exec.env).toBeUndefined();
    expect(exec.args).toContain('--role-arn');
    expect(exec.args[exec.args.indexOf('--role-arn') + 1]).toBe(link.outputs.targetRoleArn);
  });

  it('serves manifests without a ServiceAccount, with KIAM’s role annotation', async () => {
    const res = await h.api('GET', `/links/${link.id}/manifests`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/yaml');
    const objects = YAML.parseAllDocuments(res.text).map((d) => d.toJS());
    expect(objects.map((o) => o.kind)).toEqual(['Secret', 'Deployment']);
    expect(objects[1].spec.template.metadata.annotations['iam.amazonaws.com/role']).toBe(PRINCIPAL);
  });

  it('is refused by STS until the source role holds the statement; then a reconcile reports it allowed', async () => {
    // Arrange: the principal may not assume the target role yet.
    const refused = await principalOnTarget(link.spec).catch((err: Error) => err);
    expect((refused as Error).name).toBe('AccessDenied');
    // Act: the source account's owner adds the statement Tether returned, and reconciles.
    const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'kiam-server',
        PolicyName: 'tether-link',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [link.outputs.sourcePrincipal.requiredStatement],
        }),
      }),
    );
    h.rt.sandbox.resetCalls();
    expect((await h.api('POST', `/links/${link.id}/reconcile`)).status).toBe(202);
    const after = await h.settle(link.id);
    // Assert
    expect(after.status).toBe('ACTIVE');
    expect(after.outputs.sourcePrincipal.allows).toBe('yes');
    expect((await principalOnTarget(link.spec)).username).toMatch(/^tether:111111111111:/);
    const sourceWrites = h.rt.sandbox.calls().filter((c) => c.accountId === SOURCE && c.mutating);
    expect(sourceWrites).toEqual([]);
    link = after;
  });

  it('offboards leaving nothing of its own, and the source role as its owner made it', async () => {
    // Act
    expect((await h.api('DELETE', `/links/${link.id}`)).status).toBe(202);
    const deleted = await h.settle(link.id);
    // Assert
    expect(deleted.status).toBe('DELETED');
    expect(deleted.steps.releaseWorkloadRole.result.action).toBe('not-managed');
    const target = byHand(h.rt.sandbox, TARGET, REGION);
    const targetRoles = (await target.iam.send(new ListRolesCommand({}))).Roles ?? [];
    expect(targetRoles.filter((r) => /^tether-[wt]-/.test(r.RoleName ?? ''))).toEqual([]);
    const entry = await target.eks
      .send(
        new DescribeAccessEntryCommand({
          clusterName: 'cluster-b',
          principalArn: link.outputs.targetRoleArn,
        }),
      )
      .catch((err: Error) => err);
    expect((entry as Error).name).toBe('ResourceNotFoundException');
    const source = byHand(h.rt.sandbox, SOURCE, REGION);
    expect((await source.iam.send(new GetRoleCommand({ RoleName: 'kiam-server' }))).Role?.Arn).toBe(
      PRINCIPAL,
    );
    expect(
      (await source.iam.send(new ListRolePoliciesCommand({ RoleName: 'kiam-server' }))).PolicyNames,
    ).toEqual(['tether-link']);
  });
});

describe('bad principal requests change nothing', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    [
      'an ARN in a bad format',
      { mode: 'principal', principalArn: 'arn:aws:iam::111111111111:user/bob' },
      '/identity/principalArn',
    ],
    [
      'an ARN of another partition',
      { mode: 'principal', principalArn: 'arn:aws-cn:iam::111111111111:role/kiam-server' },
      '/identity/principalArn',
    ],
    [
      'a role of another account',
      { mode: 'principal', principalArn: 'arn:aws:iam::333333333333:role/kiam-server' },
      '/identity/principalArn',
    ],
    [
      'a role of Tether’s hub account',
      { mode: 'principal', principalArn: 'arn:aws:iam::000000000000:role/tether-hub' },
      '/identity/principalArn',
    ],
    [
      'one of Tether’s own roles',
      { mode: 'principal', principalArn: `arn:aws:iam::${SOURCE}:role/tether/tether-w-x` },
      '/identity/principalArn',
    ],
    ['no ARN', { mode: 'principal' }, '/identity/principalArn'],
    [
      'direct access for a role Tether does not own',
      { mode: 'principal', principalArn: PRINCIPAL, directAccess: true },
      '/identity/directAccess',
    ],
    ['a principalArn with mode irsa', { mode: 'irsa', principalArn: PRINCIPAL }, '/identity/principalArn'],
  ];
  for (const [what, identity, path] of cases) {
    it(`answers 400 problem+json for ${what}`, async () => {
      // Arrange
      const before = h.rt.sandbox.callCounts({ mutating: true });
      // Act
      const res = await h.api('POST', '/links', { ...principalRequest(), identity });
      // Assert
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
      expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(before);
    });
  }

  it('answers 400 for NAT egress, which a role has no VPC to read from', async () => {
    const before = h.rt.sandbox.callCounts({ mutating: true });
    const res = await h.api('POST', '/links', { ...principalRequest(), network: { mode: 'nat' } });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain('/network/mode');
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(before);
  });
});
