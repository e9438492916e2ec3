/**
 * The sandbox's EKS Pod Identity associations, as the EKS API reference describes them
 * (local/sandbox/eks-pod-identity.ts): one per service account per cluster, immutable
 * namespace and service account, the role in the cluster's account, a target role in any
 * account with an external id that changes with it, 5,000 per cluster, pages of 1 to 100.
 */
import {
  CreatePodIdentityAssociationCommand,
  DeletePodIdentityAssociationCommand,
  DescribePodIdentityAssociationCommand,
  ListPodIdentityAssociationsCommand,
  UpdatePodIdentityAssociationCommand,
} from '@aws-sdk/client-eks';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Sandbox } from '#local/sandbox/index';
import { POD_IDENTITY_ASSOCIATIONS_PER_CLUSTER } from '#local/sandbox/eks-pod-identity';
import { agentClients, rejectionOf, trustPolicy } from './helpers';

const SOURCE = '111111111111';
const SOURCE_ROLE = `arn:aws:iam::${SOURCE}:role/tether/pod-source`;
const TARGET_ROLE = 'arn:aws:iam::222222222222:role/tether/pod-target';
const OTHER_TARGET_ROLE = 'arn:aws:iam::333333333333:role/tether/pod-target';

async function setup() {
  const sb = Sandbox.open();
  const c = await agentClients(sb, SOURCE);
  await c.iam.send(
    new CreateRoleCommand({
      RoleName: 'pod-source',
      Path: '/tether/',
      AssumeRolePolicyDocument: trustPolicy({
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
      }),
    }),
  );
  const create = (namespace = 'apps', serviceAccount = 'web', extra: Record<string, unknown> = {}) =>
    c.eks.send(
      new CreatePodIdentityAssociationCommand({
        clusterName: 'cluster-a',
        namespace,
        serviceAccount,
        roleArn: SOURCE_ROLE,
        targetRoleArn: TARGET_ROLE,
        ...extra,
      }),
    );
  return { sb, ...c, create };
}

describe('EKS Pod Identity associations', () => {
  it('makes an association with a cross-account target role and an external id, and describes it', async () => {
    // Arrange
    const { eks, create } = await setup();

    // Act
    const { association } = await create();
    const described = await eks.send(
      new DescribePodIdentityAssociationCommand({
        clusterName: 'cluster-a',
        associationId: association?.associationId,
      }),
    );

    // Assert
    expect(association).toMatchObject({
      clusterName: 'cluster-a',
      namespace: 'apps',
      serviceAccount: 'web',
      roleArn: SOURCE_ROLE,
      targetRoleArn: TARGET_ROLE,
      disableSessionTags: false,
    });
    expect(association?.associationId).toMatch(/^a-[0-9a-f]{17}$/);
    expect(association?.associationArn).toBe(
      `arn:aws:eks:ap-southeast-1:${SOURCE}:podidentityassociation/cluster-a/${association?.associationId}`,
    );
    expect(association?.externalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(described.association).toEqual(association);
  });

  it('refuses a second association for the same service account with ResourceInUseException', async () => {
    // Arrange
    const { create } = await setup();
    await create();

    // Act
    const err = await rejectionOf(create('apps', 'web'));

    // Assert
    expect(err.name).toBe('ResourceInUseException');
  });

  it('refuses a role outside the cluster’s account, a role IAM does not know, and bad names', async () => {
    // Arrange
    const { create } = await setup();

    // Act
    const otherAccount = await rejectionOf(create('apps', 'a', { roleArn: OTHER_TARGET_ROLE }));
    const unknown = await rejectionOf(create('apps', 'b', { roleArn: `arn:aws:iam::${SOURCE}:role/nobody` }));
    const badTarget = await rejectionOf(create('apps', 'c', { targetRoleArn: 'arn:aws:s3:::bucket' }));
    const badNamespace = await rejectionOf(create('Apps_1', 'd'));

    // Assert
    for (const err of [otherAccount, unknown, badTarget, badNamespace]) {
      expect(err.name).toBe('InvalidParameterException');
    }
  });

  it('changes the role and target role but never the namespace or service account; a new target role gets a new external id', async () => {
    // Arrange
    const { eks, create } = await setup();
    const { association } = await create();

    // Act
    const { association: updated } = await eks.send(
      new UpdatePodIdentityAssociationCommand({
        clusterName: 'cluster-a',
        associationId: association?.associationId,
        targetRoleArn: OTHER_TARGET_ROLE,
        disableSessionTags: true,
      }),
    );

    // Assert
    expect(updated).toMatchObject({
      associationId: association?.associationId,
      namespace: 'apps',
      serviceAccount: 'web',
      targetRoleArn: OTHER_TARGET_ROLE,
      disableSessionTags: true,
    });
    expect(updated?.externalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(updated?.externalId).not.toBe(association?.externalId);
  });

  it('takes a session policy only with session tags disabled', async () => {
    // Arrange
    const { create } = await setup();
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    });

    // Act
    const withTags = await rejectionOf(create('apps', 'tagged', { policy }));
    const { association } = await create('apps', 'untagged', { policy, disableSessionTags: true });

    // Assert
    expect(withTags.name).toBe('InvalidParameterException');
    expect(association).toMatchObject({ policy, disableSessionTags: true });
  });

  it('lists by namespace and service account in pages of 1 to 100, and refuses other page sizes', async () => {
    // Arrange
    const { eks, create } = await setup();
    for (const sa of ['a', 'b', 'c']) await create('apps', sa);
    await create('other', 'a');

    // Act
    const apps = await eks.send(
      new ListPodIdentityAssociationsCommand({ clusterName: 'cluster-a', namespace: 'apps' }),
    );
    const page = await eks.send(
      new ListPodIdentityAssociationsCommand({ clusterName: 'cluster-a', namespace: 'apps', maxResults: 2 }),
    );
    const one = await eks.send(
      new ListPodIdentityAssociationsCommand({ clusterName: 'cluster-a', serviceAccount: 'a' }),
    );
    const tooMany = await rejectionOf(
      eks.send(new ListPodIdentityAssociationsCommand({ clusterName: 'cluster-a', maxResults: 101 })),
    );

    // Assert
    expect(apps.associations?.map((a) => a.serviceAccount).sort()).toEqual(['a', 'b', 'c']);
    expect(page.associations).toHaveLength(2);
    expect(page.nextToken).toBeDefined();
    expect(one.associations?.map((a) => a.namespace).sort()).toEqual(['apps', 'other']);
    expect(tooMany.name).toBe('InvalidParameterException');
  });

  it('deletes an association, after which it is not found and the service account may be associated again', async () => {
    // Arrange
    const { eks, create } = await setup();
    const { association } = await create();

    // Act
    await eks.send(
      new DeletePodIdentityAssociationCommand({
        clusterName: 'cluster-a',
        associationId: association?.associationId,
      }),
    );
    const gone = await rejectionOf(
      eks.send(
        new DescribePodIdentityAssociationCommand({
          clusterName: 'cluster-a',
          associationId: association?.associationId,
        }),
      ),
    );
    const again = await create();

    // Assert
    expect(gone.name).toBe('ResourceNotFoundException');
    expect(again.association?.associationId).not.toBe(association?.associationId);
  });

  it(`stops at ${POD_IDENTITY_ASSOCIATIONS_PER_CLUSTER} associations per cluster with ResourceLimitExceededException`, async () => {
    // Arrange: a saved world whose cluster holds the quota (5,000 calls would only be slow).
    const dir = mkdtempSync(join(tmpdir(), 'tether-pod-identity-'));
    try {
      const first = Sandbox.open({ dataDir: dir });
      const c = await agentClients(first, SOURCE);
      await c.iam.send(
        new CreateRoleCommand({
          RoleName: 'pod-source',
          Path: '/tether/',
          AssumeRolePolicyDocument: trustPolicy({
            Effect: 'Allow',
            Principal: { Service: 'pods.eks.amazonaws.com' },
            Action: 'sts:AssumeRole',
          }),
        }),
      );
      await c.eks.send(
        new CreatePodIdentityAssociationCommand({
          clusterName: 'cluster-a',
          namespace: 'apps',
          serviceAccount: 'first',
          roleArn: SOURCE_ROLE,
        }),
      );
      const file = join(dir, 'sandbox.json');
      const saved = JSON.parse(readFileSync(file, 'utf8'));
      const cluster = saved.accounts[SOURCE].regions['ap-southeast-1'].eks.clusters['cluster-a'];
      const [seed] = Object.values(cluster.podIdentityAssociations) as Record<string, unknown>[];
      for (let i = 1; i < POD_IDENTITY_ASSOCIATIONS_PER_CLUSTER; i++) {
        const id = `a-${String(i).padStart(17, '0')}`;
        cluster.podIdentityAssociations[id] = { ...seed, associationId: id, serviceAccount: `sa-${i}` };
      }
      writeFileSync(file, JSON.stringify(saved));
      const full = await agentClients(Sandbox.open({ dataDir: dir }), SOURCE);

      // Act
      const err = await rejectionOf(
        full.eks.send(
          new CreatePodIdentityAssociationCommand({
            clusterName: 'cluster-a',
            namespace: 'apps',
            serviceAccount: 'one-too-many',
            roleArn: SOURCE_ROLE,
          }),
        ),
      );

      // Assert
      expect(err.name).toBe('ResourceLimitExceededException');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
