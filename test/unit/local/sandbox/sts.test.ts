import { CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { Sandbox, type SandboxCredentials } from '#local/sandbox/index';
import { agentClients, clientsFor, rejectionOf, trustPolicy } from './helpers';

const creds = (c: {
  AccessKeyId?: string;
  SecretAccessKey?: string;
  SessionToken?: string;
}): SandboxCredentials => ({
  accessKeyId: c.AccessKeyId!,
  secretAccessKey: c.SecretAccessKey!,
  sessionToken: c.SessionToken!,
});

/** Demo link: workload role in 111111111111, target role in 222222222222 trusting it by aws:PrincipalArn. */
async function link(options: { externalId?: string } = {}) {
  const sb = Sandbox.open();
  const source = await agentClients(sb, '111111111111');
  const target = await agentClients(sb, '222222222222');
  const workloadArn = 'arn:aws:iam::111111111111:role/tether/wl';
  const targetArn = 'arn:aws:iam::222222222222:role/tether/target';
  await target.iam.send(
    new CreateRoleCommand({
      RoleName: 'target',
      Path: '/tether/',
      AssumeRolePolicyDocument: trustPolicy({
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::111111111111:root' },
        Action: 'sts:AssumeRole',
        Condition: {
          ArnEquals: { 'aws:PrincipalArn': workloadArn },
          ...(options.externalId ? { StringEquals: { 'sts:ExternalId': options.externalId } } : {}),
        },
      }),
    }),
  );
  for (const name of ['wl', 'other']) {
    await source.iam.send(
      new CreateRoleCommand({
        RoleName: name,
        Path: '/tether/',
        AssumeRolePolicyDocument: trustPolicy({
          Effect: 'Allow',
          Principal: { Federated: 'arn:aws:iam::111111111111:oidc-provider/x' },
          Action: 'sts:AssumeRoleWithWebIdentity',
        }),
      }),
    );
  }
  return { sb, source, target, workloadArn, targetArn };
}

const allowAssume = (resource: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: resource }],
  });

describe('sts', () => {
  it('lets the hub assume an agent role, and later calls act in that account', async () => {
    const sb = Sandbox.open();
    const hub = clientsFor(sb, sb.hubCredentials());
    expect((await hub.sts.send(new GetCallerIdentityCommand({}))).Account).toBe('000000000000');
    const out = await hub.sts.send(
      new AssumeRoleCommand({
        RoleArn: 'arn:aws:iam::333333333333:role/tether/tether-agent',
        RoleSessionName: 'tether-333',
      }),
    );
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA/);
    expect(out.Credentials?.Expiration).toBeInstanceOf(Date);
    expect(out.AssumedRoleUser?.Arn).toBe('arn:aws:sts::333333333333:assumed-role/tether-agent/tether-333');
    const agent = clientsFor(sb, creds(out.Credentials!));
    const me = await agent.sts.send(new GetCallerIdentityCommand({}));
    expect(me).toMatchObject({
      Account: '333333333333',
      Arn: 'arn:aws:sts::333333333333:assumed-role/tether-agent/tether-333',
    });
    expect(me.UserId).toMatch(/^AROA[A-Z2-7]{17}:tether-333$/);
  });

  it('refuses principals the trust policy does not name', async () => {
    const sb = Sandbox.open();
    const root = clientsFor(sb, sb.rootCredentials('111111111111'));
    const err = await rejectionOf(
      root.sts.send(
        new AssumeRoleCommand({
          RoleArn: 'arn:aws:iam::222222222222:role/tether/tether-agent',
          RoleSessionName: 'x1',
        }),
      ),
    );
    expect(err.name).toBe('AccessDenied');
    expect(err.$metadata.httpStatusCode).toBe(403);
  });

  it('refuses a role that does not exist with AccessDenied', async () => {
    const sb = Sandbox.open();
    const hub = clientsFor(sb, sb.hubCredentials());
    const err = await rejectionOf(
      hub.sts.send(
        new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::222222222222:role/nope', RoleSessionName: 'x1' }),
      ),
    );
    expect(err.name).toBe('AccessDenied');
  });

  it('lets the workload role assume the target role across accounts when both sides allow it', async () => {
    const { sb, source, workloadArn, targetArn } = await link();
    const session = clientsFor(sb, sb.sessionCredentials(workloadArn, 'pod'));
    // Trusted by the target, but its own identity policy does not allow sts:AssumeRole yet.
    const denied = await rejectionOf(
      session.sts.send(new AssumeRoleCommand({ RoleArn: targetArn, RoleSessionName: 's1' })),
    );
    expect(denied.name).toBe('AccessDenied');
    await source.iam.send(
      new PutRolePolicyCommand({
        RoleName: 'wl',
        PolicyName: 'links',
        PolicyDocument: allowAssume(targetArn),
      }),
    );
    const out = await session.sts.send(new AssumeRoleCommand({ RoleArn: targetArn, RoleSessionName: 's1' }));
    const chained = clientsFor(sb, creds(out.Credentials!));
    expect((await chained.sts.send(new GetCallerIdentityCommand({}))).Arn).toBe(
      'arn:aws:sts::222222222222:assumed-role/target/s1',
    );
  });

  it('evaluates ArnEquals on aws:PrincipalArn: another role of the trusted account is refused', async () => {
    const { sb, source, targetArn } = await link();
    await source.iam.send(
      new PutRolePolicyCommand({ RoleName: 'other', PolicyName: 'links', PolicyDocument: allowAssume('*') }),
    );
    const other = clientsFor(sb, sb.sessionCredentials('arn:aws:iam::111111111111:role/tether/other'));
    const err = await rejectionOf(
      other.sts.send(new AssumeRoleCommand({ RoleArn: targetArn, RoleSessionName: 's1' })),
    );
    expect(err.name).toBe('AccessDenied');
  });

  it('requires the sts:ExternalId the trust policy names', async () => {
    const { sb, source, workloadArn, targetArn } = await link({ externalId: 'ext-123' });
    await source.iam.send(
      new PutRolePolicyCommand({
        RoleName: 'wl',
        PolicyName: 'links',
        PolicyDocument: allowAssume(targetArn),
      }),
    );
    const session = clientsFor(sb, sb.sessionCredentials(workloadArn));
    expect(
      (
        await rejectionOf(
          session.sts.send(new AssumeRoleCommand({ RoleArn: targetArn, RoleSessionName: 's1' })),
        )
      ).name,
    ).toBe('AccessDenied');
    expect(
      (
        await rejectionOf(
          session.sts.send(
            new AssumeRoleCommand({ RoleArn: targetArn, RoleSessionName: 's1', ExternalId: 'bad' }),
          ),
        )
      ).name,
    ).toBe('AccessDenied');
    const ok = await session.sts.send(
      new AssumeRoleCommand({ RoleArn: targetArn, RoleSessionName: 's1', ExternalId: 'ext-123' }),
    );
    expect(ok.Credentials?.AccessKeyId).toBeDefined();
  });

  it('limits role chaining to one hour', async () => {
    const sb = Sandbox.open();
    const hub = clientsFor(sb, sb.hubCredentials());
    const err = await rejectionOf(
      hub.sts.send(
        new AssumeRoleCommand({
          RoleArn: 'arn:aws:iam::111111111111:role/tether/tether-agent',
          RoleSessionName: 'x1',
          DurationSeconds: 7200,
        }),
      ),
    );
    expect(err.name).toBe('ValidationError');
  });

  it('refuses unknown access keys', async () => {
    const sb = Sandbox.open();
    const stranger = clientsFor(sb, { accessKeyId: 'AKIANOTKNOWN', secretAccessKey: 'x' });
    const err = await rejectionOf(stranger.sts.send(new GetCallerIdentityCommand({})));
    expect(err.name).toBe('InvalidClientTokenId');
    expect(sb.calls().at(-1)).toMatchObject({ accountId: '', ok: false, errorCode: 'InvalidClientTokenId' });
  });
});

describe('sts trust by role ARN', () => {
  it('matches sessions of a trusted role ARN until that role is re-created', async () => {
    const sb = Sandbox.open();
    const a = await agentClients(sb, '111111111111');
    const b = await agentClients(sb, '222222222222');
    const srcTrust = trustPolicy({
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::111111111111:root' },
      Action: 'sts:AssumeRole',
    });
    await a.iam.send(new CreateRoleCommand({ RoleName: 'src', AssumeRolePolicyDocument: srcTrust }));
    await a.iam.send(
      new PutRolePolicyCommand({ RoleName: 'src', PolicyName: 'p', PolicyDocument: allowAssume('*') }),
    );
    const srcArn = 'arn:aws:iam::111111111111:role/src';
    await b.iam.send(
      new CreateRoleCommand({
        RoleName: 'dst',
        AssumeRolePolicyDocument: trustPolicy({
          Effect: 'Allow',
          Principal: { AWS: srcArn },
          Action: 'sts:AssumeRole',
        }),
      }),
    );
    const dstArn = 'arn:aws:iam::222222222222:role/dst';
    const first = clientsFor(sb, sb.sessionCredentials(srcArn));
    await first.sts.send(new AssumeRoleCommand({ RoleArn: dstArn, RoleSessionName: 's1' }));

    const { DeleteRolePolicyCommand, DeleteRoleCommand } = await import('@aws-sdk/client-iam');
    await a.iam.send(new DeleteRolePolicyCommand({ RoleName: 'src', PolicyName: 'p' }));
    await a.iam.send(new DeleteRoleCommand({ RoleName: 'src' }));
    await a.iam.send(new CreateRoleCommand({ RoleName: 'src', AssumeRolePolicyDocument: srcTrust }));
    await a.iam.send(
      new PutRolePolicyCommand({ RoleName: 'src', PolicyName: 'p', PolicyDocument: allowAssume('*') }),
    );
    const second = clientsFor(sb, sb.sessionCredentials(srcArn));
    const err = await rejectionOf(
      second.sts.send(new AssumeRoleCommand({ RoleArn: dstArn, RoleSessionName: 's2' })),
    );
    expect(err.name).toBe('AccessDenied');
  });
});

describe('sts with the evaluator', () => {
  /** Roles `caller` and `dst` in 111111111111; `dst` trusts `caller` by its role ARN, the same-account case. */
  async function sameAccount(callerPolicy?: Record<string, unknown>[]) {
    const sb = Sandbox.open();
    const a = await agentClients(sb, '111111111111');
    const callerArn = 'arn:aws:iam::111111111111:role/tether/caller';
    await a.iam.send(
      new CreateRoleCommand({
        RoleName: 'caller',
        Path: '/tether/',
        AssumeRolePolicyDocument: trustPolicy({
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111111111111:root' },
          Action: 'sts:AssumeRole',
        }),
      }),
    );
    await a.iam.send(
      new CreateRoleCommand({
        RoleName: 'dst',
        AssumeRolePolicyDocument: trustPolicy({
          Effect: 'Allow',
          Principal: { AWS: callerArn },
          Action: 'sts:AssumeRole',
        }),
      }),
    );
    if (callerPolicy) {
      await a.iam.send(
        new PutRolePolicyCommand({
          RoleName: 'caller',
          PolicyName: 'p',
          PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: callerPolicy }),
        }),
      );
    }
    const session = clientsFor(sb, sb.sessionCredentials(callerArn, 'app'));
    const assume = () =>
      session.sts.send(
        new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::111111111111:role/dst', RoleSessionName: 's1' }),
      );
    return { a, assume };
  }

  it('lets a same-account trust that names the caller suffice without an identity Allow', async () => {
    // Arrange
    const { assume } = await sameAccount();
    // Act
    const out = await assume();
    // Assert
    expect(out.AssumedRoleUser?.Arn).toBe('arn:aws:sts::111111111111:assumed-role/dst/s1');
  });

  it("lets an explicit Deny in the caller's identity policy win over a same-account trust that names the caller", async () => {
    // Arrange
    const { assume } = await sameAccount([{ Effect: 'Deny', Action: 'sts:AssumeRole', Resource: '*' }]);
    // Act
    const err = await rejectionOf(assume());
    // Assert
    expect(err.name).toBe('AccessDenied');
  });

  it("refuses when the caller's identity policy holds a Deny it cannot evaluate", async () => {
    // Arrange
    const { assume } = await sameAccount([
      { Effect: 'Deny', Action: 'sts:AssumeRole', Resource: '*', Condition: { Frobnicate: { k: 'v' } } },
    ]);
    // Act
    const err = await rejectionOf(assume());
    // Assert
    expect(err.name).toBe('AccessDenied');
    expect(err.message).toMatch(/cannot evaluate: .*'Frobnicate'/);
  });

  it('refuses when the trust policy holds a condition it cannot evaluate', async () => {
    // Arrange
    const sb = Sandbox.open();
    const a = await agentClients(sb, '111111111111');
    await a.iam.send(
      new CreateRoleCommand({
        RoleName: 'dst',
        AssumeRolePolicyDocument: trustPolicy({
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111111111111:root' },
          Action: 'sts:AssumeRole',
          Condition: { StringMatches: { 'aws:PrincipalArn': 'arn:aws:iam::111111111111:root' } },
        }),
      }),
    );
    const root = clientsFor(sb, sb.rootCredentials('111111111111'));
    // Act
    const err = await rejectionOf(
      root.sts.send(
        new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::111111111111:role/dst', RoleSessionName: 's1' }),
      ),
    );
    // Assert
    expect(err.name).toBe('AccessDenied');
    expect(err.message).toMatch(/sandbox: cannot evaluate/);
  });

  it.each([
    [
      'cannot evaluate a Deny NotPrincipal that exempts the role and account but not the session',
      [],
      /cannot evaluate: .*NotPrincipal/,
    ],
    [
      'lets a Deny NotPrincipal that also lists the session exempt it',
      ['arn:aws:sts::111111111111:assumed-role/caller/app'],
      undefined,
    ],
  ])('presents a role session as its session ARN: %s', async (_name, sessions, refusal) => {
    // Arrange
    const sb = Sandbox.open();
    const a = await agentClients(sb, '111111111111');
    const callerArn = 'arn:aws:iam::111111111111:role/caller';
    const root = 'arn:aws:iam::111111111111:root';
    await a.iam.send(
      new CreateRoleCommand({
        RoleName: 'caller',
        AssumeRolePolicyDocument: trustPolicy({
          Effect: 'Allow',
          Principal: { AWS: root },
          Action: 'sts:AssumeRole',
        }),
      }),
    );
    await a.iam.send(
      new CreateRoleCommand({
        RoleName: 'dst',
        AssumeRolePolicyDocument: trustPolicy([
          { Effect: 'Allow', Principal: { AWS: callerArn }, Action: 'sts:AssumeRole' },
          { Effect: 'Deny', NotPrincipal: { AWS: [...sessions, callerArn, root] }, Action: 'sts:AssumeRole' },
        ]),
      }),
    );
    const session = clientsFor(sb, sb.sessionCredentials(callerArn, 'app'));
    // Act
    const outcome = await session.sts
      .send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::111111111111:role/dst', RoleSessionName: 's1' }))
      .then(
        () => undefined,
        (err: Error) => err,
      );
    // Assert
    if (refusal) expect(outcome?.message).toMatch(refusal);
    else expect(outcome).toBeUndefined();
  });
});

describe('sandbox STS: SourceIdentity', () => {
  const agentArn = (account: string) => `arn:aws:iam::${account}:role/tether/tether-agent`;

  it('sets the source identity the agent role trust allows, and records it with every call', async () => {
    // Arrange
    const sb = Sandbox.open();
    const hub = clientsFor(sb, sb.hubCredentials());
    // Act
    const out = await hub.sts.send(
      new AssumeRoleCommand({
        RoleArn: agentArn('222222222222'),
        RoleSessionName: 'tether-lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5-1a2b3c4d',
        SourceIdentity: 'alice',
      }),
    );
    const agent = clientsFor(sb, creds(out.Credentials!));
    await agent.iam.send(new CreateRoleCommand({ RoleName: 'r', AssumeRolePolicyDocument: trustPolicy([]) }));
    // Assert
    expect(out.SourceIdentity).toBe('alice');
    expect(sb.calls().at(-1)).toMatchObject({
      operation: 'CreateRole',
      accountId: '222222222222',
      sessionName: 'tether-lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5-1a2b3c4d',
      sourceIdentity: 'alice',
    });
  });

  it('refuses a source identity the trust does not allow to set', async () => {
    // Arrange: a role trusting the hub for sts:AssumeRole only.
    const sb = Sandbox.open();
    const a = await agentClients(sb, '111111111111');
    await a.iam.send(
      new CreateRoleCommand({
        RoleName: 'plain',
        AssumeRolePolicyDocument: trustPolicy({
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::000000000000:role/tether-hub' },
          Action: 'sts:AssumeRole',
        }),
      }),
    );
    const hub = clientsFor(sb, sb.hubCredentials());
    // Act
    const withIdentity = await rejectionOf(
      hub.sts.send(
        new AssumeRoleCommand({
          RoleArn: 'arn:aws:iam::111111111111:role/plain',
          RoleSessionName: 's1',
          SourceIdentity: 'alice',
        }),
      ),
    );
    const without = await hub.sts.send(
      new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::111111111111:role/plain', RoleSessionName: 's1' }),
    );
    // Assert
    expect(withIdentity.name).toBe('AccessDenied');
    expect(withIdentity.message).toMatch(/sts:SetSourceIdentity/);
    expect(without.Credentials?.AccessKeyId).toBeDefined();
  });

  it.each([
    ['too short', 'a'],
    ['a character STS refuses', 'alice smith'],
    ['the reserved aws: prefix', 'aws:alice'],
    ['over 64 characters', 'a'.repeat(65)],
  ])('refuses a source identity %s', async (_case, sourceIdentity) => {
    // Arrange
    const sb = Sandbox.open();
    const hub = clientsFor(sb, sb.hubCredentials());
    // Act
    const err = await rejectionOf(
      hub.sts.send(
        new AssumeRoleCommand({
          RoleArn: agentArn('111111111111'),
          RoleSessionName: 's1',
          SourceIdentity: sourceIdentity,
        }),
      ),
    );
    // Assert
    expect(err.name).toBe('ValidationError');
  });

  it('keeps the source identity through role chaining, and refuses to change it', async () => {
    // Arrange: alice's agent session in 111111111111 may assume a role there.
    const sb = Sandbox.open();
    const hub = clientsFor(sb, sb.hubCredentials());
    const first = await hub.sts.send(
      new AssumeRoleCommand({
        RoleArn: agentArn('111111111111'),
        RoleSessionName: 's1',
        SourceIdentity: 'alice',
      }),
    );
    const agent = clientsFor(sb, creds(first.Credentials!));
    await agent.iam.send(
      new CreateRoleCommand({
        RoleName: 'next',
        AssumeRolePolicyDocument: trustPolicy({
          Effect: 'Allow',
          Principal: { AWS: agentArn('111111111111') },
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        }),
      }),
    );
    const next = 'arn:aws:iam::111111111111:role/next';
    // Act
    const chained = await agent.sts.send(new AssumeRoleCommand({ RoleArn: next, RoleSessionName: 's2' }));
    const changed = await rejectionOf(
      agent.sts.send(
        new AssumeRoleCommand({ RoleArn: next, RoleSessionName: 's3', SourceIdentity: 'mallory' }),
      ),
    );
    // Assert
    expect(chained.SourceIdentity).toBe('alice');
    expect(changed.name).toBe('AccessDenied');
  });
});

describe('sandbox STS: session tags', () => {
  /** A role of 111111111111 trusting its account for AssumeRole, and for TagSession when `tagSession`, with team = a. */
  async function tagged(tagSession: boolean) {
    const sb = Sandbox.open();
    const root = clientsFor(sb, sb.rootCredentials('111111111111'));
    await root.iam.send(
      new CreateRoleCommand({
        RoleName: 'tagged',
        AssumeRolePolicyDocument: trustPolicy({
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111111111111:root' },
          Action: tagSession ? ['sts:AssumeRole', 'sts:TagSession'] : 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:RequestTag/team': 'a' } },
        }),
      }),
    );
    // A trust naming the account needs the caller's own Allow too.
    await root.iam.send(
      new PutRolePolicyCommand({
        RoleName: 'tagged',
        PolicyName: 'next',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['sts:AssumeRole', 'sts:TagSession'],
              Resource: 'arn:aws:iam::111111111111:role/next',
            },
          ],
        }),
      }),
    );
    await root.iam.send(
      new CreateRoleCommand({
        RoleName: 'next',
        AssumeRolePolicyDocument: trustPolicy({
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111111111111:root' },
          Action: ['sts:AssumeRole', 'sts:TagSession'],
        }),
      }),
    );
    return { sb, root };
  }
  const assume = (
    sts: ReturnType<typeof clientsFor>['sts'],
    name: string,
    tags: Record<string, string>,
    transitive: string[] = [],
  ) =>
    sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::111111111111:role/${name}`,
        RoleSessionName: 'tags',
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        ...(transitive.length ? { TransitiveTagKeys: transitive } : {}),
      }),
    );

  it('evaluates the request tags as aws:RequestTag/… and keeps them on the session', async () => {
    const { sb, root } = await tagged(true);
    const out = await assume(root.sts, 'tagged', { team: 'a' });
    expect(sb.state().credentials[out.Credentials?.AccessKeyId ?? '']?.sessionTags).toEqual({ team: 'a' });
    expect((await rejectionOf(assume(root.sts, 'tagged', { team: 'b' }))).name).toBe('AccessDenied');
  });

  it('refuses tags the trust does not allow with sts:TagSession', async () => {
    const { root } = await tagged(false);
    const err = await rejectionOf(assume(root.sts, 'tagged', { team: 'a' }));
    expect(err.name).toBe('AccessDenied');
    expect(err.message).toContain('sts:TagSession');
  });

  it('passes transitive tags down a role chain, and refuses changing them', async () => {
    const { sb, root } = await tagged(true);
    const first = await assume(root.sts, 'tagged', { team: 'a' }, ['team']);
    const chained = clientsFor(sb, creds(first.Credentials!));
    const second = await assume(chained.sts, 'next', {});
    expect(sb.state().credentials[second.Credentials?.AccessKeyId ?? '']?.sessionTags).toEqual({ team: 'a' });
    expect((await rejectionOf(assume(chained.sts, 'next', { team: 'b' }))).name).toBe(
      'InvalidParameterValue',
    );
  });
});
