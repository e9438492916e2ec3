/**
 * Identity mode `pod-identity` (EKS Pod Identity across accounts, EKS user guide
 * pod-id-assign-target-role), end to end through the HTTP API against the sandbox: the
 * workload role trusts `pods.eks.amazonaws.com` scoped by the pods' session tags, a Pod
 * Identity association names it and the target role, the target role trusts the workload
 * role with the same tags; no OIDC provider. The pod's credentials are then fetched as the
 * Pod Identity agent does (EKS Auth `AssumeRoleForPodIdentity` with the pod's projected
 * token): the sandbox assumes both roles, evaluating each trust, and the target cluster
 * knows the session. Offboarding leaves nothing.
 */
import {
  CreatePodIdentityAssociationCommand,
  DescribePodIdentityAssociationCommand,
  ListPodIdentityAssociationsCommand,
  UpdatePodIdentityAssociationCommand,
} from '@aws-sdk/client-eks';
import {
  CreateRoleCommand,
  GetRoleCommand,
  ListOpenIDConnectProvidersCommand,
  ListRolesCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { podIdentityRoleName, targetRoleName } from '#link/names';
import { POD_IDENTITY_AUDIENCE } from '#local/sandbox/eks-auth';
import { demoRequest, type Harness, startHarness } from './harness';
import { neededOwners, presentOwners, tetherResources } from './invariants';
import { byHand } from './probe';

const SOURCE = '111111111111';
const TARGET = '222222222222';
const REGION = 'ap-southeast-1';
const NAMESPACE = 'kubeai-chatbot';
const SA = 'kubeai-chatbot';

let h: Harness;
let link: any;

const decode = (doc: string | undefined) => JSON.parse(decodeURIComponent(doc ?? '{}'));
const podRequest = (overrides: Record<string, unknown> = {}) =>
  demoRequest({ identity: { mode: 'pod-identity' }, ...overrides });

function issuerOf(cluster: string): string {
  return h.rt.sandbox.peek(
    (s) => s.accounts[SOURCE]?.regions[REGION]?.eks.clusters[cluster]?.oidcIssuer ?? '',
  );
}

/** What the Pod Identity agent on a node of cluster-a gets for a pod of `serviceAccount`. */
async function agentCredentials(serviceAccount = SA, namespace = NAMESPACE) {
  const sb = h.rt.sandbox;
  const token = await sb.mintServiceAccountToken({
    issuer: issuerOf('cluster-a'),
    namespace,
    serviceAccount,
    audience: POD_IDENTITY_AUDIENCE,
  });
  const node = sb.rootCredentials(SOURCE);
  return (await sb.invoke(
    'eks',
    'AssumeRoleForPodIdentity',
    { clusterName: 'cluster-a', token },
    { accessKeyId: node.accessKeyId, region: REGION },
  )) as {
    assumedRoleUser: { arn: string };
    credentials: { accessKeyId: string };
    podIdentityAssociation: { associationId: string };
  };
}

async function whoAmIOnTarget(accessKeyId: string) {
  const out = (await h.rt.sandbox.invoke(
    'kubernetes',
    'WhoAmI',
    { clusterName: 'cluster-b', accountId: TARGET },
    { accessKeyId, region: REGION },
  )) as { status: { userInfo: { username: string } } };
  return out.status.userInfo;
}

function associations() {
  return h.rt.sandbox.peek((s) =>
    Object.values(
      s.accounts[SOURCE]?.regions[REGION]?.eks.clusters['cluster-a']?.podIdentityAssociations ?? {},
    ).map((a) => ({ ...a })),
  );
}

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('bad pod-identity requests change nothing', () => {
  it('answers 400 for two targets: one association names one target role', async () => {
    const before = h.rt.sandbox.callCounts({ mutating: true });
    const base = podRequest();
    const res = await h.api('POST', '/links', {
      ...base,
      targets: [
        ...base.targets,
        { ...base.targets[0], accountId: '333333333333', cluster: 'cluster-d', region: 'eu-west-1' },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain('/targets/1');
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(before);
  });

  it('answers 400 for a source role named by the request (another account’s, say): Tether makes it, in the cluster’s account', async () => {
    const before = h.rt.sandbox.callCounts({ mutating: true });
    const res = await h.api(
      'POST',
      '/links',
      podRequest({ identity: { mode: 'pod-identity', principalArn: `arn:aws:iam::${TARGET}:role/pods` } }),
    );
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain('/identity/principalArn');
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(before);
  });

  it('answers 409 when the service account already has an association someone else made', async () => {
    const { eks, iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: 'hand-made-pod-role',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'pods.eks.amazonaws.com' },
              Action: ['sts:AssumeRole', 'sts:TagSession'],
            },
          ],
        }),
      }),
    );
    await eks.send(
      new CreatePodIdentityAssociationCommand({
        clusterName: 'cluster-a',
        namespace: 'taken',
        serviceAccount: 'taken',
        roleArn: role.Role?.Arn,
      }),
    );
    const before = h.rt.sandbox.callCounts({ mutating: true });
    const request = podRequest({
      source: { ...demoRequest().source, namespace: 'taken', serviceAccount: 'taken' },
    });
    const plan = await h.api('POST', '/plans', request);
    expect(plan.status).toBe(409);
    expect(plan.body.code).toBe('CONFLICT_UNMANAGED_RESOURCE');
    expect(plan.body.detail).toMatch(/one association per cluster/);
    const res = await h.api('POST', '/links', request);
    expect(res.status).toBe(409);
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(before);
  });
});

describe('a pod-identity link', () => {
  let providersBefore: number;

  beforeAll(async () => {
    const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    providersBefore =
      (await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList?.length ?? 0;
    const plan = await h.api('POST', '/plans', podRequest());
    expect(plan.status, JSON.stringify(plan.body)).toBe(200);
    expect(plan.body.targets[0].resources.podIdentityAssociation).toBe(
      `${NAMESPACE}/${SA} in cluster-a → ${targetRoleName({ source: demoRequest().source, target: demoRequest().targets[0] })}`,
    );
    // The plan counts the workload role in the source account's roles, and the association is free.
    const roles = plan.body.targets[0].checks.find(
      (c: { check: string; scope: string }) => c.check === 'roles' && c.scope === `account ${SOURCE}`,
    );
    expect(roles.after - roles.used).toBe(1);
    expect(plan.body.checks).toContainEqual(
      expect.objectContaining({ check: 'Pod Identity association', ok: true }),
    );
    const res = await h.api('POST', '/links', podRequest());
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    link = await h.settle(res.body.links[0].id);
  });

  it('is ACTIVE, its chain verified hop by hop', () => {
    expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
    const hops = link.steps.verify.result.hops as { hop: string; ok: boolean }[];
    expect(hops.map((x) => x.hop)).toEqual(
      expect.arrayContaining([
        'pod-identity-association',
        'pods.eks→workload-role (sts:AssumeRole)',
        'pods.eks→workload-role (sts:TagSession)',
        'trust-is-scoped',
        'workload-role→target-role (sts:AssumeRole)',
        'workload-role→target-role (sts:TagSession)',
        'target-role-trusts-workload-role',
        'target-role-allows-session-tags',
        'target-role-trust-pins-session-tags',
        'cluster-access',
      ]),
    );
    expect(hops.filter((x) => !x.ok)).toEqual([]);
  });

  it('makes exactly what the link needs: no orphan, nothing missing', () => {
    const present = [...presentOwners(tetherResources(h.rt.sandbox))].sort();
    expect(present).toEqual([...neededOwners([link])].sort());
    expect(present).toContain(
      `pod-identity-association|link:${SOURCE}/${REGION}/cluster-a/${NAMESPACE}/${SA}@${TARGET}/${REGION}/cluster-b`,
    );
  });

  it('makes no OIDC provider', async () => {
    const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    const after = (await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList ?? [];
    expect(after).toHaveLength(providersBefore);
    expect(link.steps.oidcProvider.result.action).toBe('not-needed');
    expect(link.outputs.oidcProviderArn).toBeUndefined();
  });

  it('makes a workload role trusted by EKS Pod Identity for this service account of this cluster only', async () => {
    const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    const role = (await iam.send(new GetRoleCommand({ RoleName: podIdentityRoleName(demoRequest().source) })))
      .Role;
    expect(link.outputs.workloadRoleArn).toBe(role?.Arn);
    expect(decode(role?.AssumeRolePolicyDocument).Statement).toEqual([
      {
        Sid: 'AllowEksAuthToAssumeRoleForPodIdentity',
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: {
          StringEquals: {
            'aws:RequestTag/eks-cluster-arn': `arn:aws:eks:${REGION}:${SOURCE}:cluster/cluster-a`,
            'aws:RequestTag/kubernetes-namespace': NAMESPACE,
            'aws:RequestTag/kubernetes-service-account': SA,
          },
        },
      },
    ]);
    expect(link.outputs.serviceAccountAnnotation).toBeUndefined();
  });

  it('makes one association naming the workload role and the cross-account target role, tagged as the link’s', () => {
    const mine = associations().filter((a) => a.namespace === NAMESPACE && a.serviceAccount === SA);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      roleArn: link.outputs.workloadRoleArn,
      targetRoleArn: link.outputs.targetRoleArn,
      disableSessionTags: false,
      tags: { 'tether:managed': 'true' },
    });
    expect(link.outputs.podIdentityAssociation).toMatchObject({
      associationId: mine[0]?.associationId,
      targetRoleArn: link.outputs.targetRoleArn,
    });
    expect(link.outputs.podIdentityAssociation.takesEffect).toMatch(/59 minutes/);
  });

  it('makes the target role trust the workload role only with the pods’ session tags', async () => {
    const { iam } = byHand(h.rt.sandbox, TARGET, REGION);
    const role = (
      await iam.send(new GetRoleCommand({ RoleName: link.outputs.targetRoleArn.split('/').pop() }))
    ).Role;
    expect(decode(role?.AssumeRolePolicyDocument).Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${SOURCE}:root` },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: {
          StringEquals: {
            'aws:RequestTag/eks-cluster-arn': `arn:aws:eks:${REGION}:${SOURCE}:cluster/cluster-a`,
            'aws:RequestTag/kubernetes-namespace': NAMESPACE,
            'aws:RequestTag/kubernetes-service-account': SA,
          },
          ArnEquals: { 'aws:PrincipalArn': link.outputs.workloadRoleArn },
        },
      },
    ]);
  });

  it('gives the pod the target role’s credentials through both hops, and the target cluster knows it', async () => {
    const out = await agentCredentials();
    expect(out.podIdentityAssociation.associationId).toBe(link.outputs.podIdentityAssociation.associationId);
    expect(out.assumedRoleUser.arn).toMatch(
      new RegExp(`^arn:aws:sts::${TARGET}:assumed-role/${link.outputs.targetRoleArn.split('/').pop()}/`),
    );
    const who = await whoAmIOnTarget(out.credentials.accessKeyId);
    expect(who.username).toMatch(
      new RegExp(`^tether:${SOURCE}:${REGION}:cluster-a:${NAMESPACE}:${SA}:eks-cluster-a-`),
    );
  });

  it('gives a pod of another service account nothing', async () => {
    await expect(agentCredentials('someone-else')).rejects.toMatchObject({
      code: 'ResourceNotFoundException',
    });
  });

  it('renders a kubeconfig that takes the pod’s default credentials (no --role-arn, no web identity)', async () => {
    const res = await h.api('GET', `/links/${link.id}/kubeconfig`);
    expect(res.status).toBe(200);
    const config = YAML.parse(res.text);
    const exec = config.users[0].user.exec;
    expect(config.users[0].name).toBe(link.outputs.targetRoleArn);
    expect(exec.args).not.toContain('--role-arn');
    expect(exec.env).toBeUndefined();
  });

  it('serves the manifests: the ServiceAccount without the IRSA annotation, the Secret and the Deployment patch', async () => {
    const res = await h.api('GET', `/links/${link.id}/manifests`);
    expect(res.status).toBe(200);
    const [sa, secret, patch] = YAML.parseAllDocuments(res.text).map((d) => d.toJS());
    expect(sa.kind).toBe('ServiceAccount');
    expect(sa.metadata.annotations).toBeUndefined();
    expect(secret.kind).toBe('Secret');
    expect(patch.spec.template.spec.serviceAccountName).toBe(SA);
  });
});

describe('the sandbox refuses the target hop when the session tags do not match', () => {
  it('refuses a pod once the target trust names another namespace, and lets it in again after a reconcile', async () => {
    // Arrange: someone narrows the target role's trust to another namespace.
    const { iam } = byHand(h.rt.sandbox, TARGET, REGION);
    const name = link.outputs.targetRoleArn.split('/').pop();
    const trust = decode(
      (await iam.send(new GetRoleCommand({ RoleName: name }))).Role?.AssumeRolePolicyDocument,
    );
    trust.Statement[0].Condition.StringEquals['aws:RequestTag/kubernetes-namespace'] = 'elsewhere';
    await iam.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(trust) }),
    );
    // Act / Assert: the second hop is refused.
    await expect(agentCredentials()).rejects.toMatchObject({ code: 'AccessDeniedException' });
    // A reconcile writes the trust back; the pod gets in again.
    expect((await h.api('POST', `/links/${link.id}/reconcile`)).status).toBe(202);
    expect((await h.settle(link.id)).status).toBe('ACTIVE');
    expect((await agentCredentials()).assumedRoleUser.arn).toContain(`:${TARGET}:assumed-role/`);
  });
});

describe('reconcile of a pod-identity link', () => {
  it('brings back the association’s target role when someone changed it (a new external id)', async () => {
    const { eks } = byHand(h.rt.sandbox, SOURCE, REGION);
    const id = link.outputs.podIdentityAssociation.associationId;
    const changed = await eks.send(
      new UpdatePodIdentityAssociationCommand({
        clusterName: 'cluster-a',
        associationId: id,
        targetRoleArn: `arn:aws:iam::${TARGET}:role/elsewhere`,
      }),
    );
    expect(changed.association?.externalId).not.toBe(link.outputs.podIdentityAssociation.externalId);
    expect((await h.api('POST', `/links/${link.id}/reconcile`)).status).toBe(202);
    const after = await h.settle(link.id);
    expect(after.status).toBe('ACTIVE');
    expect(after.steps.podIdentityAssociation.result.action).toBe('updated');
    const now = await eks.send(
      new DescribePodIdentityAssociationCommand({ clusterName: 'cluster-a', associationId: id }),
    );
    expect(now.association?.targetRoleArn).toBe(link.outputs.targetRoleArn);
    expect((await agentCredentials()).assumedRoleUser.arn).toContain(`:${TARGET}:assumed-role/`);
  });
});

describe('offboarding a pod-identity link', () => {
  it('leaves nothing: no association, no workload role, no target role, no access entry', async () => {
    expect((await h.api('DELETE', `/links/${link.id}`)).status).toBe(202);
    expect((await h.settle(link.id)).status).toBe('DELETED');
    const { eks, iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    const left = await eks.send(
      new ListPodIdentityAssociationsCommand({
        clusterName: 'cluster-a',
        namespace: NAMESPACE,
        serviceAccount: SA,
      }),
    );
    expect(left.associations).toEqual([]);
    const sourceRoles = (await iam.send(new ListRolesCommand({}))).Roles?.map((r) => r.RoleName) ?? [];
    expect(sourceRoles).not.toContain(podIdentityRoleName(demoRequest().source));
    const target = byHand(h.rt.sandbox, TARGET, REGION);
    const targetRoles = (await target.iam.send(new ListRolesCommand({}))).Roles?.map((r) => r.RoleName) ?? [];
    expect(targetRoles).not.toContain(link.outputs.targetRoleArn.split('/').pop());
    expect(targetRoles.filter((n) => n?.startsWith('tether-t-'))).toEqual([]);
    const entries = h.rt.sandbox.peek((s) =>
      Object.keys(s.accounts[TARGET]?.regions[REGION]?.eks.clusters['cluster-b']?.accessEntries ?? {}),
    );
    expect(entries.filter((arn) => arn.includes('tether-t-'))).toEqual([]);
    await expect(agentCredentials()).rejects.toMatchObject({ code: 'ResourceNotFoundException' });
    expect(tetherResources(h.rt.sandbox)).toEqual([]);
    // The hand-made association of another service account is still there.
    expect(associations().map((a) => a.serviceAccount)).toEqual(['taken']);
  });
});

describe('a pod-identity link whose association cannot be made', () => {
  it('ends FAILED with the quota named, and the compensation leaves nothing', async () => {
    // Arrange: the cluster is at its 5,000 associations when the step runs.
    h.rt.sandbox.injectFault({
      service: 'eks',
      operation: 'CreatePodIdentityAssociation',
      code: 'ResourceLimitExceededException',
    });
    // Act
    const res = await h.api(
      'POST',
      '/links',
      podRequest({ source: { ...demoRequest().source, namespace: 'full', serviceAccount: 'full' } }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const failed = await h.settle(res.body.links[0].id);
    // Assert
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatchObject({ code: 'QUOTA_EXCEEDED', step: 'podIdentityAssociation' });
    expect(failed.steps.removePodIdentityAssociation.result.action).toBe('absent');
    expect(tetherResources(h.rt.sandbox)).toEqual([]);
  });
});
