import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DeleteAccessEntryCommand,
  DescribeAccessEntryCommand,
  DescribeClusterCommand,
  DisassociateAccessPolicyCommand,
  ListAccessEntriesCommand,
  ListAssociatedAccessPoliciesCommand,
  ListClustersCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAccessEntryCommand,
  UpdateClusterConfigCommand,
} from '@aws-sdk/client-eks';
import { CreateRoleCommand, DeleteRoleCommand } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { Sandbox } from '#local/sandbox/index';
import { agentClients, rejectionOf, trustPolicy } from './helpers';

const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
const ROLE = 'arn:aws:iam::222222222222:role/tether/target';

async function setup(options: { propagationDelayCalls?: number } = {}) {
  const sb = Sandbox.open(options);
  const c = await agentClients(sb, '222222222222');
  await c.iam.send(
    new CreateRoleCommand({
      RoleName: 'target',
      Path: '/tether/',
      AssumeRolePolicyDocument: trustPolicy({
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::111111111111:root' },
        Action: 'sts:AssumeRole',
      }),
    }),
  );
  return { sb, ...c };
}

describe('eks', () => {
  it('describes the demo target cluster as EKS does', async () => {
    const { eks } = await setup();
    const { cluster } = await eks.send(new DescribeClusterCommand({ name: 'cluster-b' }));
    expect(cluster).toMatchObject({
      name: 'cluster-b',
      arn: 'arn:aws:eks:ap-southeast-1:222222222222:cluster/cluster-b',
      status: 'ACTIVE',
      accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
      resourcesVpcConfig: {
        endpointPublicAccess: true,
        endpointPrivateAccess: true,
        publicAccessCidrs: ['0.0.0.0/0'],
      },
    });
    expect(cluster?.endpoint).toMatch(/^https:\/\/[0-9A-F]{32}\.gr7\.ap-southeast-1\.eks\.amazonaws\.com$/);
    expect(cluster?.identity?.oidc?.issuer).toMatch(
      /^https:\/\/oidc\.eks\.ap-southeast-1\.amazonaws\.com\/id\/[0-9A-F]{32}$/,
    );
    expect(cluster?.resourcesVpcConfig?.clusterSecurityGroupId).toMatch(/^sg-[0-9a-f]{17}$/);
    expect(cluster?.resourcesVpcConfig?.vpcId).toMatch(/^vpc-/);
    expect(Buffer.from(cluster!.certificateAuthority!.data!, 'base64').toString()).toContain(
      'BEGIN CERTIFICATE',
    );
    expect((await eks.send(new ListClustersCommand({}))).clusters).toEqual(['cluster-b']);
    const missing = await rejectionOf(eks.send(new DescribeClusterCommand({ name: 'cluster-z' })));
    expect(missing.name).toBe('ResourceNotFoundException');
  });

  it('creates an access entry with EKS defaults and refuses a second one for the principal', async () => {
    const { eks } = await setup();
    const { accessEntry } = await eks.send(
      new CreateAccessEntryCommand({
        clusterName: 'cluster-b',
        principalArn: ROLE,
        tags: { 'tether:managed': 'true' },
      }),
    );
    expect(accessEntry).toMatchObject({
      clusterName: 'cluster-b',
      principalArn: ROLE,
      type: 'STANDARD',
      kubernetesGroups: [],
      username: 'arn:aws:sts::222222222222:assumed-role/target/{{SessionName}}',
      tags: { 'tether:managed': 'true' },
    });
    expect(accessEntry?.accessEntryArn).toMatch(
      /^arn:aws:eks:ap-southeast-1:222222222222:access-entry\/cluster-b\/role\/222222222222\/target\/[0-9a-f-]{36}$/,
    );
    const dup = await rejectionOf(
      eks.send(new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE })),
    );
    expect(dup.name).toBe('ResourceInUseException');
    expect(
      (await eks.send(new ListAccessEntriesCommand({ clusterName: 'cluster-b' }))).accessEntries,
    ).toEqual([ROLE]);
    const updated = await eks.send(
      new UpdateAccessEntryCommand({
        clusterName: 'cluster-b',
        principalArn: ROLE,
        kubernetesGroups: ['viewers'],
      }),
    );
    expect(updated.accessEntry?.kubernetesGroups).toEqual(['viewers']);
  });

  it('refuses a principal that does not exist', async () => {
    const { eks } = await setup();
    const err = await rejectionOf(
      eks.send(
        new CreateAccessEntryCommand({
          clusterName: 'cluster-b',
          principalArn: 'arn:aws:iam::222222222222:role/ghost',
        }),
      ),
    );
    expect(err.name).toBe('InvalidParameterException');
    expect(err.message).toBe('The specified principalArn is invalid: invalid principal');
  });

  it('refuses access entries on a CONFIG_MAP cluster', async () => {
    const sb = Sandbox.open();
    const { eks } = await agentClients(sb, '333333333333', 'eu-west-1');
    const err = await rejectionOf(
      eks.send(
        new CreateAccessEntryCommand({
          clusterName: 'cluster-c',
          principalArn: 'arn:aws:iam::333333333333:role/cluster-c-node-role',
        }),
      ),
    );
    expect(err.name).toBe('InvalidRequestException');
    expect(err.message).toContain('authentication mode must be set to one of [API, API_AND_CONFIG_MAP]');
  });

  it('associates access policies, replacing the scope on re-association', async () => {
    const { eks } = await setup();
    await eks.send(new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE }));
    await eks.send(
      new AssociateAccessPolicyCommand({
        clusterName: 'cluster-b',
        principalArn: ROLE,
        policyArn: VIEW,
        accessScope: { type: 'cluster' },
      }),
    );
    const again = await eks.send(
      new AssociateAccessPolicyCommand({
        clusterName: 'cluster-b',
        principalArn: ROLE,
        policyArn: VIEW,
        accessScope: { type: 'namespace', namespaces: ['team-a'] },
      }),
    );
    expect(again.associatedAccessPolicy).toMatchObject({
      policyArn: VIEW,
      accessScope: { type: 'namespace', namespaces: ['team-a'] },
    });
    const list = await eks.send(
      new ListAssociatedAccessPoliciesCommand({ clusterName: 'cluster-b', principalArn: ROLE }),
    );
    expect(list.associatedAccessPolicies).toHaveLength(1);
    const bad = await rejectionOf(
      eks.send(
        new AssociateAccessPolicyCommand({
          clusterName: 'cluster-b',
          principalArn: ROLE,
          policyArn: 'arn:aws:eks::aws:cluster-access-policy/Nope',
          accessScope: { type: 'cluster' },
        }),
      ),
    );
    expect(bad.name).toBe('InvalidParameterException');
    await eks.send(
      new DisassociateAccessPolicyCommand({ clusterName: 'cluster-b', principalArn: ROLE, policyArn: VIEW }),
    );
    expect(
      (
        await eks.send(
          new ListAssociatedAccessPoliciesCommand({ clusterName: 'cluster-b', principalArn: ROLE }),
        )
      ).associatedAccessPolicies,
    ).toEqual([]);
  });

  it('deletes an access entry together with its associations', async () => {
    const { eks, sb } = await setup();
    await eks.send(new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE }));
    await eks.send(
      new AssociateAccessPolicyCommand({
        clusterName: 'cluster-b',
        principalArn: ROLE,
        policyArn: VIEW,
        accessScope: { type: 'cluster' },
      }),
    );
    await eks.send(new DeleteAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE }));
    const gone = await rejectionOf(
      eks.send(new DescribeAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE })),
    );
    expect(gone.name).toBe('ResourceNotFoundException');
    expect(
      sb.state().accounts['222222222222']!.regions['ap-southeast-1']!.eks.clusters['cluster-b']!
        .accessEntries,
    ).toEqual({});
  });

  it('tags access entries', async () => {
    const { eks } = await setup();
    const { accessEntry } = await eks.send(
      new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE, tags: { a: '1' } }),
    );
    const arn = accessEntry!.accessEntryArn!;
    await eks.send(new TagResourceCommand({ resourceArn: arn, tags: { b: '2' } }));
    await eks.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['a'] }));
    expect((await eks.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags).toEqual({ b: '2' });
  });

  it('updates publicAccessCidrs within the 40-CIDR quota and refuses a no-op update', async () => {
    const { eks } = await setup();
    const cidrs = (n: number) => Array.from({ length: n }, (_, i) => `18.0.${i}.1/32`);
    const tooMany = await rejectionOf(
      eks.send(
        new UpdateClusterConfigCommand({
          name: 'cluster-b',
          resourcesVpcConfig: { publicAccessCidrs: cidrs(41) },
        }),
      ),
    );
    expect(tooMany.name).toBe('InvalidParameterException');
    const out = await eks.send(
      new UpdateClusterConfigCommand({
        name: 'cluster-b',
        resourcesVpcConfig: { publicAccessCidrs: cidrs(40) },
      }),
    );
    expect(out.update?.status).toBe('InProgress');
    const described = await eks.send(new DescribeClusterCommand({ name: 'cluster-b' }));
    expect(described.cluster?.resourcesVpcConfig?.publicAccessCidrs).toHaveLength(40);
    const noop = await rejectionOf(
      eks.send(
        new UpdateClusterConfigCommand({
          name: 'cluster-b',
          resourcesVpcConfig: { publicAccessCidrs: cidrs(40) },
        }),
      ),
    );
    expect(noop.name).toBe('InvalidParameterException');
  });

  it('models IAM eventual consistency for new roles', async () => {
    const { eks } = await setup({ propagationDelayCalls: 3 });
    // The first 3 calls of each kind naming the new role fail: IAM has not propagated it yet.
    const first = await rejectionOf(
      eks.send(new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE })),
    );
    expect(first.name).toBe('InvalidParameterException');
    expect(first.message).toBe('The specified principalArn is invalid: invalid principal');
    await rejectionOf(
      eks.send(new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE })),
    );
    await rejectionOf(
      eks.send(new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE })),
    );
    await eks.send(new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE }));
    const associate = () =>
      eks.send(
        new AssociateAccessPolicyCommand({
          clusterName: 'cluster-b',
          principalArn: ROLE,
          policyArn: VIEW,
          accessScope: { type: 'cluster' },
        }),
      );
    for (let i = 0; i < 3; i++) {
      const err = await rejectionOf(associate());
      expect(err.name).toBe('ResourceNotFoundException');
      expect(err.message).toBe('The specified principalArn could not be found');
    }
    await associate();
  });
});

/** Who the cluster takes a session of `roleArn` for: the SelfSubjectReview `kubectl auth whoami` asks for. */
async function whoAmI(sb: Sandbox, roleArn: string, cluster = 'cluster-b', region = 'ap-southeast-1') {
  const { accessKeyId } = sb.sessionCredentials(roleArn, 'probe');
  return (await sb.invoke('kubernetes', 'WhoAmI', { clusterName: cluster }, { accessKeyId, region })) as {
    status: { userInfo: { username: string; groups: string[] } };
  };
}

describe('authentication through an access entry', () => {
  it('maps a session of the entry’s role to its username, with {{SessionName}} filled in, and its groups', async () => {
    // Arrange
    const { sb, eks } = await setup();
    await eks.send(
      new CreateAccessEntryCommand({
        clusterName: 'cluster-b',
        principalArn: ROLE,
        kubernetesGroups: ['readers'],
        username: 'tether:111111111111:{{SessionName}}',
      }),
    );
    // Act
    const review = await whoAmI(sb, ROLE);
    // Assert
    expect(review.status.userInfo.username).toBe('tether:111111111111:probe');
    expect(review.status.userInfo.groups).toEqual(['readers', 'system:authenticated']);
  });

  it('refuses a session of a role re-created under the same ARN: the entry keeps the old role id', async () => {
    // EKS API reference, AccessEntry.principalArn: "If you don't delete the access entry and ever
    // recreate the IAM principal, even if it has the same ARN, the access entry won't work …
    // Amazon EKS stores [the roleID] with the access entry."
    const { sb, eks, iam } = await setup();
    await eks.send(new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE }));
    await whoAmI(sb, ROLE);
    await iam.send(new DeleteRoleCommand({ RoleName: 'target' }));
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'target',
        Path: '/tether/',
        AssumeRolePolicyDocument: trustPolicy({
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111111111111:root' },
          Action: 'sts:AssumeRole',
        }),
      }),
    );
    // Act
    const refused = await rejectionOf(whoAmI(sb, ROLE));
    // Assert: the entry still names the ARN, and no longer lets its role in.
    expect([refused.code, refused.statusCode]).toEqual(['Unauthorized', 401]);
    expect(refused.message).toMatch(/^Unauthorized/);
    const { accessEntry } = await eks.send(
      new DescribeAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE }),
    );
    expect(accessEntry?.principalArn).toBe(ROLE);
    // Making the entry again binds it to the new role.
    await eks.send(new DeleteAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE }));
    await eks.send(new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE }));
    expect((await whoAmI(sb, ROLE)).status.userInfo.username).toBe(
      'arn:aws:sts::222222222222:assumed-role/target/probe',
    );
  });

  it('refuses a role with no access entry on an API cluster', async () => {
    const { sb } = await setup();
    const refused = await rejectionOf(whoAmI(sb, ROLE));
    expect(refused.code).toBe('Unauthorized');
  });

  it('maps a role through aws-auth on a CONFIG_MAP cluster, by its ARN without the path', async () => {
    const sb = Sandbox.open();
    const review = await whoAmI(
      sb,
      'arn:aws:iam::333333333333:role/cluster-c-node-role',
      'cluster-c',
      'eu-west-1',
    );
    expect(review.status.userInfo.username).toMatch(/^system:node:/);
    expect(review.status.userInfo.groups).toContain('system:nodes');
  });

  it('refuses a username with a prefix EKS reserves', async () => {
    // EKS user guide, creating access entries: a custom username can't start with system:,
    // eks:, aws:, amazon: or iam:. (The exact error EKS answers is unconfirmed.)
    const { eks } = await setup();
    for (const username of ['system:x', 'eks:x', 'aws:x', 'amazon:x', 'iam:x']) {
      const err = await rejectionOf(
        eks.send(new CreateAccessEntryCommand({ clusterName: 'cluster-b', principalArn: ROLE, username })),
      );
      expect(err.name, username).toBe('InvalidParameterException');
    }
  });
});
