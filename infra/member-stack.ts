/**
 * The member-account stack (docs/deployment.md#the-member-account-stack), deployed to every
 * member account by a service-managed StackSet, and to the hub account as a plain stack (the
 * hub's functions never act on member resources with their own credentials, in the hub
 * account neither):
 *
 * - the **agent role** `/tether/tether-agent`, assumable only by the hub's function roles
 *   that call member accounts (exact ARNs, `aws:PrincipalArn`) and only from inside the
 *   organization (`aws:PrincipalOrgID`), with `sts:SetSourceIdentity` and `sts:TagSession`;
 *   its policy ({@link agentPolicyStatements}) allows what Tether makes and nothing else;
 * - the **permissions boundary** every role Tether makes must carry;
 * - the **forwarding rule**: NAT gateway and EIP changes (CloudTrail, `events/registry.ts`)
 *   to the hub bus, with its role.
 *
 * IAM is global and the rule is regional: a StackSet instance in each member region makes
 * the rule, and only the instance in the hub's region makes the roles and the boundary.
 */
import { Aws, CfnCondition, CfnOutput, type CfnResource, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import { CfnRule } from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { EVENTS } from '#events/registry';
import { accessPolicyArn, type TetherConfig } from './config';
import { FORWARDER_ROLE_NAME, hubBusArn, hubRoleArn, INFRA_ROLE_PATH } from './names';

export interface MemberStackProps extends StackProps {
  readonly config: TetherConfig;
  /** Registry names of the hub functions that call into member accounts (`analyseBundles`). */
  readonly memberCallers: readonly string[];
}

const REQUEST_TAG_MANAGED = 'aws:RequestTag/tether:managed';
/**
 * The tag keys Tether writes: ownership, the workload a target role serves (the workload role's
 * constant policy requires it) and the role id an access entry was made for.
 */
const TETHER_TAG_KEYS = ['tether:managed', 'tether:owner', 'tether:workload', 'tether:role-id'];

/** What the agent role's policy is built from. */
export interface AgentPolicyContext {
  readonly config: TetherConfig;
  /** The partition and account, as tokens (`Aws.PARTITION`, `Aws.ACCOUNT_ID`) or values. */
  readonly partition: string;
  readonly account: string;
}

/** The ARN of the permissions boundary in an account. */
export function boundaryArn(c: AgentPolicyContext): string {
  return `arn:${c.partition}:iam::${c.account}:policy${c.config.rolePath}${c.config.permissionsBoundaryName}`;
}

/**
 * The agent role's policy, statement by statement. Each `Sid` says what it is for; the
 * least-privilege test (`test/infra/least-privilege.test.ts`) evaluates the synthesized
 * statements against every call the workflows make and a list of dangerous calls.
 */
export function agentPolicyStatements(c: AgentPolicyContext): iam.PolicyStatement[] {
  const { partition: p, account: a, config } = c;
  const path = config.rolePath;
  const tetherRoles = `arn:${p}:iam::${a}:role${path}*`;
  const boundary = boundaryArn(c);
  const tetherPrincipals = `arn:${p}:iam::*:role${path}*`;
  const managed = { 'aws:ResourceTag/tether:managed': 'true' };
  const s = (props: iam.PolicyStatementProps) => new iam.PolicyStatement(props);
  return [
    // ---- IAM: roles under Tether's path, tagged as Tether's, with the boundary ----------
    s({
      // Before the issuer's last link deletes Tether's OIDC provider, every role's trust is
      // read: a provider some other role still trusts is kept. ListRoles has no resource type.
      sid: 'ListRolesToKeepTrustedProviders',
      actions: ['iam:ListRoles'],
      resources: ['*'],
    }),
    s({
      // The plan counts the account's OIDC providers against the quota (100) before a link
      // makes one. ListOpenIDConnectProviders has no resource type.
      sid: 'CountOidcProvidersForThePlan',
      actions: ['iam:ListOpenIDConnectProviders'],
      resources: ['*'],
    }),
    s({
      // The plan and the egress allowance judge against the quotas applied to the account
      // (roles, OIDC providers, trust policy length, rules per security group), not AWS's
      // defaults (docs/aws-facts.md#service-quotas). A read; `*`: the quotas are AWS's, not
      // the account's resources.
      sid: 'ReadAppliedServiceQuotas',
      actions: ['servicequotas:GetServiceQuota', 'servicequotas:ListServiceQuotas'],
      resources: ['*'],
    }),
    s({
      sid: 'ReadTetherRoles',
      actions: ['iam:GetRole', 'iam:GetRolePolicy', 'iam:ListRolePolicies', 'iam:ListAttachedRolePolicies'],
      // A role that does not exist yet is named without its path: `role/tether-…`.
      resources: [tetherRoles, `arn:${p}:iam::${a}:role/tether-*`],
    }),
    s({
      // Identity mode `principal`: the source is an existing role Tether does not own. Its
      // policies are read (never written) to say whether it allows assuming the target role.
      sid: 'ReadSourcePrincipalPolicies',
      actions: ['iam:GetRole', 'iam:GetRolePolicy', 'iam:ListRolePolicies', 'iam:ListAttachedRolePolicies'],
      resources: [`arn:${p}:iam::${a}:role/*`],
    }),
    s({
      sid: 'CreateTetherRolesWithBoundaryAndTags',
      actions: ['iam:CreateRole'],
      resources: [tetherRoles],
      conditions: {
        StringEquals: { [REQUEST_TAG_MANAGED]: 'true', 'iam:PermissionsBoundary': boundary },
        'ForAllValues:StringEquals': { 'aws:TagKeys': TETHER_TAG_KEYS },
      },
    }),
    s({
      sid: 'TagTetherRolesOnCreate',
      actions: ['iam:TagRole'],
      resources: [tetherRoles],
      conditions: {
        StringEquals: { [REQUEST_TAG_MANAGED]: 'true' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': TETHER_TAG_KEYS },
      },
    }),
    s({
      sid: 'ChangeTetherRoles',
      actions: [
        'iam:UpdateAssumeRolePolicy',
        'iam:PutRolePolicy',
        'iam:DeleteRolePolicy',
        'iam:DetachRolePolicy',
        'iam:DeleteRole',
      ],
      resources: [tetherRoles],
      conditions: { StringEquals: { 'iam:ResourceTag/tether:managed': 'true' } },
    }),
    // AWS permissions in target accounts: only the configured policies, on Tether's roles.
    ...(config.targetRolePolicies.length
      ? [
          s({
            sid: 'AttachConfiguredPoliciesToTetherRoles',
            actions: ['iam:AttachRolePolicy'],
            resources: [tetherRoles],
            conditions: {
              StringEquals: { 'iam:ResourceTag/tether:managed': 'true' },
              ArnLike: {
                'iam:PolicyARN': config.targetRolePolicies.map((arn) =>
                  arn.replace(/^arn:aws:/, `arn:${p}:`),
                ),
              },
            },
          }),
        ]
      : []),
    s({
      sid: 'PutBoundaryOnTetherRoles',
      actions: ['iam:PutRolePermissionsBoundary'],
      resources: [tetherRoles],
      conditions: {
        StringEquals: { 'iam:ResourceTag/tether:managed': 'true', 'iam:PermissionsBoundary': boundary },
      },
    }),
    // ---- IAM: OIDC providers (a provider Tether did not make is read, never changed) ----
    s({
      sid: 'ReadOidcProviders',
      actions: ['iam:GetOpenIDConnectProvider'],
      resources: [`arn:${p}:iam::${a}:oidc-provider/*`],
    }),
    s({
      sid: 'CreateTaggedOidcProviders',
      actions: ['iam:CreateOpenIDConnectProvider', 'iam:TagOpenIDConnectProvider'],
      resources: [`arn:${p}:iam::${a}:oidc-provider/*`],
      conditions: {
        StringEquals: { [REQUEST_TAG_MANAGED]: 'true' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': TETHER_TAG_KEYS },
      },
    }),
    s({
      sid: 'ChangeTetherOidcProviders',
      actions: ['iam:AddClientIDToOpenIDConnectProvider', 'iam:DeleteOpenIDConnectProvider'],
      resources: [`arn:${p}:iam::${a}:oidc-provider/*`],
      conditions: { StringEquals: managed },
    }),
    // ---- IAM Roles Anywhere (mode roles-anywhere): anchors and profiles, Tether's only ---
    s({
      sid: 'ListRolesAnywhere',
      actions: ['rolesanywhere:ListTrustAnchors', 'rolesanywhere:ListProfiles'],
      resources: ['*'],
    }),
    s({
      sid: 'ReadRolesAnywhereTags',
      actions: ['rolesanywhere:ListTagsForResource'],
      resources: [`arn:${p}:rolesanywhere:*:${a}:trust-anchor/*`, `arn:${p}:rolesanywhere:*:${a}:profile/*`],
    }),
    s({
      sid: 'CreateTaggedRolesAnywhere',
      actions: [
        'rolesanywhere:CreateTrustAnchor',
        'rolesanywhere:CreateProfile',
        'rolesanywhere:TagResource',
      ],
      resources: [`arn:${p}:rolesanywhere:*:${a}:trust-anchor/*`, `arn:${p}:rolesanywhere:*:${a}:profile/*`],
      conditions: {
        StringEquals: { [REQUEST_TAG_MANAGED]: 'true' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': TETHER_TAG_KEYS },
      },
    }),
    s({
      sid: 'DeleteTetherRolesAnywhere',
      actions: ['rolesanywhere:DeleteTrustAnchor', 'rolesanywhere:DeleteProfile'],
      resources: [`arn:${p}:rolesanywhere:*:${a}:trust-anchor/*`, `arn:${p}:rolesanywhere:*:${a}:profile/*`],
      conditions: { StringEquals: managed },
    }),
    // ---- EKS: clusters read; access entries only for Tether's principals --------------
    s({
      // The plan also counts a target cluster's access entries against the quota (3,000).
      sid: 'DescribeClusters',
      actions: ['eks:DescribeCluster', 'eks:DescribeUpdate', 'eks:ListAccessEntries'],
      resources: [`arn:${p}:eks:*:${a}:cluster/*`],
    }),
    // The allowance where it takes effect: a restricted public endpoint's publicAccessCidrs.
    // IAM has no condition key that narrows UpdateClusterConfig to publicAccessCidrs (it also
    // changes logging and the authentication mode); Tether's code merges only, and the agent
    // role is the boundary: a member account that refuses this keeps its endpoints to itself
    // and gets AGENT_NOT_AUTHORIZED on links that would need it.
    s({
      sid: 'UpdateClusterEndpointCidrs',
      actions: ['eks:UpdateClusterConfig'],
      resources: [`arn:${p}:eks:*:${a}:cluster/*`],
    }),
    s({
      sid: 'CreateAccessEntriesForTetherRoles',
      actions: ['eks:CreateAccessEntry'],
      resources: [`arn:${p}:eks:*:${a}:cluster/*`],
      conditions: {
        ArnLike: { 'eks:principalArn': tetherPrincipals },
        StringEquals: { [REQUEST_TAG_MANAGED]: 'true', 'eks:accessEntryType': 'STANDARD' },
      },
    }),
    s({
      sid: 'TagAccessEntriesOnCreate',
      actions: ['eks:TagResource'],
      resources: [`arn:${p}:eks:*:${a}:access-entry/*`],
      conditions: {
        StringEquals: { [REQUEST_TAG_MANAGED]: 'true' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': TETHER_TAG_KEYS },
      },
    }),
    s({
      sid: 'ReadAccessEntriesOfTetherRoles',
      actions: ['eks:DescribeAccessEntry', 'eks:ListAssociatedAccessPolicies'],
      resources: [`arn:${p}:eks:*:${a}:access-entry/*`],
      conditions: { ArnLike: { 'eks:principalArn': tetherPrincipals } },
    }),
    s({
      sid: 'ChangeTetherAccessEntries',
      actions: ['eks:UpdateAccessEntry', 'eks:DeleteAccessEntry', 'eks:DisassociateAccessPolicy'],
      resources: [`arn:${p}:eks:*:${a}:access-entry/*`],
      conditions: { ArnLike: { 'eks:principalArn': tetherPrincipals }, StringEquals: managed },
    }),
    s({
      sid: 'AssociateAllowedAccessPolicies',
      actions: ['eks:AssociateAccessPolicy'],
      resources: [`arn:${p}:eks:*:${a}:access-entry/*`],
      conditions: {
        ArnLike: { 'eks:principalArn': tetherPrincipals },
        StringEquals: {
          ...managed,
          'eks:policyArn': config.allowedAccessPolicies.map((n) => accessPolicyArn(n, p)),
        },
      },
    }),
    // ---- EKS Pod Identity (mode pod-identity): associations tagged as Tether's ----------
    s({
      // The plan and the ensure find the service account's one association, whoever made it.
      sid: 'ReadPodIdentityAssociations',
      actions: ['eks:ListPodIdentityAssociations'],
      resources: [`arn:${p}:eks:*:${a}:cluster/*`],
    }),
    s({
      sid: 'DescribePodIdentityAssociations',
      actions: ['eks:DescribePodIdentityAssociation'],
      resources: [`arn:${p}:eks:*:${a}:podidentityassociation/*`],
    }),
    s({
      sid: 'CreateTaggedPodIdentityAssociations',
      actions: ['eks:CreatePodIdentityAssociation'],
      resources: [`arn:${p}:eks:*:${a}:cluster/*`],
      conditions: {
        StringEquals: { [REQUEST_TAG_MANAGED]: 'true' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': TETHER_TAG_KEYS },
      },
    }),
    s({
      sid: 'TagPodIdentityAssociationsOnCreate',
      actions: ['eks:TagResource'],
      resources: [`arn:${p}:eks:*:${a}:podidentityassociation/*`],
      conditions: {
        StringEquals: { [REQUEST_TAG_MANAGED]: 'true' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': TETHER_TAG_KEYS },
      },
    }),
    s({
      sid: 'ChangeTetherPodIdentityAssociations',
      actions: ['eks:UpdatePodIdentityAssociation', 'eks:DeletePodIdentityAssociation'],
      resources: [`arn:${p}:eks:*:${a}:podidentityassociation/*`],
      conditions: { StringEquals: managed },
    }),
    s({
      // An association passes its role to EKS Pod Identity (EKS user guide, pod-id-assign-target-role:
      // the role must be in the cluster's account "due to IAM PassRole requirements"): only
      // Tether's roles, only to that service.
      sid: 'PassTetherRolesToPodIdentity',
      actions: ['iam:PassRole'],
      resources: [tetherRoles],
      conditions: { StringEquals: { 'iam:PassedToService': 'pods.eks.amazonaws.com' } },
    }),
    // ---- EC2: reads; ingress only on EKS cluster security groups, rules tagged --------
    s({
      sid: 'DescribeNetwork',
      // EC2 Describe* calls support no resource-level permissions.
      // DescribeManagedPrefixLists: a list a rule references counts as its MaxEntries.
      actions: [
        'ec2:DescribeNatGateways',
        'ec2:DescribeSecurityGroupRules',
        'ec2:DescribeManagedPrefixLists',
      ],
      resources: ['*'],
    }),
    s({
      // A rule someone else made with a prefix list lets in the CIDRs its entries cover: read,
      // never changed (the list may be AWS-managed or shared from another account).
      sid: 'ReadReferencedPrefixListEntries',
      actions: ['ec2:GetManagedPrefixListEntries'],
      resources: [`arn:${p}:ec2:*:*:prefix-list/*`],
    }),
    s({
      sid: 'IngressOnClusterSecurityGroups',
      actions: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress'],
      resources: [`arn:${p}:ec2:*:${a}:security-group/*`],
      // The cluster security group EKS makes carries `aws:eks:cluster-name`.
      conditions: { Null: { 'ec2:ResourceTag/aws:eks:cluster-name': 'false' } },
    }),
    s({
      sid: 'IngressRulesTaggedOnCreate',
      actions: ['ec2:AuthorizeSecurityGroupIngress'],
      resources: [`arn:${p}:ec2:*:${a}:security-group-rule/*`],
      conditions: {
        StringEquals: { [REQUEST_TAG_MANAGED]: 'true' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': TETHER_TAG_KEYS },
      },
    }),
    s({
      sid: 'TagIngressRulesOnCreate',
      actions: ['ec2:CreateTags'],
      resources: [`arn:${p}:ec2:*:${a}:security-group-rule/*`],
      conditions: {
        StringEquals: { 'ec2:CreateAction': 'AuthorizeSecurityGroupIngress', [REQUEST_TAG_MANAGED]: 'true' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': TETHER_TAG_KEYS },
      },
    }),
    // ---- Guards: explicit denies that no later allow can lift ------------------------
    s({
      sid: 'DenyRoleWithoutBoundary',
      effect: iam.Effect.DENY,
      actions: ['iam:CreateRole', 'iam:PutRolePermissionsBoundary'],
      resources: ['*'],
      conditions: { StringNotEquals: { 'iam:PermissionsBoundary': boundary } },
    }),
    s({
      sid: 'DenyBoundaryRemoval',
      effect: iam.Effect.DENY,
      actions: ['iam:DeleteRolePermissionsBoundary'],
      resources: ['*'],
    }),
    s({
      sid: 'DenyPassRoleOutsideTetherPath',
      effect: iam.Effect.DENY,
      actions: ['iam:PassRole'],
      notResources: [tetherRoles],
    }),
    s({
      sid: 'DenyChangesToTheDeployment',
      effect: iam.Effect.DENY,
      notActions: ['iam:Get*', 'iam:List*'],
      resources: [
        `arn:${p}:iam::${a}:role${path}${config.agentRoleName}`,
        boundary,
        `arn:${p}:iam::${a}:role${INFRA_ROLE_PATH}*`,
      ],
    }),
  ];
}

/** What a role Tether makes can ever do, whatever its own policies say. */
export function boundaryStatements(c: AgentPolicyContext): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'AssumeTetherRoles',
      // The workload role assumes the target roles of its links (in other accounts).
      actions: ['sts:AssumeRole'],
      resources: [`arn:${c.partition}:iam::*:role${c.config.rolePath}*`],
    }),
    new iam.PolicyStatement({
      sid: 'DescribeTargetClusters',
      // The target role reads its cluster, for `aws eks get-token` and the kubeconfig.
      actions: ['eks:DescribeCluster'],
      resources: [`arn:${c.partition}:eks:*:*:cluster/*`],
    }),
    // What the configured target-role policies may do at most (links' `awsPolicies`).
    ...(c.config.targetRoleActions.length
      ? [
          new iam.PolicyStatement({
            sid: 'ConfiguredTargetAccountPermissions',
            actions: [...c.config.targetRoleActions],
            resources: ['*'],
          }),
        ]
      : []),
  ];
}

export class MemberStack extends Stack {
  readonly agentRole: iam.Role;
  /** The configuration it was made from. */
  readonly config: TetherConfig;

  constructor(scope: Construct, id: string, props: MemberStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.config = config;
    const ctx: AgentPolicyContext = { config, partition: Aws.PARTITION, account: Aws.ACCOUNT_ID };

    // IAM is global: only the stack instance in the hub's region makes the roles.
    const iamRegion = new CfnCondition(this, 'IsIamRegion', {
      expression: Fn.conditionEquals(Aws.REGION, config.hub.region),
    });
    const onlyInIamRegion = (...resources: (CfnResource | undefined)[]) => {
      for (const r of resources) if (r) r.cfnOptions.condition = iamRegion;
    };

    const boundary = new iam.ManagedPolicy(this, 'PermissionsBoundary', {
      managedPolicyName: config.permissionsBoundaryName,
      path: config.rolePath,
      description: 'Tether: the most a role Tether makes can ever do (every such role must carry it)',
      statements: boundaryStatements(ctx),
    });

    const callers = props.memberCallers.map((name) => hubRoleArn(config, name, Aws.PARTITION));
    const trustConditions: Record<string, Record<string, unknown>> = {
      ArnEquals: { 'aws:PrincipalArn': callers },
    };
    if (config.organization) trustConditions.StringEquals = { 'aws:PrincipalOrgID': config.organization.id };
    const hub = new iam.AccountPrincipal(config.hub.account).withConditions(trustConditions);
    this.agentRole = new iam.Role(this, 'AgentRole', {
      roleName: config.agentRoleName,
      path: config.rolePath,
      description: "Tether's agent: what the hub may do in this account, only on what Tether makes",
      assumedBy: hub,
      inlinePolicies: {
        'tether-agent': new iam.PolicyDocument({ statements: agentPolicyStatements(ctx) }),
      },
    });
    this.agentRole.assumeRolePolicy?.addStatements(
      new iam.PolicyStatement({
        actions: ['sts:SetSourceIdentity', 'sts:TagSession'],
        principals: [new iam.AccountPrincipal(config.hub.account)],
        conditions: trustConditions,
      }),
    );

    // The forwarding rule: NAT gateway and EIP changes, to the hub bus.
    const busArn = hubBusArn(config, Aws.PARTITION);
    const forwarder = new iam.Role(this, 'ForwarderRole', {
      roleName: FORWARDER_ROLE_NAME,
      path: INFRA_ROLE_PATH,
      description: 'Tether: forwards NAT gateway changes to the hub bus',
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      }),
      inlinePolicies: {
        'put-hub-events': new iam.PolicyDocument({
          statements: [new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [busArn] })],
        }),
      },
    });
    onlyInIamRegion(
      boundary.node.defaultChild as CfnResource,
      this.agentRole.node.defaultChild as CfnResource,
      forwarder.node.defaultChild as CfnResource,
    );

    new CfnRule(this, 'ForwardNatGatewayChanges', {
      name: 'tether-forward-nat-gateway-changes',
      description: 'Tether: NAT gateway and EIP changes (CloudTrail) to the hub bus (events/registry.ts)',
      eventPattern: EVENTS.natGatewayChanged,
      state: 'ENABLED',
      targets: [
        {
          id: 'hub-bus',
          arn: busArn,
          // The role is made once per account (IAM is global), so it is named, not referenced.
          roleArn: `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role${INFRA_ROLE_PATH}${FORWARDER_ROLE_NAME}`,
        },
      ],
    });

    new CfnOutput(this, 'AgentRoleArn', {
      value: `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role${config.rolePath}${config.agentRoleName}`,
      description: 'The role the hub assumes in this account',
    });
  }
}
