/**
 * cdk-nag's AwsSolutions findings that stay, each acknowledged on the one resource it is
 * about, with the reason it is right there. Nothing is acknowledged stack-wide.
 * `test/infra/stacks.test.ts` synthesizes with the checks on: a new finding fails it.
 */
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { type HubStack, OIDC_PUBLISHERS } from './hub-stack';
import type { MemberStack } from './member-stack';

const ack = (scope: IConstruct, id: string, reason: string) =>
  Validations.of(scope).acknowledge({ id, reason });

/** `<LogicalId.Arn>`, as cdk-nag names a `Fn::GetAtt` in a finding. */
function arnToken(scope: IConstruct): string {
  const element = scope.node.defaultChild as CfnElement;
  return `<${Stack.of(scope).getLogicalId(element)}.Arn>`;
}

export function acknowledgeHubFindings(hub: HubStack): void {
  const tableIndexes = `AwsSolutions-IAM5[Resource::${arnToken(hub.table)}/index/*]`;
  for (const [name, fn] of hub.functions) {
    ack(
      fn,
      'AwsSolutions-L1',
      'Node.js 22 is the house runtime (STYLE.md habit 8) and the one the bundles target; a newer runtime is a deliberate change with its own test run',
    );
    const role = fn.role;
    if (!role) continue;
    ack(
      role,
      tableIndexes,
      "Queries use the table's own indexes (byCreated): `index/*` of this one table only",
    );
    ack(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions (tracing is on)',
    );
    ack(
      role,
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/tether/tether-agent]',
      `${name}: the agent role of any member account (the account is the link's, known at run time); only that role name and path, and with an organization only inside it (aws:ResourceOrgID)`,
    );
    if (name === 'api') {
      for (const workflow of ['onboard', 'offboard', 'reconcile']) {
        ack(
          role,
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:tether-${workflow}:*]`,
          `GET /links/{id}/runs describes the executions of tether-${workflow}, whose names are made per request`,
        );
      }
    }
  }
  for (const name of OIDC_PUBLISHERS) {
    const role = hub.functions.get(name)?.role;
    if (!role) continue;
    for (const key of ['.well-known/openid-configuration', 'keys.json']) {
      ack(
        role,
        `AwsSolutions-IAM5[Resource::${arnToken(hub.oidcBucket)}/*/${key}]`,
        "A self-managed cluster's discovery documents live under its issuer's path (<account>/<region>/<cluster>), known at run time: only the two discovery keys",
      );
    }
  }
  ack(
    hub.oidcBucket,
    'AwsSolutions-S2',
    'The OIDC discovery documents must be publicly readable (IAM fetches them anonymously); the bucket policy admits s3:GetObject on the discovery keys only, ACLs stay blocked, TLS only',
  );
  ack(
    hub.failedExecutions,
    'AwsSolutions-SQS3',
    'This queue is itself the dead-letter destination of failed workflow executions (nothing is redriven from it automatically)',
  );
  for (const sm of hub.stateMachines.values()) {
    ack(
      sm.role,
      'AwsSolutions-IAM5[Resource::*]',
      'Step Functions log delivery (logs:*LogDelivery, DescribeResourcePolicies, …) and X-Ray support no resource-level permissions',
    );
    for (const fn of hub.functions.values()) {
      ack(
        sm.role,
        `AwsSolutions-IAM5[Resource::${arnToken(fn)}:*]`,
        'Step Functions invokes the functions of its Task states; `:*` is their versions and aliases, as CDK grants it',
      );
    }
  }
}

export function acknowledgeMemberFindings(member: MemberStack): void {
  const boundary = member.node.findChild('PermissionsBoundary');
  ack(
    boundary,
    'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/tether/*]',
    "The boundary caps every role Tether makes: a workload role assumes its links' target roles in other accounts, all under /tether/ (each target trust names the workload role exactly)",
  );
  ack(
    boundary,
    'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:eks:*:*:cluster/*]',
    'A target role describes its own cluster (its own policy names it); the boundary is the ceiling over every target role',
  );
  // The operator's configured target-account permissions (links' awsPolicies): the boundary
  // lets through exactly the configured actions, on any resource of the target account.
  const targetActions = member.config.targetRoleActions;
  if (targetActions.length) {
    const why =
      'The operator configured these actions (targetRoleActions) as the most the AWS policies links may ask for can do in a target account; the config refuses service-wide * and IAM, STS, Organizations and SSO actions';
    ack(boundary, 'AwsSolutions-IAM5[Resource::*]', why);
    for (const action of targetActions.filter((a) => a.includes('*'))) {
      ack(boundary, `AwsSolutions-IAM5[Action::${action}]`, why);
    }
  }
  const agent = member.agentRole;
  const reasons: Record<string, string> = {
    'arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*':
      "Identity mode principal: the source is an existing role of the account, named at run time; its policies are only read (Get/List), to say whether it may assume the link's target role",
    '*': 'EC2 DescribeNatGateways, DescribeSecurityGroupRules and DescribeManagedPrefixLists, IAM ListRoles (read before an OIDC provider is deleted, to keep one another role trusts, and counted by the plan), IAM ListOpenIDConnectProviders (counted by the plan) and Roles Anywhere ListTrustAnchors and ListProfiles support no resource-level permissions, and Service Quotas GetServiceQuota/ListServiceQuotas read quota values, not resources of the account; the Deny guards apply to every resource on purpose',
    'arn:<AWS::Partition>:rolesanywhere:*:<AWS::AccountId>:trust-anchor/*':
      'Identity mode roles-anywhere: a trust anchor id is assigned at creation, so no ARN is known before; creation requires the tether:managed request tag, deletion the tether:managed resource tag',
    'arn:<AWS::Partition>:rolesanywhere:*:<AWS::AccountId>:profile/*':
      'Identity mode roles-anywhere: a profile id is assigned at creation, so no ARN is known before; creation requires the tether:managed request tag, deletion the tether:managed resource tag',
    'arn:<AWS::Partition>:iam::<AWS::AccountId>:role/tether-*':
      'GetRole on a role that does not exist yet is authorized on its path-less ARN (role/tether-…): reads only',
    'arn:<AWS::Partition>:iam::<AWS::AccountId>:role/tether/*':
      'Roles Tether makes are named per link at run time, all under /tether/; writes also need the tether:managed tag and the boundary (conditions), and the agent role itself is denied; iam:PassRole of them only to pods.eks.amazonaws.com (iam:PassedToService)',
    'arn:<AWS::Partition>:iam::<AWS::AccountId>:oidc-provider/*':
      "The source cluster's issuer is known at run time; changes need the tether:managed tag, creation must tag",
    'arn:<AWS::Partition>:eks:*:<AWS::AccountId>:cluster/*':
      'Target clusters are named per link at run time; access entries only for principals under /tether/ (eks:principalArn); UpdateClusterConfig/DescribeUpdate for the publicAccessCidrs of a restricted public endpoint (no IAM condition key narrows UpdateClusterConfig to it; Tether only merges CIDRs)',
    'arn:<AWS::Partition>:eks:*:<AWS::AccountId>:access-entry/*':
      'Access entries of Tether principals only (eks:principalArn), changed only when tagged tether:managed, and only the allowed access policies (eks:policyArn)',
    'arn:<AWS::Partition>:eks:*:<AWS::AccountId>:podidentityassociation/*':
      "Mode pod-identity: a workload's association is found at run time (one per service account, whoever made it, read to refuse a conflict); created only with the tether:managed tag, changed or deleted only when tagged tether:managed",
    'arn:<AWS::Partition>:ec2:*:*:prefix-list/*':
      'GetManagedPrefixListEntries only (a read): the entries of a prefix list a rule on the cluster security group references, which may be AWS-managed or shared from another account, so named at run time',
    'arn:<AWS::Partition>:ec2:*:<AWS::AccountId>:security-group/*':
      'Only EKS cluster security groups (the aws:eks:cluster-name tag EKS puts on them)',
    'arn:<AWS::Partition>:ec2:*:<AWS::AccountId>:security-group-rule/*':
      'A new ingress rule must be created tagged tether:managed (aws:RequestTag, ec2:CreateAction)',
  };
  for (const [resource, reason] of Object.entries(reasons)) {
    ack(agent, `AwsSolutions-IAM5[Resource::${resource}]`, reason);
  }
}
