import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it } from 'vitest';
import { type CallRecord, Sandbox } from '#local/sandbox/index';
import { agentClients, agentCredentials, clientsFor, rejectionOf, trustPolicy } from './helpers';

const trust = trustPolicy({
  Effect: 'Allow',
  Principal: { AWS: 'arn:aws:iam::111111111111:root' },
  Action: 'sts:AssumeRole',
});
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tether-sandbox-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('sandbox persistence', () => {
  it('keeps every change across a reopen of the same data directory', async () => {
    const dataDir = tempDir();
    const first = Sandbox.open({ dataDir });
    const creds = await agentCredentials(first, '222222222222');
    await clientsFor(first, creds).iam.send(
      new CreateRoleCommand({ RoleName: 'kept', AssumeRolePolicyDocument: trust }),
    );
    expect(readdirSync(dataDir)).toEqual(['sandbox.json']);

    // A second process opening the same directory sees the role, and the session still works.
    const second = Sandbox.open({ dataDir });
    const out = await clientsFor(second, creds).iam.send(new GetRoleCommand({ RoleName: 'kept' }));
    expect(out.Role?.Arn).toBe('arn:aws:iam::222222222222:role/kept');
    expect(second.hubCredentials()).toEqual(first.hubCredentials());
  });

  it('seeds deterministically', () => {
    const a = Sandbox.open().state();
    const b = Sandbox.open().state();
    expect(a.accounts).toEqual(b.accounts);
    expect(Object.keys(a.accounts).sort()).toEqual([
      '000000000000',
      '111111111111',
      '222222222222',
      '333333333333',
    ]);
  });

  it('seeds an empty world with only the hub', () => {
    const sb = Sandbox.open({ world: 'empty' });
    expect(Object.keys(sb.state().accounts)).toEqual(['000000000000']);
    sb.addAccount('444444444444');
    const ids = sb.addEksCluster({
      accountId: '444444444444',
      region: 'us-west-2',
      name: 'c1',
      authenticationMode: 'API',
      oidc: false,
      vpc: { natIps: ['1.2.3.4', '1.2.3.5'] },
    });
    expect(ids.natIps).toEqual(['1.2.3.4', '1.2.3.5']);
    expect(ids.natGatewayIds).toHaveLength(2);
    expect(ids.oidcIssuer).toBeUndefined();
    expect(sb.state().accounts['444444444444']?.iam.roles['tether-agent']?.Path).toBe('/tether/');
    expect(sb.calls()).toEqual([]);
  });

  it('gives a frozen snapshot', () => {
    const snapshot = Sandbox.open().state();
    expect(Object.isFrozen(snapshot.accounts['111111111111']!.iam.roles)).toBe(true);
  });
});

describe('sandbox call log', () => {
  it('counts calls per account, telling mutating from read-only ones', async () => {
    const sb = Sandbox.open();
    const { iam } = await agentClients(sb, '222222222222');
    sb.resetCalls();
    await iam.send(new CreateRoleCommand({ RoleName: 'r1', AssumeRolePolicyDocument: trust }));
    await iam.send(new GetRoleCommand({ RoleName: 'r1' }));
    await iam.send(new ListRolesCommand({}));
    await rejectionOf(iam.send(new CreateRoleCommand({ RoleName: 'r1', AssumeRolePolicyDocument: trust })));
    expect(sb.callCounts({ accountId: '222222222222' })).toBe(4);
    expect(sb.callCounts({ accountId: '222222222222', mutating: true })).toBe(2);
    expect(sb.callCounts({ mutating: false })).toBe(2);
    expect(sb.calls().at(-1)).toEqual({
      seq: 4,
      accountId: '222222222222',
      region: 'us-east-1',
      service: 'iam',
      operation: 'CreateRole',
      mutating: true,
      ok: false,
      errorCode: 'EntityAlreadyExists',
      // The agent role's session, as CloudTrail would show it.
      sessionName: 'tether-222222222222',
      principalArn: 'arn:aws:iam::222222222222:role/tether/tether-agent',
      input: { RoleName: 'r1', AssumeRolePolicyDocument: trust },
    });
    sb.resetCalls();
    expect(sb.calls()).toEqual([]);
  });

  it('shows each call to an observer before it runs, with the state it will see', async () => {
    const sb = Sandbox.open();
    const { iam } = await agentClients(sb, '222222222222');
    const seen: { operation: string; roleExisted: boolean }[] = [];
    sb.beforeCall = (call, state) =>
      seen.push({
        operation: call.operation,
        roleExisted: Boolean(state.accounts['222222222222']?.iam.roles.r2),
      });
    await iam.send(new CreateRoleCommand({ RoleName: 'r2', AssumeRolePolicyDocument: trust }));
    await iam.send(new GetRoleCommand({ RoleName: 'r2' }));
    expect(seen).toEqual([
      { operation: 'CreateRole', roleExisted: false },
      { operation: 'GetRole', roleExisted: true },
    ]);
  });

  it('counts AssumeRole as read-only', async () => {
    const sb = Sandbox.open();
    await agentCredentials(sb, '111111111111');
    expect(sb.calls()).toMatchObject([
      { service: 'sts', operation: 'AssumeRole', mutating: false, ok: true, accountId: '000000000000' },
    ]);
  });

  it('names the service and operation it does not implement', async () => {
    const sb = Sandbox.open();
    const err = await rejectionOf(
      sb.invoke(
        'iam',
        'CreateUser',
        {},
        { accessKeyId: sb.hubCredentials().accessKeyId, region: 'us-east-1' },
      ),
    );
    expect(err).toMatchObject({ code: 'UnsupportedOperation' });
    expect(err.message).toContain('iam:CreateUser');
  });
});

describe('sandbox faults', () => {
  it('fails the next matching calls before doing anything', async () => {
    const sb = Sandbox.open();
    const { iam } = await agentClients(sb, '222222222222');
    sb.injectFault({ service: 'iam', operation: 'CreateRole', code: 'Throttling', times: 2 });
    for (let i = 0; i < 2; i++) {
      const err = await rejectionOf(
        iam.send(new CreateRoleCommand({ RoleName: 'f', AssumeRolePolicyDocument: trust })),
      );
      expect(err.name).toBe('Throttling');
    }
    expect(sb.state().accounts['222222222222']!.iam.roles.f).toBeUndefined();
    await iam.send(new CreateRoleCommand({ RoleName: 'f', AssumeRolePolicyDocument: trust }));
    expect(
      sb
        .calls()
        .filter((c) => c.operation === 'CreateRole')
        .map((c) => c.errorCode),
    ).toEqual(['Throttling', 'Throttling', undefined]);
  });

  it('applies and saves the change before failing an after fault', async () => {
    const dataDir = tempDir();
    const sb = Sandbox.open({ dataDir });
    const { iam } = await agentClients(sb, '222222222222');
    sb.injectFault({ service: 'iam', operation: 'CreateRole', code: 'ServiceFailure', when: 'after' });
    const err = await rejectionOf(
      iam.send(new CreateRoleCommand({ RoleName: 'done', AssumeRolePolicyDocument: trust })),
    );
    expect(err.name).toBe('ServiceFailureException');
    expect(err.$fault).toBe('server');
    expect(Sandbox.open({ dataDir }).state().accounts['222222222222']!.iam.roles.done?.RoleName).toBe('done');
  });

  it('scopes faults to one account and clears them', async () => {
    const sb = Sandbox.open();
    const a = await agentClients(sb, '111111111111');
    const b = await agentClients(sb, '222222222222');
    sb.injectFault({
      service: 'sts',
      operation: 'GetCallerIdentity',
      accountId: '222222222222',
      code: 'Throttling',
    });
    await a.sts.send(new GetCallerIdentityCommand({}));
    expect((await rejectionOf(b.sts.send(new GetCallerIdentityCommand({})))).name).toBe('Throttling');
    sb.injectFault({ service: 'sts', operation: 'GetCallerIdentity', code: 'Throttling', times: 5 });
    sb.clearFaults();
    await b.sts.send(new GetCallerIdentityCommand({}));
  });

  it('reports each mutating call to the crash hook once it is saved', async () => {
    const dataDir = tempDir();
    const sb = Sandbox.open({ dataDir });
    const { iam } = await agentClients(sb, '222222222222');
    const seen: [number, CallRecord][] = [];
    sb.onMutatingCall = (n, call) => {
      seen.push([n, call]);
      if (n === 2) throw new Error('crash');
    };
    await iam.send(new CreateRoleCommand({ RoleName: 'c1', AssumeRolePolicyDocument: trust }));
    await iam.send(new GetRoleCommand({ RoleName: 'c1' }));
    await expect(
      iam.send(new CreateRoleCommand({ RoleName: 'c2', AssumeRolePolicyDocument: trust })),
    ).rejects.toThrow('crash');
    expect(seen.map(([n, c]) => [n, c.operation])).toEqual([
      [1, 'CreateRole'],
      [2, 'CreateRole'],
    ]);
    // The crash came after the save: a restart finds both roles.
    const roles = Sandbox.open({ dataDir }).state().accounts['222222222222']!.iam.roles;
    expect(Object.keys(roles)).toEqual(expect.arrayContaining(['c1', 'c2']));
    expect(existsSync(join(dataDir, 'sandbox.json'))).toBe(true);
  });
});

describe('sandbox bulk', () => {
  it('serves the calls of a bulk as one by one: the same state, the same log', async () => {
    // Arrange: two sandboxes, one seeded call by call, the other in a bulk.
    const one = Sandbox.open();
    const bulk = Sandbox.open();
    const make = (sb: Sandbox) => async () => {
      const { iam } = await agentClients(sb, '222222222222');
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          iam.send(new CreateRoleCommand({ RoleName: `r-${i}`, AssumeRolePolicyDocument: trust })),
        ),
      );
    };

    // Act
    await make(one)();
    await bulk.bulk(make(bulk));

    // Assert
    // Every field of every role alike, but the time it was made.
    const roles = (sb: Sandbox) =>
      Object.values(sb.state().accounts['222222222222']!.iam.roles).map(({ CreateDate, ...r }) => r);
    expect(roles(bulk)).toEqual(roles(one));
    expect(roles(bulk).filter((r) => r.RoleName.startsWith('r-'))).toHaveLength(20);
    const log = (sb: Sandbox) => sb.calls().map((c) => [c.operation, c.ok]);
    expect(log(bulk)).toEqual(log(one));
  });

  it('is atomic as a whole: a call that fails in it undoes the bulk, and its later calls are refused', async () => {
    // Arrange
    const sb = Sandbox.open();
    const { iam } = await agentClients(sb, '222222222222');
    await iam.send(new CreateRoleCommand({ RoleName: 'kept', AssumeRolePolicyDocument: trust }));
    const before = sb.state();
    const create = (name: string) =>
      iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust }));

    // Act: two new roles, then one that exists, then one more.
    const err = await rejectionOf(
      sb.bulk(async () => {
        await create('b1');
        await create('b2');
        await Promise.all([create('kept'), create('b3')]);
      }),
    );

    // Assert
    expect(err.name).toBe('EntityAlreadyExistsException');
    expect(sb.state().accounts).toEqual(before.accounts);
    expect(
      sb
        .calls()
        .filter((c) => c.operation === 'CreateRole')
        .map((c) => [c.input.RoleName, c.errorCode]),
    ).toEqual([
      ['kept', undefined],
      ['b1', undefined],
      ['b2', undefined],
      ['kept', 'EntityAlreadyExists'],
      ['b3', 'EntityAlreadyExists'],
    ]);
    // Calls after the bulk are served one by one again.
    await create('after');
    expect(sb.state().accounts['222222222222']!.iam.roles.after?.RoleName).toBe('after');
  });
});

describe('a saved world from before source identities', () => {
  it('gets agent roles that allow sts:SetSourceIdentity when opened, as a redeploy of the member stack would', async () => {
    // Arrange: a data directory whose agent roles trust the hub for sts:AssumeRole only.
    const dataDir = tempDir();
    Sandbox.open({ dataDir });
    const file = join(dataDir, 'sandbox.json');
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    const old = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::000000000000:role/tether-hub' },
          Action: 'sts:AssumeRole',
        },
      ],
    });
    saved.accounts['222222222222'].iam.roles['tether-agent'].AssumeRolePolicyDocument = old;
    writeFileSync(file, JSON.stringify(saved));

    // Act
    const sb = Sandbox.open({ dataDir });
    const hub = clientsFor(sb, sb.hubCredentials());
    const out = await hub.sts.send(
      new AssumeRoleCommand({
        RoleArn: 'arn:aws:iam::222222222222:role/tether/tether-agent',
        RoleSessionName: 's1',
        SourceIdentity: 'alice',
      }),
    );

    // Assert
    expect(out.SourceIdentity).toBe('alice');
    expect(
      JSON.parse(readFileSync(file, 'utf8')).accounts['222222222222'].iam.roles['tether-agent']
        .AssumeRolePolicyDocument,
    ).not.toBe(old);
  });
});
