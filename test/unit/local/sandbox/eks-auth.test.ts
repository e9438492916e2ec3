/**
 * The sandbox's Pod Identity credential path (local/sandbox/eks-auth.ts): the agent's
 * `AssumeRoleForPodIdentity` with a pod's projected token, the first hop as
 * `pods.eks.amazonaws.com` with the pod's session tags, the second into the target role with
 * the tags transitive, or with session tags disabled the association's external id — each
 * trust evaluated, so a tag or external id that does not match is refused, as the EKS user
 * guide (pod-id-assign-target-role) says the two trusts work.
 */
import { CreatePodIdentityAssociationCommand } from '@aws-sdk/client-eks';
import { CreateRoleCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { POD_IDENTITY_AUDIENCE } from '#local/sandbox/eks-auth';
import { Sandbox } from '#local/sandbox/index';
import { agentClients, rejectionOf, trustPolicy } from './helpers';

const SOURCE = '111111111111';
const TARGET = '222222222222';
const REGION = 'ap-southeast-1';
const CLUSTER_ARN = `arn:aws:eks:${REGION}:${SOURCE}:cluster/cluster-a`;
const SOURCE_ROLE = `arn:aws:iam::${SOURCE}:role/pod-source`;
const TARGET_ROLE = `arn:aws:iam::${TARGET}:role/pod-target`;

const tagConditions = (namespace = 'apps', serviceAccount = 'web') => ({
  'aws:RequestTag/eks-cluster-arn': CLUSTER_ARN,
  'aws:RequestTag/kubernetes-namespace': namespace,
  'aws:RequestTag/kubernetes-service-account': serviceAccount,
});

/**
 * The two roles of pod-id-assign-target-role; the target trust is `targetTrust`, the source
 * trust is scoped by `sourceConditions` (none: any pod of an association naming it).
 */
async function setup(
  targetTrust: Record<string, unknown>[],
  association: Record<string, unknown> = {},
  sourceConditions: Record<string, string> | null = tagConditions(),
  propagationDelayCalls = 0,
) {
  const sb = Sandbox.open({ propagationDelayCalls });
  const source = await agentClients(sb, SOURCE);
  const target = await agentClients(sb, TARGET);
  await source.iam.send(
    new CreateRoleCommand({
      RoleName: 'pod-source',
      AssumeRolePolicyDocument: trustPolicy({
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        ...(sourceConditions ? { Condition: { StringEquals: sourceConditions } } : {}),
      }),
    }),
  );
  await source.iam.send(
    new PutRolePolicyCommand({
      RoleName: 'pod-source',
      PolicyName: 'assume-target',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: TARGET_ROLE }],
      }),
    }),
  );
  await target.iam.send(
    new CreateRoleCommand({ RoleName: 'pod-target', AssumeRolePolicyDocument: trustPolicy(targetTrust) }),
  );
  const created = await source.eks.send(
    new CreatePodIdentityAssociationCommand({
      clusterName: 'cluster-a',
      namespace: 'apps',
      serviceAccount: 'web',
      roleArn: SOURCE_ROLE,
      targetRoleArn: TARGET_ROLE,
      ...association,
    }),
  );
  const issuer = sb.peek(
    (s) => s.accounts[SOURCE]?.regions[REGION]?.eks.clusters['cluster-a']?.oidcIssuer ?? '',
  );
  const node = sb.rootCredentials(SOURCE);
  const podCredentials = async (audience = POD_IDENTITY_AUDIENCE, serviceAccount = 'web') =>
    (await sb.invoke(
      'eks',
      'AssumeRoleForPodIdentity',
      {
        clusterName: 'cluster-a',
        token: await sb.mintServiceAccountToken({ issuer, namespace: 'apps', serviceAccount, audience }),
      },
      { accessKeyId: node.accessKeyId, region: REGION },
    )) as { assumedRoleUser: { arn: string }; credentials: { accessKeyId: string } };
  return { sb, association: created.association, podCredentials };
}

const withTags = (conditions = tagConditions()) => [
  {
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${SOURCE}:root` },
    Action: ['sts:AssumeRole', 'sts:TagSession'],
    Condition: { StringEquals: conditions, ArnEquals: { 'aws:PrincipalArn': SOURCE_ROLE } },
  },
];

describe('AssumeRoleForPodIdentity', () => {
  it('gives the pod the target role’s session, carrying the pod’s session tags', async () => {
    const { sb, podCredentials } = await setup(withTags());
    const out = await podCredentials();
    expect(out.assumedRoleUser.arn).toMatch(
      new RegExp(`^arn:aws:sts::${TARGET}:assumed-role/pod-target/eks-cluster-a-`),
    );
    const session = sb.peek((s) => s.credentials[out.credentials.accessKeyId]);
    expect(session?.roleArn).toBe(TARGET_ROLE);
    expect(session?.sessionTags).toMatchObject({
      'eks-cluster-arn': CLUSTER_ARN,
      'eks-cluster-name': 'cluster-a',
      'kubernetes-namespace': 'apps',
      'kubernetes-service-account': 'web',
    });
    expect(Object.keys(session?.sessionTags ?? {}).sort()).toEqual([
      'eks-cluster-arn',
      'eks-cluster-name',
      'kubernetes-namespace',
      'kubernetes-pod-name',
      'kubernetes-pod-uid',
      'kubernetes-service-account',
    ]);
  });

  it('refuses the target hop when the target trust pins other session tags', async () => {
    const { podCredentials } = await setup(withTags(tagConditions('other-namespace')));
    const err = await rejectionOf(podCredentials());
    expect(err.code).toBe('AccessDeniedException');
    expect(err.message).toContain(TARGET_ROLE);
  });

  it('refuses the target hop when the target trust does not allow sts:TagSession', async () => {
    const [statement] = withTags();
    const { podCredentials } = await setup([{ ...statement, Action: 'sts:AssumeRole' }]);
    expect((await rejectionOf(podCredentials())).code).toBe('AccessDeniedException');
  });

  it('refuses the first hop when the source trust pins another service account', async () => {
    const { podCredentials } = await setup(withTags(), {}, tagConditions('apps', 'api'));
    const err = await rejectionOf(podCredentials());
    expect(err.code).toBe('AccessDeniedException');
    expect(err.message).toContain(SOURCE_ROLE);
  });

  it('finds no association for a pod of another service account', async () => {
    const { podCredentials } = await setup(withTags());
    expect((await rejectionOf(podCredentials(POD_IDENTITY_AUDIENCE, 'api'))).code).toBe(
      'ResourceNotFoundException',
    );
  });

  it('does not see a new association at its first use when associations lag (eventual consistency)', async () => {
    const { podCredentials } = await setup(withTags(), {}, tagConditions(), 1);
    expect((await rejectionOf(podCredentials())).code).toBe('ResourceNotFoundException');
    expect((await podCredentials()).assumedRoleUser.arn).toContain(':assumed-role/pod-target/');
  });

  it('refuses a token for another audience (an IRSA token)', async () => {
    const { podCredentials } = await setup(withTags());
    expect((await rejectionOf(podCredentials('sts.amazonaws.com'))).code).toBe('InvalidTokenException');
  });

  describe('with session tags disabled: the external id', () => {
    const withExternalId = (externalId: string) => [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${SOURCE}:root` },
        Action: 'sts:AssumeRole',
        Condition: {
          StringEquals: { 'sts:ExternalId': externalId },
          ArnEquals: { 'aws:PrincipalArn': SOURCE_ROLE },
        },
      },
    ];

    it('lets in the association whose external id the target trust requires', async () => {
      // Arrange: the association first, then the trust naming its external id.
      const first = await setup(withExternalId('placeholder'), { disableSessionTags: true }, null);
      const externalId = first.association?.externalId ?? '';
      expect(externalId).not.toBe('');
      const target = await agentClients(first.sb, TARGET);
      await target.iam.send(
        new UpdateAssumeRolePolicyCommand({
          RoleName: 'pod-target',
          PolicyDocument: trustPolicy(withExternalId(externalId)),
        }),
      );
      // Act
      const out = await first.podCredentials();
      // Assert: no session tags were set on either hop.
      expect(out.assumedRoleUser.arn).toContain(':assumed-role/pod-target/');
      expect(first.sb.peek((s) => s.credentials[out.credentials.accessKeyId]?.sessionTags)).toBeUndefined();
    });

    it('refuses the target hop when the external id does not match', async () => {
      const { podCredentials } = await setup(
        withExternalId('not-this-association'),
        { disableSessionTags: true },
        null,
      );
      expect((await rejectionOf(podCredentials())).code).toBe('AccessDeniedException');
    });
  });
});
