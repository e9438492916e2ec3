/**
 * Least privilege, proven: every call the workflows make in a member account, recorded from
 * the sandbox's call log while the local runtime runs them end to end (onboard with NAT IPs
 * and with CIDRs, an access policy and Kubernetes groups, aws-auth and access entries, a
 * reconcile after a NAT change and after a boundary was removed, a failure and its
 * compensation, offboard), is allowed by the agent role's policy **as synthesized in the
 * member template**; and a list of dangerous calls is denied.
 *
 * The judge is `test/infra/iam/evaluate.ts`, not Tether's own evaluator (which the sandbox's
 * STS uses): the same evaluator on both sides would prove nothing.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateRoleCommand, DeleteRolePermissionsBoundaryCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateManagedPrefixListCommand,
  DeleteNatGatewayCommand,
  DescribeNatGatewaysCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { sandboxPlugin } from '#local/adapters/sdk-plugin';
import { analyseFunctions, newApp } from '../../infra/app';
import { loadConfig } from '../../infra/config';
import { MemberStack } from '../../infra/member-stack';
import { hubRoleArn } from '../../infra/names';
import { demoRequest, type Harness, startHarness } from '../e2e/harness';
import { type Decision, evaluate, evaluateResourcePolicy, type Policy, type Request } from './iam/evaluate';
import { type Authorization, authorizationsOf } from './iam/requests';
import { managedPolicy, rolePolicies, trustPolicy } from './iam/template';

const config = loadConfig((key) =>
  key === 'tetherConfig' ? 'test/infra/fixtures/tether.config.json' : undefined,
);
const ORG = config.organization?.id ?? '';
const SOURCE = '111111111111';
const TARGET = '222222222222';
const REGION = 'ap-southeast-1';

let template: any;
let memberCallers: readonly string[];
let h: Harness;
const recorded: Authorization[] = [];
const unmodelled: string[] = [];
const operations = new Set<string>();

const policiesIn = (account: string): Policy[] =>
  rolePolicies(template, config.agentRoleName, { account, region: REGION });
const decisionOf = (r: Request & { account?: string }): Decision =>
  evaluate(policiesIn(r.account ?? TARGET), r).decision;

/**
 * Asks for the links of `body` and waits for each to settle. A link the policies make wait
 * (explicit CIDRs, say) is approved first by an owner of its target account, as the default
 * policies allow, so the recorded calls are those of every workflow a link can run.
 */
async function settled(body: unknown) {
  const res = await h.api('POST', '/links', body);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const links = res.body.links as { id: string; status: string; target: { accountId: string } }[];
  for (const l of links.filter((l) => l.status === 'AWAITING_APPROVAL')) {
    const approval = await h.approve(l, 'least-privilege proof');
    expect(approval.status, JSON.stringify(approval.body)).toBe(202);
  }
  return Promise.all(links.map((l) => h.settle(l.id)));
}

/** Calls the agent role must never be able to make (each judged in the target account). */
const boundary = `arn:aws:iam::${TARGET}:policy/tether/tether-boundary`;
const tetherRole = `arn:aws:iam::${TARGET}:role/tether/tether-t-x`;
const managed = { 'aws:ResourceTag/tether:managed': 'true', 'iam:ResourceTag/tether:managed': 'true' };
const tags = { 'aws:RequestTag/tether:managed': 'true', 'aws:TagKeys': ['tether:managed', 'tether:owner'] };
const tetherEntry = `arn:aws:eks:${REGION}:${TARGET}:access-entry/cluster-b/role/${TARGET}/tether-t-x/1`;
const clusterSg = { 'ec2:ResourceTag/aws:eks:cluster-name': 'cluster-b' };
const dangerous: [string, Request][] = [
  ['a role without the boundary', { action: 'iam:CreateRole', resource: tetherRole, context: { ...tags } }],
  [
    'a role with another boundary',
    {
      action: 'iam:CreateRole',
      resource: tetherRole,
      context: { ...tags, 'iam:PermissionsBoundary': 'arn:aws:iam::aws:policy/AdministratorAccess' },
    },
  ],
  [
    'a role outside Tether’s path',
    {
      action: 'iam:CreateRole',
      resource: `arn:aws:iam::${TARGET}:role/admin/x`,
      context: { ...tags, 'iam:PermissionsBoundary': boundary },
    },
  ],
  [
    'an untagged role',
    { action: 'iam:CreateRole', resource: tetherRole, context: { 'iam:PermissionsBoundary': boundary } },
  ],
  [
    'attaching AdministratorAccess to a Tether role',
    {
      action: 'iam:AttachRolePolicy',
      resource: tetherRole,
      context: { ...managed, 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' },
    },
  ],
  [
    'removing the boundary of a Tether role',
    { action: 'iam:DeleteRolePermissionsBoundary', resource: tetherRole, context: managed },
  ],
  [
    'replacing the boundary of a Tether role',
    {
      action: 'iam:PutRolePermissionsBoundary',
      resource: tetherRole,
      context: { ...managed, 'iam:PermissionsBoundary': 'arn:aws:iam::aws:policy/AdministratorAccess' },
    },
  ],
  ['deleting an untagged role under the path', { action: 'iam:DeleteRole', resource: tetherRole }],
  ['deleting a role elsewhere', { action: 'iam:DeleteRole', resource: `arn:aws:iam::${TARGET}:role/admin` }],
  ['rewriting an untagged role’s trust', { action: 'iam:UpdateAssumeRolePolicy', resource: tetherRole }],
  [
    'writing the agent role’s own policy',
    {
      action: 'iam:PutRolePolicy',
      resource: `arn:aws:iam::${TARGET}:role/tether/tether-agent`,
      context: { 'iam:ResourceTag/tether:managed': 'true' },
    },
  ],
  [
    'tagging the agent role as Tether’s',
    { action: 'iam:TagRole', resource: `arn:aws:iam::${TARGET}:role/tether/tether-agent`, context: tags },
  ],
  ['changing the boundary policy', { action: 'iam:CreatePolicyVersion', resource: boundary }],
  [
    'deleting an OIDC provider Tether did not make',
    {
      action: 'iam:DeleteOpenIDConnectProvider',
      resource: `arn:aws:iam::${TARGET}:oidc-provider/oidc.example.com`,
    },
  ],
  ['PassRole outside the path', { action: 'iam:PassRole', resource: `arn:aws:iam::${TARGET}:role/admin` }],
  [
    'PassRole on the path to no named service',
    { action: 'iam:PassRole', resource: tetherRole, context: managed },
  ],
  [
    'PassRole on the path to another service than EKS Pod Identity',
    {
      action: 'iam:PassRole',
      resource: tetherRole,
      context: { ...managed, 'iam:PassedToService': 'ec2.amazonaws.com' },
    },
  ],
  [
    'PassRole of a role outside the path to EKS Pod Identity',
    {
      action: 'iam:PassRole',
      resource: `arn:aws:iam::${TARGET}:role/admin`,
      context: { 'iam:PassedToService': 'pods.eks.amazonaws.com' },
    },
  ],
  [
    'deleting a Pod Identity association Tether did not make',
    {
      action: 'eks:DeletePodIdentityAssociation',
      resource: `arn:aws:eks:${REGION}:${TARGET}:podidentityassociation/cluster-b/a-1`,
    },
  ],
  [
    'an untagged Pod Identity association',
    {
      action: 'eks:CreatePodIdentityAssociation',
      resource: `arn:aws:eks:${REGION}:${TARGET}:cluster/cluster-b`,
    },
  ],
  [
    'associating AmazonEKSClusterAdminPolicy (not allowed by the configuration)',
    {
      action: 'eks:AssociateAccessPolicy',
      resource: tetherEntry,
      context: {
        'eks:principalArn': tetherRole,
        'aws:ResourceTag/tether:managed': 'true',
        'eks:policyArn': 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
      },
    },
  ],
  [
    'an access entry for a principal outside Tether’s path',
    {
      action: 'eks:CreateAccessEntry',
      resource: `arn:aws:eks:${REGION}:${TARGET}:cluster/cluster-b`,
      context: {
        ...tags,
        'eks:principalArn': `arn:aws:iam::${TARGET}:role/admin`,
        'eks:accessEntryType': 'STANDARD',
      },
    },
  ],
  [
    'deleting an access entry Tether did not make',
    { action: 'eks:DeleteAccessEntry', resource: tetherEntry, context: { 'eks:principalArn': tetherRole } },
  ],
  [
    'an ingress rule created untagged',
    {
      action: 'ec2:AuthorizeSecurityGroupIngress',
      resource: `arn:aws:ec2:${REGION}:${TARGET}:security-group-rule/sgr-1`,
    },
  ],
  [
    'changing an untagged rule',
    {
      action: 'ec2:ModifySecurityGroupRules',
      resource: `arn:aws:ec2:${REGION}:${TARGET}:security-group-rule/sgr-1`,
    },
  ],
  [
    'ingress on a security group that is not an EKS cluster’s',
    {
      action: 'ec2:AuthorizeSecurityGroupIngress',
      resource: `arn:aws:ec2:${REGION}:${TARGET}:security-group/sg-1`,
    },
  ],
  [
    'revoking on a security group that is not an EKS cluster’s',
    {
      action: 'ec2:RevokeSecurityGroupIngress',
      resource: `arn:aws:ec2:${REGION}:${TARGET}:security-group/sg-1`,
    },
  ],
  [
    'tagging a rule outside its creation',
    {
      action: 'ec2:CreateTags',
      resource: `arn:aws:ec2:${REGION}:${TARGET}:security-group-rule/sgr-1`,
      context: tags,
    },
  ],
  [
    'a prefix list (no mode makes one yet)',
    {
      action: 'ec2:CreateManagedPrefixList',
      resource: `arn:aws:ec2:${REGION}:${TARGET}:prefix-list/*`,
      context: tags,
    },
  ],
  ['anything in S3', { action: 's3:PutObject', resource: 'arn:aws:s3:::bucket/key' }],
];

beforeAll(async () => {
  // The member template, as the StackSet deploys it.
  memberCallers = analyseFunctions().memberCallers;
  const app = newApp();
  const stack = new MemberStack(app, 'TetherMember', { config, memberCallers });
  template = app.synth().getStackByName(stack.stackName).template;

  // Record every call the agent role makes, with the state it sees.
  h = await startHarness();
  h.rt.sandbox.beforeCall = (call, state) => {
    if (!/:role\/tether\/tether-agent$/.test(call.principalArn)) return;
    if (call.service === 'kubernetes' || call.service === 'sts') return; // not IAM-authorized actions
    operations.add(`${call.service}:${call.operation}`);
    try {
      recorded.push(...authorizationsOf(call, state));
    } catch (err) {
      unmodelled.push((err as Error).message);
    }
  };
  const root = (account: string) => h.rt.sandbox.rootCredentials(account);
  const sourceEc2 = new EC2Client({ region: REGION, credentials: root(SOURCE) });
  sourceEc2.middlewareStack.use(sandboxPlugin(h.rt.sandbox, 'ec2', sourceEc2.config as never));
  const targetIam = new IAMClient({ region: 'us-east-1', credentials: root(TARGET) });
  targetIam.middlewareStack.use(sandboxPlugin(h.rt.sandbox, 'iam', targetIam.config as never));

  // 1. Onboard (NAT IPs, an access policy on an API_AND_CONFIG_MAP cluster).
  const [demo] = await settled(demoRequest());
  expect(demo.status).toBe('ACTIVE');
  // 2. A NAT gateway goes away, and someone strips the boundary off the target role: reconcile.
  const gateways = (await sourceEc2.send(new DescribeNatGatewaysCommand({}))).NatGateways ?? [];
  await sourceEc2.send(new DeleteNatGatewayCommand({ NatGatewayId: gateways[0]?.NatGatewayId }));
  const targetRoleName = String(demo.outputs.targetRoleArn).split('/').at(-1);
  await targetIam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: targetRoleName }));
  // The DeleteNatGateway event reconciles the link first (the local bus), then the API does.
  await h.rt.eventBus.idle();
  await h.settle(demo.id);
  expect((await h.api('POST', `/links/${demo.id}/reconcile`)).status).toBe(202);
  expect((await h.settle(demo.id)).status).toBe('ACTIVE');
  // 3. The same workload to an aws-auth cluster (groups) and an API cluster (namespace scope),
  // from private CIDRs (rules on the cluster security groups).
  const more = await settled(
    demoRequest({
      network: { mode: 'cidrs', cidrs: ['10.60.0.0/24'] },
      targets: [
        {
          accountId: '333333333333',
          region: 'eu-west-1',
          cluster: 'cluster-c',
          access: { groups: ['viewers'] },
        },
        {
          accountId: '333333333333',
          region: 'eu-west-1',
          cluster: 'cluster-d',
          access: {
            policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
            scope: { type: 'namespace', namespaces: ['apps'] },
          },
        },
      ],
    }),
  );
  expect(more.map((l) => l.status)).toEqual(['ACTIVE', 'ACTIVE']);
  // 3b. Direct access (the entry names the workload role), and mode principal (an existing
  // role of the source account, read and never written).
  const [direct] = await settled(
    demoRequest({
      source: { ...demoRequest().source, namespace: 'direct', serviceAccount: 'direct' },
      identity: { mode: 'irsa', directAccess: true },
    }),
  );
  expect(direct.status).toBe('ACTIVE');
  const sourceIam = new IAMClient({ region: 'us-east-1', credentials: root(SOURCE) });
  sourceIam.middlewareStack.use(sandboxPlugin(h.rt.sandbox, 'iam', sourceIam.config as never));
  await sourceIam.send(
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
  const [principal] = await settled(
    demoRequest({
      source: { ...demoRequest().source, namespace: 'capi', serviceAccount: 'capa' },
      identity: { mode: 'principal', principalArn: `arn:aws:iam::${SOURCE}:role/kiam/kiam-server` },
      network: { mode: 'none' },
    }),
  );
  expect(principal.status).toBe('ACTIVE');
  // 3c. AWS permissions in the target account: a configured managed policy on the target role.
  const withPolicies = demoRequest({
    source: { ...demoRequest().source, namespace: 'ec2', serviceAccount: 'reader' },
  });
  const [awsPolicies] = await settled({
    ...withPolicies,
    targets: withPolicies.targets.map((t: object) => ({
      ...t,
      awsPolicies: ['arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess'],
    })),
  });
  expect(awsPolicies.status).toBe('ACTIVE');
  // 3d. A private CIDR someone's prefix list already lets in on cluster-b's security group
  // (brownfield): the plan weighs the list, the egress step and verify read its entries.
  const targetEc2 = new EC2Client({ region: REGION, credentials: root(TARGET) });
  targetEc2.middlewareStack.use(sandboxPlugin(h.rt.sandbox, 'ec2', targetEc2.config as never));
  const { PrefixList } = await targetEc2.send(
    new CreateManagedPrefixListCommand({
      PrefixListName: 'corporate',
      AddressFamily: 'IPv4',
      MaxEntries: 4,
      Entries: [{ Cidr: '10.70.0.0/16' }],
    }),
  );
  await targetEc2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId:
        h.rt.sandbox.state().accounts[TARGET]!.regions[REGION]!.eks.clusters['cluster-b']!
          .clusterSecurityGroupId,
      IpPermissions: [
        {
          IpProtocol: 'tcp',
          FromPort: 443,
          ToPort: 443,
          PrefixListIds: [{ PrefixListId: PrefixList?.PrefixListId }],
        },
      ],
    }),
  );
  const [listed] = await settled(
    demoRequest({
      source: { ...demoRequest().source, namespace: 'listed', serviceAccount: 'listed' },
      network: { mode: 'cidrs', cidrs: ['10.70.1.0/24'] },
    }),
  );
  expect(listed.status).toBe('ACTIVE');
  expect(Object.keys(listed.outputs.egress.adopted ?? {})).toEqual(['10.70.1.0/24']);
  // 3e. Mode roles-anywhere: the cluster's trust anchor, the workload's profile and role.
  const [rolesAnywhere] = await settled(
    demoRequest({
      source: { ...demoRequest().source, namespace: 'ra', serviceAccount: 'ra' },
      identity: { mode: 'roles-anywhere' },
      network: { mode: 'none' },
    }),
  );
  expect(rolesAnywhere.status).toBe('ACTIVE');
  // 3f. Mode pod-identity: a Pod Identity association naming the workload role and the target role.
  const [podIdentity] = await settled(
    demoRequest({
      source: { ...demoRequest().source, namespace: 'pods', serviceAccount: 'pod-identity' },
      identity: { mode: 'pod-identity' },
    }),
  );
  expect(podIdentity.status).toBe('ACTIVE');
  more.push(direct, principal, awsPolicies, listed, rolesAnywhere, podIdentity);
  // 4. A link that fails at its access entry and is compensated.
  h.rt.sandbox.injectFault({
    service: 'eks',
    operation: 'CreateAccessEntry',
    code: 'InvalidRequestException',
  });
  const [failed] = await settled(
    demoRequest({ source: { ...demoRequest().source, namespace: 'other', serviceAccount: 'other' } }),
  );
  expect(failed.status).toBe('FAILED');
  // 5. Offboard everything.
  for (const link of [demo, ...more, failed]) {
    expect((await h.api('DELETE', `/links/${link.id}`)).status).toBe(202);
    expect((await h.settle(link.id)).status).toBe('DELETED');
  }
}, 300_000);

afterAll(async () => {
  await h?.close();
  // For a cross-check with another evaluator: the policies, the recorded authorizations and the dangerous ones.
  const out = process.env.TETHER_AUTHORIZATIONS_OUT;
  if (out) {
    const accounts = [...new Set(recorded.map((r) => r.resource.split(':')[4] || TARGET)), TARGET];
    writeFileSync(
      out,
      JSON.stringify({
        policies: Object.fromEntries(accounts.map((a) => [a, policiesIn(a)])),
        recorded,
        dangerous,
      }),
    );
  }
});

describe('the agent role (member template), judged by an independent evaluator', () => {
  it('has a model for every call the workflows make', () => {
    expect(unmodelled).toEqual([]);
    // The recording reached every kind of change Tether makes.
    expect([...operations].sort()).toEqual(
      expect.arrayContaining([
        'ec2:AuthorizeSecurityGroupIngress',
        'ec2:RevokeSecurityGroupIngress',
        'eks:AssociateAccessPolicy',
        'eks:UpdateClusterConfig',
        'eks:DescribeUpdate',
        'eks:CreateAccessEntry',
        'eks:DeleteAccessEntry',
        'iam:AttachRolePolicy',
        'iam:CreateOpenIDConnectProvider',
        'iam:CreateRole',
        'iam:DeleteOpenIDConnectProvider',
        'iam:DeleteRole',
        'iam:PutRolePermissionsBoundary',
        'iam:PutRolePolicy',
      ]),
    );
  });

  it('recorded the read-only reads of a principal link’s source role, and no write to it', () => {
    const onPrincipal = recorded.filter((r) => r.resource.endsWith(':role/kiam/kiam-server'));
    expect(onPrincipal.map((r) => r.action).sort()).toEqual(
      expect.arrayContaining(['iam:GetRole', 'iam:ListAttachedRolePolicies', 'iam:ListRolePolicies']),
    );
    expect(onPrincipal.filter((r) => !/^iam:(Get|List)/.test(r.action))).toEqual([]);
  });

  it('allows every call the workflows make in a member account', () => {
    const seen = new Set<string>();
    const denied: string[] = [];
    for (const r of recorded) {
      const key = JSON.stringify([r.action, r.resource, r.context]);
      if (seen.has(key)) continue;
      seen.add(key);
      const account = r.resource.split(':')[4] || TARGET;
      const result = evaluate(policiesIn(account), r);
      if (result.decision !== 'Allow')
        denied.push(
          `${result.decision}: ${r.call} → ${r.action} on ${r.resource} ${JSON.stringify(r.context)}`,
        );
    }
    expect(seen.size).toBeGreaterThan(20);
    expect(denied).toEqual([]);
  });

  it('grants nothing the workflows do not use: every Allow statement is needed by a recorded call', () => {
    const used = new Set<string | undefined>();
    for (const r of recorded) {
      for (const sid of evaluate(policiesIn(r.resource.split(':')[4] || TARGET), r).statements) used.add(sid);
    }
    const allows = policiesIn(TARGET)
      .flatMap((p) => (Array.isArray(p.Statement) ? p.Statement : [p.Statement]))
      .filter((st) => st.Effect === 'Allow')
      .map((st) => st.Sid);
    expect(allows.filter((sid) => !used.has(sid))).toEqual([]);
  });

  it('makes every role with the permissions boundary and the ownership tags', () => {
    const creates = recorded.filter((r) => r.action === 'iam:CreateRole');
    expect(creates.length).toBeGreaterThan(0);
    for (const r of creates) {
      const account = r.resource.split(':')[4];
      expect(r.context?.['iam:PermissionsBoundary']).toBe(
        `arn:aws:iam::${account}:policy/tether/${config.permissionsBoundaryName}`,
      );
      expect(r.context?.['aws:RequestTag/tether:managed']).toBe('true');
    }
  });

  it.each(dangerous)('denies %s', (_what, request) => {
    expect(decisionOf(request)).not.toBe('Allow');
  });

  it('allows the cluster security group, as the recorded calls use it', () => {
    expect(
      decisionOf({
        action: 'ec2:RevokeSecurityGroupIngress',
        resource: `arn:aws:ec2:${REGION}:${TARGET}:security-group/sg-1`,
        context: clusterSg,
      }),
    ).toBe('Allow');
  });

  it('caps every role Tether makes with the boundary: assume Tether roles, describe clusters, nothing else', () => {
    const cap = [
      managedPolicy(template, config.permissionsBoundaryName, { account: TARGET, region: REGION }),
    ];
    const allowed = (action: string, resource: string) => evaluate(cap, { action, resource }).decision;
    expect(allowed('sts:AssumeRole', `arn:aws:iam::${SOURCE}:role/tether/tether-t-x`)).toBe('Allow');
    expect(allowed('eks:DescribeCluster', `arn:aws:eks:${REGION}:${TARGET}:cluster/cluster-b`)).toBe('Allow');
    expect(allowed('sts:AssumeRole', `arn:aws:iam::${SOURCE}:role/admin`)).toBe('ImplicitDeny');
    expect(allowed('iam:CreateRole', tetherRole)).toBe('ImplicitDeny');
    expect(allowed('eks:CreateAccessEntry', `arn:aws:eks:${REGION}:${TARGET}:cluster/cluster-b`)).toBe(
      'ImplicitDeny',
    );
  });
});

describe('the agent role trust', () => {
  const trust = () => trustPolicy(template, config.agentRoleName, { account: TARGET, region: REGION });
  const asHub = (name: string, context: Record<string, string> = { 'aws:PrincipalOrgID': ORG }) => ({
    resource: `arn:aws:iam::${TARGET}:role/tether/tether-agent`,
    principal: { arn: hubRoleArn(config, name), account: config.hub.account },
    context: { 'aws:PrincipalArn': hubRoleArn(config, name), ...context },
  });

  it('admits each hub function that calls member accounts, with source identity and session tags', () => {
    expect(memberCallers).toEqual(expect.arrayContaining(['api', 'ensure-target-role', 'verify-role-chain']));
    for (const name of memberCallers) {
      for (const action of ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession']) {
        expect(
          evaluateResourcePolicy(trust(), { action, ...asHub(name) }).decision,
          `${name} ${action}`,
        ).toBe('Allow');
      }
    }
  });

  it('refuses a hub function that calls no member account', () => {
    expect(memberCallers).not.toContain('mark-link-active');
    expect(
      evaluateResourcePolicy(trust(), { action: 'sts:AssumeRole', ...asHub('mark-link-active') }).decision,
    ).toBe('ImplicitDeny');
  });

  it('refuses the right role name from outside the organization', () => {
    const outside = asHub('api', { 'aws:PrincipalOrgID': 'o-someoneelse' });
    expect(evaluateResourcePolicy(trust(), { action: 'sts:AssumeRole', ...outside }).decision).toBe(
      'ImplicitDeny',
    );
  });

  it('refuses the same role name in another account', () => {
    const arn = `arn:aws:iam::999999999999:role/tether-hub/tether-api`;
    expect(
      evaluateResourcePolicy(trust(), {
        action: 'sts:AssumeRole',
        resource: `arn:aws:iam::${TARGET}:role/tether/tether-agent`,
        principal: { arn, account: '999999999999' },
        context: { 'aws:PrincipalArn': arn, 'aws:PrincipalOrgID': ORG },
      }).decision,
    ).toBe('ImplicitDeny');
  });
});
