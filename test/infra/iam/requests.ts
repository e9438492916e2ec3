/**
 * What IAM authorizes for one call the sandbox recorded: the action, the resource ARN and
 * the condition keys the sandbox can supply (request parameters and tags; the tags of the
 * resource as they were just before the call). A call can need several authorizations:
 * creating a tagged role is also `iam:TagRole`, an ingress rule is authorized on its group
 * and on the new rule, and tagging it on create is `ec2:CreateTags`.
 *
 * The resource types and condition keys follow AWS's Service Authorization Reference
 * (the copy cfn-lint ships, `data/AdditionalSpecs/Policies.json`, agrees on every resource
 * type used here). A call this file does not know fails the test: a new call must be
 * described before it can be proven.
 */
import type { CallRecord, DeepReadonly } from '#local/sandbox/sandbox';
import type { SandboxState, TagState } from '#local/sandbox/state';
import type { ContextValue, Request } from './evaluate';

export interface Authorization extends Request {
  /** The recorded call it comes from (`service:Operation`). */
  readonly call: string;
}

type State = DeepReadonly<SandboxState>;
type Context = Record<string, ContextValue>;

/** `aws:RequestTag/…` and `aws:TagKeys` of tags sent with a request. */
function requestTags(
  tags: readonly { Key?: unknown; Value?: unknown }[] | Record<string, unknown> | undefined,
) {
  const pairs: [string, string][] = Array.isArray(tags)
    ? tags.map((t) => [String(t.Key), String(t.Value)])
    : Object.entries(tags ?? {}).map(([k, v]) => [k, String(v)]);
  if (pairs.length === 0) return {};
  const ctx: Context = { 'aws:TagKeys': pairs.map(([k]) => k) };
  for (const [k, v] of pairs) ctx[`aws:RequestTag/${k}`] = v;
  return ctx;
}

/** `aws:ResourceTag/…` (and the service's own prefix) of a resource's tags. */
function resourceTags(
  tags: readonly DeepReadonly<TagState>[] | Readonly<Record<string, string>> | undefined,
  prefixes: readonly string[],
): Context {
  const pairs: [string, string][] = Array.isArray(tags)
    ? tags.map((t) => [t.Key, t.Value])
    : Object.entries((tags as Record<string, string>) ?? {});
  const ctx: Context = {};
  for (const [k, v] of pairs) for (const prefix of prefixes) ctx[`${prefix}:ResourceTag/${k}`] = v;
  return ctx;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(`the call has no ${what}`);
  return value;
}

function role(state: State, account: string, name: string) {
  return state.accounts[account]?.iam.roles[name.toLowerCase()];
}

/** The ARN IAM authorizes a role call on: the role's, or for a role that does not exist, its path-less ARN. */
function roleTarget(state: State, account: string, name: string) {
  const r = role(state, account, name);
  return {
    resource: r?.Arn ?? `arn:aws:iam::${account}:role/${name}`,
    context: resourceTags(r?.Tags, ['aws', 'iam']),
  };
}

function cluster(state: State, account: string, region: string, name: string) {
  return state.accounts[account]?.regions[region]?.eks.clusters[name];
}

function accessEntryTarget(state: State, call: CallRecord) {
  const clusterName = str(call.input.clusterName, 'clusterName');
  const principalArn = str(call.input.principalArn, 'principalArn');
  const c = cluster(state, call.accountId, call.region, clusterName);
  const entry = c?.accessEntries[principalArn];
  // An entry that does not exist yet has no id: its ARN ends in one AWS would make.
  const principalName = principalArn.split('/').at(-1);
  const principalAccount = principalArn.split(':')[4];
  const resource =
    entry?.accessEntryArn ??
    `arn:aws:eks:${call.region}:${call.accountId}:access-entry/${clusterName}/role/${principalAccount}/${principalName}/00000000-0000-0000-0000-000000000000`;
  return {
    resource,
    context: { 'eks:principalArn': principalArn, ...resourceTags(entry?.tags, ['aws']) } as Context,
  };
}

function securityGroup(state: State, call: CallRecord) {
  const groupId = str(call.input.GroupId, 'GroupId');
  const g = state.accounts[call.accountId]?.regions[call.region]?.ec2.securityGroups[groupId];
  return {
    resource: `arn:aws:ec2:${call.region}:${call.accountId}:security-group/${groupId}`,
    context: {
      ...resourceTags(g?.Tags, ['aws', 'ec2']),
      ...(g ? { 'ec2:Vpc': `arn:aws:ec2:${call.region}:${call.accountId}:vpc/${g.VpcId}` } : {}),
    } as Context,
  };
}

/** EC2 `TagSpecifications` of one resource type, as request tags. */
function tagSpecification(call: CallRecord, type: string) {
  const specs = (call.input.TagSpecifications ?? []) as { ResourceType?: string; Tags?: TagState[] }[];
  return specs.find((s) => s.ResourceType === type)?.Tags;
}

/**
 * The authorizations one call needs.
 *
 * @example
 * authorizationsOf({ service: 'iam', operation: 'GetRole', input: { RoleName: 'x' }, … }, state);
 * // [{ action: 'iam:GetRole', resource: 'arn:aws:iam::111111111111:role/x', … }]
 */
export function authorizationsOf(call: CallRecord, state: State): Authorization[] {
  const name = `${call.service}:${call.operation}`;
  const out: Authorization[] = [];
  const add = (action: string, resource: string, context: Context = {}) =>
    out.push({ call: name, action, resource, context });
  const { input, accountId: account, region } = call;

  switch (name) {
    // ListRoles has no resource type in the Service Authorization Reference: `*`.
    case 'iam:ListRoles':
      add('iam:ListRoles', '*');
      break;
    // ListOpenIDConnectProviders has no resource type either (the plan counts providers).
    case 'iam:ListOpenIDConnectProviders':
      add('iam:ListOpenIDConnectProviders', '*');
      break;
    // The applied quota values (the plan's limits, the allowance's rules per group): `*`.
    case 'servicequotas:GetServiceQuota':
    case 'servicequotas:ListServiceQuotas':
      add(`servicequotas:${call.operation}`, '*');
      break;
    // ---- IAM roles -------------------------------------------------------------------
    case 'iam:GetRole':
    case 'iam:GetRolePolicy':
    case 'iam:ListRolePolicies':
    case 'iam:ListAttachedRolePolicies':
    case 'iam:UpdateAssumeRolePolicy':
    case 'iam:PutRolePolicy':
    case 'iam:DeleteRolePolicy':
    case 'iam:DeleteRole':
    case 'iam:DeleteRolePermissionsBoundary': {
      const t = roleTarget(state, account, str(input.RoleName, 'RoleName'));
      add(`iam:${call.operation}`, t.resource, t.context);
      break;
    }
    case 'iam:DetachRolePolicy':
    case 'iam:AttachRolePolicy': {
      const t = roleTarget(state, account, str(input.RoleName, 'RoleName'));
      add(`iam:${call.operation}`, t.resource, {
        ...t.context,
        'iam:PolicyARN': str(input.PolicyArn, 'PolicyArn'),
      });
      break;
    }
    case 'iam:PutRolePermissionsBoundary': {
      const t = roleTarget(state, account, str(input.RoleName, 'RoleName'));
      add('iam:PutRolePermissionsBoundary', t.resource, {
        ...t.context,
        'iam:PermissionsBoundary': str(input.PermissionsBoundary, 'PermissionsBoundary'),
      });
      break;
    }
    case 'iam:CreateRole': {
      const roleName = str(input.RoleName, 'RoleName');
      const path = typeof input.Path === 'string' ? input.Path : '/';
      const resource = `arn:aws:iam::${account}:role${path}${roleName}`;
      const tags = requestTags(input.Tags as TagState[] | undefined);
      add('iam:CreateRole', resource, {
        ...tags,
        ...(typeof input.PermissionsBoundary === 'string'
          ? { 'iam:PermissionsBoundary': input.PermissionsBoundary }
          : {}),
      });
      // Tags on create are authorized as iam:TagRole too.
      if (Object.keys(tags).length) add('iam:TagRole', resource, tags);
      break;
    }
    // ---- IAM OIDC providers ------------------------------------------------------------
    case 'iam:GetOpenIDConnectProvider':
    case 'iam:AddClientIDToOpenIDConnectProvider':
    case 'iam:DeleteOpenIDConnectProvider': {
      const arn = str(input.OpenIDConnectProviderArn, 'OpenIDConnectProviderArn');
      const provider = state.accounts[account]?.iam.oidcProviders[arn];
      add(`iam:${call.operation}`, arn, resourceTags(provider?.Tags, ['aws']));
      break;
    }
    case 'iam:CreateOpenIDConnectProvider': {
      const url = str(input.Url, 'Url')
        .replace(/^https:\/\//, '')
        .replace(/\/$/, '');
      const resource = `arn:aws:iam::${account}:oidc-provider/${url}`;
      const tags = requestTags(input.Tags as TagState[] | undefined);
      add('iam:CreateOpenIDConnectProvider', resource, tags);
      if (Object.keys(tags).length) add('iam:TagOpenIDConnectProvider', resource, tags);
      break;
    }
    // ---- EKS ---------------------------------------------------------------------------
    case 'eks:UpdateClusterConfig':
    case 'eks:DescribeUpdate': {
      const clusterName = str(input.name, 'name');
      const c = cluster(state, account, region, clusterName);
      add(
        `eks:${call.operation}`,
        `arn:aws:eks:${region}:${account}:cluster/${clusterName}`,
        resourceTags(c?.tags, ['aws']),
      );
      break;
    }
    case 'eks:DescribeCluster': {
      const clusterName = str(input.name, 'name');
      const c = cluster(state, account, region, clusterName);
      add(
        'eks:DescribeCluster',
        `arn:aws:eks:${region}:${account}:cluster/${clusterName}`,
        resourceTags(c?.tags, ['aws']),
      );
      break;
    }
    // The plan counts a cluster's access entries: authorized on the cluster.
    case 'eks:ListAccessEntries':
      add(
        'eks:ListAccessEntries',
        `arn:aws:eks:${region}:${account}:cluster/${str(input.clusterName, 'clusterName')}`,
      );
      break;
    case 'eks:CreateAccessEntry': {
      const clusterName = str(input.clusterName, 'clusterName');
      const c = cluster(state, account, region, clusterName);
      const tags = requestTags(input.tags as Record<string, string> | undefined);
      add('eks:CreateAccessEntry', `arn:aws:eks:${region}:${account}:cluster/${clusterName}`, {
        ...resourceTags(c?.tags, ['aws']),
        ...tags,
        'eks:principalArn': str(input.principalArn, 'principalArn'),
        'eks:accessEntryType': typeof input.type === 'string' ? input.type : 'STANDARD',
        ...(typeof input.username === 'string' ? { 'eks:username': input.username } : {}),
        ...(Array.isArray(input.kubernetesGroups)
          ? { 'eks:kubernetesGroups': input.kubernetesGroups as string[] }
          : {}),
      });
      // Tags on create: eks:TagResource on the new entry.
      if (Object.keys(tags).length) add('eks:TagResource', accessEntryTarget(state, call).resource, tags);
      break;
    }
    case 'eks:DescribeAccessEntry':
    case 'eks:UpdateAccessEntry':
    case 'eks:DeleteAccessEntry':
    case 'eks:ListAssociatedAccessPolicies': {
      const t = accessEntryTarget(state, call);
      add(`eks:${call.operation}`, t.resource, {
        ...t.context,
        ...(Array.isArray(input.kubernetesGroups)
          ? { 'eks:kubernetesGroups': input.kubernetesGroups as string[] }
          : {}),
        ...(typeof input.username === 'string' ? { 'eks:username': input.username } : {}),
      });
      break;
    }
    case 'eks:AssociateAccessPolicy':
    case 'eks:DisassociateAccessPolicy': {
      const t = accessEntryTarget(state, call);
      const scope = input.accessScope as { type?: string; namespaces?: string[] } | undefined;
      add(`eks:${call.operation}`, t.resource, {
        ...t.context,
        'eks:policyArn': str(input.policyArn, 'policyArn'),
        ...(scope?.type ? { 'eks:accessScope': scope.type } : {}),
        ...(scope?.namespaces ? { 'eks:namespaces': scope.namespaces } : {}),
      });
      break;
    }
    // ---- EKS Pod Identity associations (Service Authorization Reference, Amazon EKS) -----
    case 'eks:ListPodIdentityAssociations':
      add(
        'eks:ListPodIdentityAssociations',
        `arn:aws:eks:${region}:${account}:cluster/${str(input.clusterName, 'clusterName')}`,
      );
      break;
    case 'eks:CreatePodIdentityAssociation': {
      const clusterName = str(input.clusterName, 'clusterName');
      const tags = requestTags(input.tags as Record<string, string> | undefined);
      add(
        'eks:CreatePodIdentityAssociation',
        `arn:aws:eks:${region}:${account}:cluster/${clusterName}`,
        tags,
      );
      // Tags on create: eks:TagResource on the new association; the role is passed to EKS Pod Identity.
      if (Object.keys(tags).length)
        add(
          'eks:TagResource',
          `arn:aws:eks:${region}:${account}:podidentityassociation/${clusterName}/a-0`,
          tags,
        );
      const passed = roleTarget(state, account, str(input.roleArn, 'roleArn').split('/').at(-1) ?? '');
      add('iam:PassRole', passed.resource, {
        ...passed.context,
        'iam:PassedToService': 'pods.eks.amazonaws.com',
      });
      break;
    }
    case 'eks:DescribePodIdentityAssociation':
    case 'eks:UpdatePodIdentityAssociation':
    case 'eks:DeletePodIdentityAssociation': {
      const clusterName = str(input.clusterName, 'clusterName');
      const id = str(input.associationId, 'associationId');
      const a = cluster(state, account, region, clusterName)?.podIdentityAssociations?.[id];
      add(
        `eks:${call.operation}`,
        `arn:aws:eks:${region}:${account}:podidentityassociation/${clusterName}/${id}`,
        resourceTags(a?.tags, ['aws']),
      );
      if (call.operation === 'UpdatePodIdentityAssociation' && typeof input.roleArn === 'string') {
        const passed = roleTarget(state, account, input.roleArn.split('/').at(-1) ?? '');
        add('iam:PassRole', passed.resource, {
          ...passed.context,
          'iam:PassedToService': 'pods.eks.amazonaws.com',
        });
      }
      break;
    }
    // ---- EC2 ---------------------------------------------------------------------------
    case 'ec2:DescribeManagedPrefixLists':
    case 'ec2:DescribeNatGateways':
    case 'ec2:DescribeSecurityGroupRules':
    case 'ec2:DescribeSecurityGroups':
      add(`ec2:${call.operation}`, '*');
      break;
    case 'ec2:GetManagedPrefixListEntries':
      add(
        'ec2:GetManagedPrefixListEntries',
        `arn:aws:ec2:${region}:${account}:prefix-list/${String(input.PrefixListId)}`,
      );
      break;
    case 'ec2:AuthorizeSecurityGroupIngress': {
      const g = securityGroup(state, call);
      add('ec2:AuthorizeSecurityGroupIngress', g.resource, g.context);
      const tags = requestTags(tagSpecification(call, 'security-group-rule'));
      const rule = `arn:aws:ec2:${region}:${account}:security-group-rule/sgr-00000000000000000`;
      add('ec2:AuthorizeSecurityGroupIngress', rule, tags);
      if (Object.keys(tags).length)
        add('ec2:CreateTags', rule, { ...tags, 'ec2:CreateAction': 'AuthorizeSecurityGroupIngress' });
      break;
    }
    case 'ec2:RevokeSecurityGroupIngress': {
      // Authorized on the group only (the reference lists no rule resource for it).
      const g = securityGroup(state, call);
      add('ec2:RevokeSecurityGroupIngress', g.resource, g.context);
      break;
    }
    // ---- IAM Roles Anywhere (mode roles-anywhere) -------------------------------------
    // List* have no resource type in the Service Authorization Reference: `*`.
    case 'rolesanywhere:ListTrustAnchors':
    case 'rolesanywhere:ListProfiles':
      add(`rolesanywhere:${call.operation}`, '*');
      break;
    case 'rolesanywhere:CreateTrustAnchor':
    case 'rolesanywhere:CreateProfile': {
      const kind = call.operation === 'CreateProfile' ? 'profile' : 'trust-anchor';
      const resource = `arn:aws:rolesanywhere:${region}:${account}:${kind}/*`;
      const tags = requestTags(
        ((input.tags ?? []) as { key?: unknown; value?: unknown }[]).map((t) => ({
          Key: t.key,
          Value: t.value,
        })),
      );
      add(`rolesanywhere:${call.operation}`, resource, tags);
      if (Object.keys(tags).length) add('rolesanywhere:TagResource', resource, tags);
      break;
    }
    case 'rolesanywhere:ListTagsForResource':
    case 'rolesanywhere:DeleteTrustAnchor':
    case 'rolesanywhere:DeleteProfile': {
      const ra = (state.accounts[account]?.regions[region] as { rolesAnywhere?: any } | undefined)
        ?.rolesAnywhere;
      const all = [...Object.values(ra?.trustAnchors ?? {}), ...Object.values(ra?.profiles ?? {})] as any[];
      const found = all.find(
        (r) =>
          r.trustAnchorArn === input.resourceArn ||
          r.profileArn === input.resourceArn ||
          r.trustAnchorId === input.trustAnchorId ||
          r.profileId === input.profileId,
      );
      const arn = String(found?.trustAnchorArn ?? found?.profileArn ?? input.resourceArn ?? '*');
      const tags = Object.fromEntries((found?.tags ?? []).map((t: any) => [t.key, t.value]));
      add(`rolesanywhere:${call.operation}`, arn, resourceTags(tags, ['aws']));
      break;
    }
    default:
      throw new Error(
        `${name}: no authorization model for this call; describe it in test/infra/iam/requests.ts`,
      );
  }
  return out;
}
