/**
 * The Cedar policies (`#api/authorization`, `policies/`): loaded and validated against their
 * schema at start, a bad file refused with its file, line and column; and the default policy
 * set read as a specification — account owners link their own workloads, target-cluster
 * owners approve, dangerous requests wait, nobody approves their own request.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessPolicies, type Action, PolicyFileError, resolvePolicyDir } from '#api/authorization';
import type { Caller } from '#link/caller';
import type { Link, LinkSpec } from '#link/model';

const HUB = '000000000000';
const POLICIES = resolvePolicyDir();
const OPERATOR: Caller = { arn: `arn:aws:iam::${HUB}:role/tether-operator`, accountId: HUB };
const ALICE: Caller = {
  arn: 'arn:aws:sts::111111111111:assumed-role/developer/alice',
  accountId: '111111111111',
};
const BOB: Caller = {
  arn: 'arn:aws:sts::222222222222:assumed-role/cluster-owner/bob',
  accountId: '222222222222',
};
const CAROL: Caller = { arn: 'arn:aws:iam::222222222222:user/carol', accountId: '222222222222' };
const MALLORY: Caller = { arn: 'arn:aws:iam::444444444444:user/mallory', accountId: '444444444444' };

const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
const ADMIN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy';
const CLUSTER_ADMIN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';

function spec(overrides: Partial<LinkSpec> = {}): LinkSpec {
  return {
    source: {
      accountId: '111111111111',
      region: 'ap-southeast-1',
      cluster: 'cluster-a',
      namespace: 'kubeai-chatbot',
      serviceAccount: 'kubeai-chatbot',
    },
    target: { accountId: '222222222222', region: 'ap-southeast-1', cluster: 'cluster-b' },
    access: { policyArn: VIEW, scope: { type: 'cluster' } },
    network: { mode: 'nat' },
    identity: { mode: 'irsa' },
    ...overrides,
  };
}

const link = (createdBy: Caller = ALICE, status: Link['status'] = 'ACTIVE'): Link => ({
  id: 'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5',
  requestId: 'req_1',
  status,
  version: 3,
  spec: spec(),
  steps: {},
  outputs: {},
  createdBy,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
});

let policies: AccessPolicies;
const dirs: string[] = [];

beforeAll(() => {
  policies = AccessPolicies.load({ hubAccountId: HUB });
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A policy folder with the shipped schema and the given policy files. */
function folder(files: Record<string, string>, withSchema = true): string {
  const dir = mkdtempSync(join(tmpdir(), 'tether-policies-'));
  dirs.push(dir);
  if (withSchema) copyFileSync(join(POLICIES, 'tether.cedarschema'), join(dir, 'tether.cedarschema'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function loadError(dir: string): PolicyFileError {
  try {
    AccessPolicies.load({ dir, hubAccountId: HUB });
  } catch (err) {
    if (err instanceof PolicyFileError) return err;
    throw err;
  }
  throw new Error('expected the policies to be refused');
}

describe('AccessPolicies.load', () => {
  it('loads the shipped policies, each under its @id', () => {
    expect([...policies.policyIds.keys()]).toEqual([
      'operators',
      'account-owners',
      'target-owners',
      'dangerous-requests-need-approval',
      'private-ranges-by-operators',
      'no-self-approval',
      'target-aws-policies-from-the-list',
      'cluster-owners',
    ]);
    expect(policies.policyIds.get('account-owners')).toMatch(/default\.cedar:\d+:1$/);
  });

  it('refuses a policy that does not parse, naming its file, line and column', () => {
    // Arrange
    const dir = folder({
      'team.cedar': 'permit (principal, action, resource);\n\npermit (principal action, resource);\n',
    });

    // Act
    const err = loadError(dir);

    // Assert
    expect(err.message).toMatch(new RegExp(`${join(dir, 'team.cedar')}:3:\\d+: `));
  });

  it('refuses a policy that does not validate against the schema, with where and what', () => {
    // Arrange: `principal.team` is no attribute of a Caller.
    const dir = folder({
      'team.cedar': [
        '// Platform team',
        'permit (principal, action == Tether::Action::"ReadLink", resource)',
        'when { principal.team == "platform" };',
        '',
      ].join('\n'),
    });

    // Act
    const err = loadError(dir);

    // Assert
    expect(err.message).toContain(`${join(dir, 'team.cedar')}:3:8:`);
    expect(err.message).toMatch(/attribute `team` on entity type `Tether::Caller` not found/);
  });

  it('refuses an action the schema does not declare', () => {
    // Arrange
    const dir = folder({
      'a.cedar': 'permit (principal, action == Tether::Action::"DropTable", resource);\n',
    });

    // Act / Assert
    expect(loadError(dir).message).toMatch(/a\.cedar:1:\d+:.*DropTable/);
  });

  it('refuses two policies with one @id, naming both places', () => {
    // Arrange
    const dir = folder({
      'a.cedar': '@id("same")\npermit (principal, action, resource) when { principal in context.hub };\n',
      'b.cedar': '\n@id("same")\nforbid (principal, action, resource) when { resource.status == "x" };\n',
    });

    // Act / Assert
    expect(loadError(dir).message).toMatch(
      /b\.cedar:2:1: policy id "same" is also the id of the policy at .*a\.cedar:1:1/,
    );
  });

  it('refuses a folder without a schema, or without any policy', () => {
    expect(loadError(folder({ 'a.cedar': 'permit (principal, action, resource);' }, false)).message).toMatch(
      /exactly one \.cedarschema/,
    );
    expect(loadError(folder({})).message).toMatch(/no \.cedar file/);
  });

  it('refuses a schema that does not describe what Tether passes', () => {
    // Arrange: the shipped schema without the Link's `identity` attribute.
    const dir = folder(
      { 'a.cedar': 'permit (principal, action, resource) when { principal in context.hub };\n' },
      false,
    );
    const schema = readFileSync(join(POLICIES, 'tether.cedarschema'), 'utf8').replace(
      /\n\s*identity: String,[^\n]*/,
      '',
    );
    writeFileSync(join(dir, 'tether.cedarschema'), schema);

    // Act / Assert
    expect(loadError(dir).message).toMatch(/tether\.cedarschema does not describe the request Tether passes/);
  });
});

describe('the default policies', () => {
  const decide = (caller: Caller, action: Action, resource = link()) =>
    policies.decide({ caller, action, resource: { link: resource } }).allowed;
  const mayAsk = (caller: Caller, asked: LinkSpec) => {
    const now = policies.decide({ caller, action: 'CreateLink', resource: { spec: asked }, approved: false });
    const once = policies.decide({ caller, action: 'CreateLink', resource: { spec: asked }, approved: true });
    return now.allowed ? 'now' : once.allowed ? 'once approved' : 'never';
  };

  it.each([
    ['the operator', OPERATOR, spec(), 'now'],
    ['a caller of the source account', ALICE, spec(), 'now'],
    ['a caller of the target account', BOB, spec(), 'never'],
    ['a caller of another account', MALLORY, spec(), 'never'],
    [
      'the source account, for cluster admin',
      ALICE,
      spec({ access: { policyArn: CLUSTER_ADMIN, scope: { type: 'cluster' } } }),
      'once approved',
    ],
    [
      'the source account, for admin of the whole cluster',
      ALICE,
      spec({ access: { policyArn: ADMIN, scope: { type: 'cluster' } } }),
      'once approved',
    ],
    [
      'the source account, for admin of a namespace',
      ALICE,
      spec({ access: { policyArn: ADMIN, scope: { type: 'namespace', namespaces: ['app'] } } }),
      'now',
    ],
    [
      'the source account, for explicit CIDRs',
      ALICE,
      spec({ network: { mode: 'cidrs', cidrs: ['18.0.35.0/24'] } }),
      'once approved',
    ],
    [
      'the source account, for a private range',
      ALICE,
      spec({ network: { mode: 'cidrs', cidrs: ['10.1.2.0/24'] } }),
      'never',
    ],
    [
      'the operator, for cluster admin',
      OPERATOR,
      spec({ access: { policyArn: CLUSTER_ADMIN, scope: { type: 'cluster' } } }),
      'once approved',
    ],
    [
      'the operator, for a private range',
      OPERATOR,
      spec({ network: { mode: 'cidrs', cidrs: ['10.1.2.0/24'] } }),
      'once approved',
    ],
  ])('lets %s ask for a link: %s', (_who, caller, asked, expected) => {
    expect(mayAsk(caller, asked)).toBe(expected);
  });

  it.each([
    ['ReadLink', [OPERATOR, ALICE, BOB, CAROL], [MALLORY]],
    ['ReconcileLink', [OPERATOR, ALICE], [BOB, CAROL, MALLORY]],
    ['DeleteLink', [OPERATOR, ALICE, BOB, CAROL], [MALLORY]],
    ['ApproveLink', [OPERATOR, BOB, CAROL], [ALICE, MALLORY]],
  ] as const)('lets %s be done by exactly its callers', (action, allowed, refused) => {
    for (const caller of allowed) expect(decide(caller, action), `${caller.arn} ${action}`).toBe(true);
    for (const caller of refused) expect(decide(caller, action), `${caller.arn} ${action}`).toBe(false);
  });

  it('lets nobody approve their own request, not even an operator or a target owner', () => {
    expect(decide(BOB, 'ApproveLink', link(BOB, 'AWAITING_APPROVAL'))).toBe(false);
    expect(decide(OPERATOR, 'ApproveLink', link(OPERATOR, 'AWAITING_APPROVAL'))).toBe(false);
    expect(decide(CAROL, 'ApproveLink', link(BOB, 'AWAITING_APPROVAL'))).toBe(true);
  });

  it('names the policy that refused', () => {
    // Act
    const decision = policies.decide({ caller: BOB, action: 'ApproveLink', resource: { link: link(BOB) } });

    // Assert
    expect(decision).toEqual({ allowed: false, policies: ['no-self-approval'], errors: [] });
  });
});

describe('the shipped policies on self-managed clusters', () => {
  const k3s = { accountId: '111111111111', region: 'eu-west-1', cluster: 'k3s-lab' };
  const ask = (caller: Caller, action: 'RegisterCluster' | 'ReadCluster' | 'DeregisterCluster') =>
    policies.decideOnCluster({ caller, action, cluster: k3s });

  it("let the account's owners register, read and forget its clusters", () => {
    for (const action of ['RegisterCluster', 'ReadCluster', 'DeregisterCluster'] as const) {
      expect(ask(ALICE, action)).toMatchObject({ allowed: true, policies: ['cluster-owners'] });
    }
  });

  it("let Tether's operators do anything with them", () => {
    expect(ask(OPERATOR, 'RegisterCluster')).toMatchObject({ allowed: true, policies: ['operators'] });
  });

  it("refuse another account's callers: its keys would sign tokens the account's roles trust", () => {
    expect(ask(BOB, 'RegisterCluster')).toMatchObject({ allowed: false, policies: [] });
    expect(ask(MALLORY, 'ReadCluster').allowed).toBe(false);
    expect(ask(MALLORY, 'DeregisterCluster').allowed).toBe(false);
  });
});
