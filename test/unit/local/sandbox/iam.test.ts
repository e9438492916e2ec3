import {
  AddClientIDToOpenIDConnectProviderCommand,
  AttachRolePolicyCommand,
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  DeleteOpenIDConnectProviderCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListOpenIDConnectProviderTagsCommand,
  ListOpenIDConnectProvidersCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagOpenIDConnectProviderCommand,
  TagRoleCommand,
  UntagOpenIDConnectProviderCommand,
  UntagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { Sandbox } from '#local/sandbox/index';
import { agentClients, clientsFor, rejectionOf, trustPolicy } from './helpers';

const trustAccount = (account: string) =>
  trustPolicy({
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${account}:root` },
    Action: 'sts:AssumeRole',
  });

async function setup() {
  const sb = Sandbox.open();
  const { iam } = await agentClients(sb, '222222222222');
  return { sb, iam };
}

describe('iam', () => {
  it('creates a role and returns it as IAM does, trust policy URL-encoded', async () => {
    const { iam } = await setup();
    const doc = trustAccount('111111111111');
    const out = await iam.send(
      new CreateRoleCommand({
        RoleName: 'tether-t1',
        Path: '/tether/',
        AssumeRolePolicyDocument: doc,
        Tags: [{ Key: 'tether:managed', Value: 'true' }],
      }),
    );
    expect(out.Role).toMatchObject({
      RoleName: 'tether-t1',
      Path: '/tether/',
      Arn: 'arn:aws:iam::222222222222:role/tether/tether-t1',
    });
    expect(out.Role?.RoleId).toMatch(/^AROA[A-Z2-7]{17}$/);
    expect(out.Role?.CreateDate).toBeInstanceOf(Date);
    expect(out.Role?.AssumeRolePolicyDocument).toBe(encodeURIComponent(doc));
    const got = await iam.send(new GetRoleCommand({ RoleName: 'tether-t1' }));
    expect(got.Role?.Tags).toEqual([{ Key: 'tether:managed', Value: 'true' }]);
    expect(decodeURIComponent(got.Role!.AssumeRolePolicyDocument!)).toBe(doc);
  });

  it('refuses a second role of the same name, whatever its case', async () => {
    const { iam } = await setup();
    await iam.send(
      new CreateRoleCommand({ RoleName: 'Dup', AssumeRolePolicyDocument: trustAccount('111111111111') }),
    );
    const err = await rejectionOf(
      iam.send(
        new CreateRoleCommand({ RoleName: 'dup', AssumeRolePolicyDocument: trustAccount('111111111111') }),
      ),
    );
    expect(err.name).toBe('EntityAlreadyExistsException');
  });

  it('enforces the 2,048-character trust policy quota without counting whitespace', async () => {
    const { iam } = await setup();
    const padded = (n: number) =>
      trustPolicy({
        Sid: 'x'.repeat(n),
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::111111111111:root' },
        Action: 'sts:AssumeRole',
      });
    const base = padded(0).replace(/\s/g, '').length;
    const fits = padded(2048 - base);
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'fits',
        AssumeRolePolicyDocument: fits.replace('{', `{${' '.repeat(500)}`),
      }),
    );
    const err = await rejectionOf(
      iam.send(new CreateRoleCommand({ RoleName: 'too-big', AssumeRolePolicyDocument: padded(2049 - base) })),
    );
    expect(err.name).toBe('LimitExceededException');
    expect(err.message).toBe('Cannot exceed quota for ACLSizePerRole: 2048');
  });

  it('refuses a trust policy naming a role that does not exist', async () => {
    const { iam } = await setup();
    const doc = trustPolicy({
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::111111111111:role/ghost' },
      Action: 'sts:AssumeRole',
    });
    const err = await rejectionOf(
      iam.send(new CreateRoleCommand({ RoleName: 'r', AssumeRolePolicyDocument: doc })),
    );
    expect(err.name).toBe('MalformedPolicyDocumentException');
    expect(err.message).toContain('Invalid principal in policy');
  });

  it('validates role names', async () => {
    const { iam } = await setup();
    const err = await rejectionOf(
      iam.send(
        new CreateRoleCommand({ RoleName: 'x'.repeat(65), AssumeRolePolicyDocument: trustAccount('1') }),
      ),
    );
    expect(err.name).toBe('ValidationError');
    const bad = await rejectionOf(
      iam.send(
        new CreateRoleCommand({ RoleName: 'a/b', AssumeRolePolicyDocument: trustAccount('111111111111') }),
      ),
    );
    expect(bad.name).toBe('ValidationError');
  });

  it('reports NoSuchEntity for a missing role', async () => {
    const { iam } = await setup();
    const err = await rejectionOf(iam.send(new GetRoleCommand({ RoleName: 'missing' })));
    expect(err.name).toBe('NoSuchEntityException');
    expect(err.message).toBe('The role with name missing cannot be found.');
  });

  it('keeps inline policies within 10,240 characters and refuses to delete a role that has them', async () => {
    const { iam } = await setup();
    await iam.send(
      new CreateRoleCommand({ RoleName: 'p', AssumeRolePolicyDocument: trustAccount('111111111111') }),
    );
    const policy = (sid: string) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Sid: sid, Effect: 'Allow', Action: 'eks:DescribeCluster', Resource: '*' }],
      });
    await iam.send(new PutRolePolicyCommand({ RoleName: 'p', PolicyName: 'a', PolicyDocument: policy('A') }));
    const got = await iam.send(new GetRolePolicyCommand({ RoleName: 'p', PolicyName: 'a' }));
    expect(got.PolicyDocument).toBe(encodeURIComponent(policy('A')));
    const big = policy('B'.repeat(10_240 - policy('').length - policy('A').length + 1));
    const err = await rejectionOf(
      iam.send(new PutRolePolicyCommand({ RoleName: 'p', PolicyName: 'b', PolicyDocument: big })),
    );
    expect(err.name).toBe('LimitExceededException');
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: 'p' }))).PolicyNames).toEqual(['a']);

    const conflict = await rejectionOf(iam.send(new DeleteRoleCommand({ RoleName: 'p' })));
    expect(conflict.name).toBe('DeleteConflictException');
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'p', PolicyName: 'a' }));
    const missing = await rejectionOf(iam.send(new GetRolePolicyCommand({ RoleName: 'p', PolicyName: 'a' })));
    expect(missing.name).toBe('NoSuchEntityException');
    await iam.send(new DeleteRoleCommand({ RoleName: 'p' }));
    expect((await rejectionOf(iam.send(new GetRoleCommand({ RoleName: 'p' })))).name).toBe(
      'NoSuchEntityException',
    );
  });

  it('attaches and detaches managed policies', async () => {
    const { iam } = await setup();
    await iam.send(
      new CreateRoleCommand({ RoleName: 'm', AssumeRolePolicyDocument: trustAccount('111111111111') }),
    );
    const arn = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'm', PolicyArn: arn }));
    expect((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'm' }))).AttachedPolicies).toEqual(
      [{ PolicyArn: arn, PolicyName: 'ReadOnlyAccess' }],
    );
    expect((await rejectionOf(iam.send(new DeleteRoleCommand({ RoleName: 'm' })))).name).toBe(
      'DeleteConflictException',
    );
    await iam.send(new DetachRolePolicyCommand({ RoleName: 'm', PolicyArn: arn }));
    const err = await rejectionOf(
      iam.send(
        new AttachRolePolicyCommand({ RoleName: 'm', PolicyArn: 'arn:aws:iam::222222222222:policy/nope' }),
      ),
    );
    expect(err.name).toBe('NoSuchEntityException');
  });

  it('tags and untags roles', async () => {
    const { iam } = await setup();
    await iam.send(
      new CreateRoleCommand({ RoleName: 't', AssumeRolePolicyDocument: trustAccount('111111111111') }),
    );
    await iam.send(
      new TagRoleCommand({
        RoleName: 't',
        Tags: [
          { Key: 'a', Value: '1' },
          { Key: 'b', Value: '2' },
        ],
      }),
    );
    await iam.send(new UntagRoleCommand({ RoleName: 't', TagKeys: ['a'] }));
    expect((await iam.send(new ListRoleTagsCommand({ RoleName: 't' }))).Tags).toEqual([
      { Key: 'b', Value: '2' },
    ]);
    const tooMany = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    expect((await rejectionOf(iam.send(new TagRoleCommand({ RoleName: 't', Tags: tooMany })))).name).toBe(
      'LimitExceededException',
    );
  });

  it('stores a trusted role by its unique id, so a re-created role no longer matches', async () => {
    const { iam } = await setup();
    await iam.send(
      new CreateRoleCommand({ RoleName: 'src', AssumeRolePolicyDocument: trustAccount('222222222222') }),
    );
    const srcArn = 'arn:aws:iam::222222222222:role/src';
    const doc = trustPolicy({ Effect: 'Allow', Principal: { AWS: srcArn }, Action: 'sts:AssumeRole' });
    await iam.send(new CreateRoleCommand({ RoleName: 'dst', AssumeRolePolicyDocument: doc }));
    const oldId = (await iam.send(new GetRoleCommand({ RoleName: 'src' }))).Role!.RoleId!;
    await iam.send(new DeleteRoleCommand({ RoleName: 'src' }));
    await iam.send(
      new CreateRoleCommand({ RoleName: 'src', AssumeRolePolicyDocument: trustAccount('222222222222') }),
    );
    const trust = decodeURIComponent(
      (await iam.send(new GetRoleCommand({ RoleName: 'dst' }))).Role!.AssumeRolePolicyDocument!,
    );
    expect(trust).toContain(oldId);
    expect(trust).not.toContain(srcArn);
    // Writing the trust again resolves the ARN to the new role.
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'dst', PolicyDocument: doc }));
    expect(
      decodeURIComponent(
        (await iam.send(new GetRoleCommand({ RoleName: 'dst' }))).Role!.AssumeRolePolicyDocument!,
      ),
    ).toBe(doc);
  });

  it('lists roles with their trust, URL-encoded, but without Tags or PermissionsBoundary, as IAM listings do', async () => {
    // Arrange: IAM API reference, ListRoles: "This operation does not return the following
    // attributes, even though they are an attribute of the returned object:
    // PermissionsBoundary, RoleLastUsed, Tags. To view all of the information for a role, see GetRole."
    const { iam } = await setup();
    const doc = trustAccount('111111111111');
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'listed',
        Path: '/team/',
        AssumeRolePolicyDocument: doc,
        Tags: [{ Key: 'tether:managed', Value: 'true' }],
      }),
    );
    await iam.send(
      new PutRolePermissionsBoundaryCommand({
        RoleName: 'listed',
        PermissionsBoundary: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
      }),
    );
    // Act
    const listed = (await iam.send(new ListRolesCommand({ PathPrefix: '/team/' }))).Roles ?? [];
    // Assert
    expect(listed.map((r) => r.RoleName)).toEqual(['listed']);
    expect(listed[0]?.AssumeRolePolicyDocument).toBe(encodeURIComponent(doc));
    expect(listed[0]?.Tags).toBeUndefined();
    expect(listed[0]?.PermissionsBoundary).toBeUndefined();
    expect(listed[0]?.RoleLastUsed).toBeUndefined();
    const got = (await iam.send(new GetRoleCommand({ RoleName: 'listed' }))).Role;
    expect(got?.Tags).toEqual([{ Key: 'tether:managed', Value: 'true' }]);
    expect(got?.PermissionsBoundary?.PermissionsBoundaryArn).toBe('arn:aws:iam::aws:policy/ReadOnlyAccess');
  });

  it('deletes an OIDC provider that a role still trusts, and leaves that trust as it was', async () => {
    // IAM API reference, DeleteOpenIDConnectProvider: "Deleting an IAM OIDC provider resource
    // does not update any roles that reference the provider as a principal in their trust
    // policies." So whoever deletes a provider must look at the roles first.
    const { iam } = await setup();
    const url = 'https://oidc.example.com/id/SHARED';
    const arn = (
      await iam.send(
        new CreateOpenIDConnectProviderCommand({ Url: url, ClientIDList: ['sts.amazonaws.com'] }),
      )
    ).OpenIDConnectProviderArn!;
    const doc = trustPolicy({
      Effect: 'Allow',
      Principal: { Federated: arn },
      Action: 'sts:AssumeRoleWithWebIdentity',
    });
    await iam.send(new CreateRoleCommand({ RoleName: 'irsa-by-hand', AssumeRolePolicyDocument: doc }));
    await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    const role = (await iam.send(new GetRoleCommand({ RoleName: 'irsa-by-hand' }))).Role;
    expect(decodeURIComponent(role!.AssumeRolePolicyDocument!)).toBe(doc);
  });

  it('manages OIDC providers', async () => {
    const { iam } = await setup();
    const url = 'https://oidc.eks.ap-southeast-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789';
    const out = await iam.send(
      new CreateOpenIDConnectProviderCommand({
        Url: url,
        ClientIDList: ['sts.amazonaws.com'],
        Tags: [{ Key: 'tether:managed', Value: 'true' }],
      }),
    );
    const arn =
      'arn:aws:iam::222222222222:oidc-provider/oidc.eks.ap-southeast-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789';
    expect(out.OpenIDConnectProviderArn).toBe(arn);
    const dup = await rejectionOf(
      iam.send(new CreateOpenIDConnectProviderCommand({ Url: url, ClientIDList: ['sts.amazonaws.com'] })),
    );
    expect(dup.name).toBe('EntityAlreadyExistsException');
    await iam.send(
      new AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn, ClientID: 'other' }),
    );
    await iam.send(
      new TagOpenIDConnectProviderCommand({
        OpenIDConnectProviderArn: arn,
        Tags: [{ Key: 'owner', Value: 'x' }],
      }),
    );
    await iam.send(
      new UntagOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn, TagKeys: ['tether:managed'] }),
    );
    const got = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    expect(got).toMatchObject({
      Url: url.slice('https://'.length),
      ClientIDList: ['sts.amazonaws.com', 'other'],
      Tags: [{ Key: 'owner', Value: 'x' }],
    });
    expect(
      (await iam.send(new ListOpenIDConnectProviderTagsCommand({ OpenIDConnectProviderArn: arn }))).Tags,
    ).toEqual([{ Key: 'owner', Value: 'x' }]);
    expect((await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList).toEqual([
      { Arn: arn },
    ]);
    await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    const gone = await rejectionOf(
      iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })),
    );
    expect(gone.name).toBe('NoSuchEntityException');
  });

  it('caps OIDC providers at 100 per account', async () => {
    const { iam } = await setup();
    for (let i = 0; i < 100; i++) {
      await iam.send(
        new CreateOpenIDConnectProviderCommand({
          Url: `https://issuer.example.com/${i}`,
          ClientIDList: ['sts.amazonaws.com'],
        }),
      );
    }
    const err = await rejectionOf(
      iam.send(
        new CreateOpenIDConnectProviderCommand({ Url: 'https://issuer.example.com/x', ClientIDList: [] }),
      ),
    );
    expect(err.name).toBe('LimitExceededException');
  });
});

describe('IAM tag contents', () => {
  it('refuses a tag value outside IAM’s character set or over 256 characters, as IAM does', async () => {
    const sb = Sandbox.open({ world: 'demo' });
    const { iam } = clientsFor(sb, sb.rootCredentials('111111111111'));
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    });
    for (const Value of ['a->b', 'x'.repeat(257), 'semi;colon']) {
      await expect(
        iam.send(
          new CreateRoleCommand({
            RoleName: 'tagged',
            AssumeRolePolicyDocument: trust,
            Tags: [{ Key: 'k', Value }],
          }),
        ),
      ).rejects.toMatchObject({ name: 'ValidationError' });
    }
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'tagged',
        AssumeRolePolicyDocument: trust,
        Tags: [{ Key: 'k', Value: 'a@b/c=d:e' }],
      }),
    );
    await expect(
      iam.send(new TagRoleCommand({ RoleName: 'tagged', Tags: [{ Key: 'bad>key', Value: 'v' }] })),
    ).rejects.toMatchObject({ name: 'ValidationError' });
  });
});
