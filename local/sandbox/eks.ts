/**
 * EKS (per region): clusters (read, plus the endpoint CIDR update), access entries,
 * access policy associations and their tags, and how a cluster authenticates an IAM
 * principal through them (what its Kubernetes API then takes the caller for). Quotas and
 * errors follow docs/aws-facts.md#eks.
 */
import YAML from 'yaml';
import { type Caller, clone, type OpContext, type Operations, paginate, requireString } from './context';
import { SandboxError } from './errors';
import { findRoleByArn } from '#local/sandbox/iam/roles';
import { type AccessEntryState, type ClusterState, regionOf } from './state';

/** Access entries per cluster (docs/aws-facts.md#eks). */
export const ACCESS_ENTRIES_PER_CLUSTER = 3000;
/** CIDRs in `publicAccessCidrs`, not adjustable (docs/aws-facts.md#eks). */
export const PUBLIC_ACCESS_CIDRS_MAX = 40;

/** The EKS access policies AWS offers (`arn:aws:eks::aws:cluster-access-policy/<name>`). */
export const EKS_ACCESS_POLICIES: readonly string[] = [
  'AmazonEKSClusterAdminPolicy',
  'AmazonEKSAdminPolicy',
  'AmazonEKSEditPolicy',
  'AmazonEKSViewPolicy',
  'AmazonEKSAdminViewPolicy',
  'AmazonEKSAutoNodePolicy',
  'AmazonEKSBlockStoragePolicy',
  'AmazonEKSComputePolicy',
  'AmazonEKSLoadBalancingPolicy',
  'AmazonEKSNetworkingPolicy',
  'AmazonEKSSecretReaderPolicy',
];

const ACCESS_POLICY_ARN = /^arn:aws:eks::aws:cluster-access-policy\/(.+)$/;
const ROLE_PRINCIPAL = /^arn:aws:iam::(\d{12}):(role|user)\/(?:.*\/)?([\w+=,.@-]+)$/;

/** The cluster `name` in the caller's account and region, or ResourceNotFoundException. */
export function clusterOrThrow(ctx: OpContext, name: unknown): ClusterState {
  const n = requireString(name, 'name', 'InvalidParameterException');
  const cluster = regionOf(ctx.account, ctx.region).eks.clusters[n];
  if (!cluster) {
    throw new SandboxError('ResourceNotFoundException', `No cluster found for name: ${n}.`, {
      statusCode: 404,
      extra: { clusterName: n },
    });
  }
  return cluster;
}

/** Access entry APIs need API or API_AND_CONFIG_MAP mode. */
function requireApiMode(cluster: ClusterState): void {
  if (cluster.authenticationMode === 'CONFIG_MAP') {
    throw new SandboxError(
      'InvalidRequestException',
      "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
      { extra: { clusterName: cluster.name } },
    );
  }
}

function entryOrThrow(cluster: ClusterState, principalArn: unknown): AccessEntryState {
  const arn = requireString(principalArn, 'principalArn', 'InvalidParameterException');
  const entry = cluster.accessEntries[arn];
  if (!entry) {
    throw new SandboxError('ResourceNotFoundException', 'The specified access entry resource is not found.', {
      statusCode: 404,
      extra: { clusterName: cluster.name },
    });
  }
  return entry;
}

/**
 * Prefixes a custom username must not start with (EKS user guide, creating access entries;
 * docs/aws-facts.md#access-entry-rules). The error EKS answers is unconfirmed.
 */
export const RESERVED_USERNAME_PREFIXES: readonly string[] = ['system:', 'eks:', 'aws:', 'amazon:', 'iam:'];

function checkUsername(username: unknown): void {
  if (typeof username !== 'string') return;
  const reserved = RESERVED_USERNAME_PREFIXES.find((p) => username.startsWith(p));
  if (reserved) {
    throw new SandboxError('InvalidParameterException', `username cannot start with ${reserved}`);
  }
}

/** Who a cluster's Kubernetes API takes an authenticated caller for (a SelfSubjectReview's `userInfo`). */
export interface KubernetesUserInfo {
  readonly username: string;
  readonly uid: string;
  readonly groups: string[];
  readonly extra: Record<string, string[]>;
}

function unauthorized(detail: string): SandboxError {
  // The API server says no more than "Unauthorized"; the reason is the sandbox's.
  return new SandboxError('Unauthorized', `Unauthorized (sandbox: ${detail})`, { statusCode: 401 });
}

/** A role ARN as `aws-auth` and the authenticator's canonical ARN spell it: without the path. */
function canonicalRoleArn(arn: string): string {
  return arn.replace(/^(arn:aws[a-z-]*:iam::\d{12}:role)\/(?:.*\/)?([^/]+)$/, '$1/$2');
}

/**
 * How the cluster authenticates `caller` (a role session), as the EKS authenticator does:
 * through the access entry of the caller's role in `API` and `API_AND_CONFIG_MAP` modes, else
 * through `aws-auth` `mapRoles` (by the role ARN without its path) in `CONFIG_MAP` and
 * `API_AND_CONFIG_MAP` modes. An access entry is bound to the unique id its role had when
 * the entry was made: a session of a role deleted and made again under the same ARN is
 * refused (EKS API reference, AccessEntry.principalArn; docs/aws-facts.md#access-entries-keep-the-role-id).
 * Throws `Unauthorized` (401) when the cluster does not know the caller.
 */
export function authenticateToCluster(cluster: ClusterState, caller: Caller): KubernetesUserInfo {
  if (caller.kind !== 'role-session') throw unauthorized(`${caller.arn} is not a role session`);
  const roleId = caller.userId.split(':')[0] ?? '';
  const session = caller.sessionName ?? '';
  const account = caller.accountId;
  const fill = (username: string) =>
    username.replaceAll('{{SessionName}}', session).replaceAll('{{AccountID}}', account);
  const user = (username: string, groups: readonly string[]): KubernetesUserInfo => ({
    username: fill(username),
    uid: `aws-iam-authenticator:${account}:${roleId}`,
    groups: [...groups, 'system:authenticated'],
    extra: {
      arn: [caller.arn],
      canonicalArn: [canonicalRoleArn(caller.principalArn)],
      principalId: [roleId],
      sessionName: [session],
    },
  });
  if (cluster.authenticationMode !== 'CONFIG_MAP') {
    const entry = cluster.accessEntries[caller.principalArn];
    if (entry) {
      if (entry.principalId !== undefined && entry.principalId !== roleId) {
        throw unauthorized(
          `the access entry for ${entry.principalArn} was made for role id ${entry.principalId}; this session is of role id ${roleId}, a role made again under the same ARN`,
        );
      }
      return user(entry.username, entry.kubernetesGroups);
    }
  }
  if (cluster.authenticationMode !== 'API') {
    const mapRoles = (YAML.parse(cluster.configMaps['kube-system/aws-auth']?.data.mapRoles ?? '') ?? []) as {
      rolearn?: string;
      username?: string;
      groups?: string[];
    }[];
    const canonical = canonicalRoleArn(caller.principalArn);
    const mapped = Array.isArray(mapRoles) ? mapRoles.find((m) => m.rolearn === canonical) : undefined;
    if (mapped) return user(mapped.username ?? caller.arn, mapped.groups ?? []);
  }
  throw unauthorized(`${cluster.name} has no access entry or aws-auth mapping for ${caller.principalArn}`);
}

function clusterOutput(c: ClusterState): Record<string, unknown> {
  return {
    name: c.name,
    arn: c.arn,
    createdAt: new Date(c.createdAt),
    version: c.version,
    endpoint: c.endpoint,
    roleArn: c.roleArn,
    resourcesVpcConfig: {
      subnetIds: [...c.subnetIds],
      securityGroupIds: [...c.securityGroupIds],
      clusterSecurityGroupId: c.clusterSecurityGroupId,
      vpcId: c.vpcId,
      endpointPublicAccess: c.endpointPublicAccess,
      endpointPrivateAccess: c.endpointPrivateAccess,
      publicAccessCidrs: [...c.publicAccessCidrs],
    },
    kubernetesNetworkConfig: { serviceIpv4Cidr: '172.20.0.0/16', ipFamily: 'ipv4' },
    ...(c.oidcIssuer ? { identity: { oidc: { issuer: c.oidcIssuer } } } : {}),
    status: c.status,
    certificateAuthority: { data: c.certificateAuthorityData },
    platformVersion: 'eks.1',
    tags: { ...c.tags },
    accessConfig: { authenticationMode: c.authenticationMode },
  };
}

function entryOutput(cluster: ClusterState, e: AccessEntryState): Record<string, unknown> {
  return {
    clusterName: cluster.name,
    principalArn: e.principalArn,
    kubernetesGroups: [...e.kubernetesGroups],
    accessEntryArn: e.accessEntryArn,
    createdAt: new Date(e.createdAt),
    modifiedAt: new Date(e.modifiedAt),
    tags: { ...e.tags },
    username: e.username,
    type: e.type,
  };
}

function associationOutput(a: AccessEntryState['associations'][number]): Record<string, unknown> {
  return {
    policyArn: a.policyArn,
    accessScope: clone(a.accessScope),
    associatedAt: new Date(a.associatedAt),
    modifiedAt: new Date(a.modifiedAt),
  };
}

function validateAccessScope(scope: unknown): { type: string; namespaces?: string[] } {
  const s = scope as { type?: unknown; namespaces?: unknown } | undefined;
  if (!s || (s.type !== 'cluster' && s.type !== 'namespace')) {
    throw new SandboxError(
      'InvalidParameterException',
      'accessScope.type must be one of [cluster, namespace]',
    );
  }
  const namespaces = Array.isArray(s.namespaces) ? (s.namespaces as unknown[]).map(String) : [];
  if (s.type === 'namespace' && namespaces.length === 0) {
    throw new SandboxError(
      'InvalidParameterException',
      'Namespaces must be specified for access scope of type namespace',
    );
  }
  if (s.type === 'cluster' && namespaces.length > 0) {
    throw new SandboxError(
      'InvalidParameterException',
      'Namespaces cannot be specified for access scope of type cluster',
    );
  }
  return s.type === 'namespace' ? { type: 'namespace', namespaces } : { type: 'cluster' };
}

/** Finds the access entry or cluster an EKS resource ARN names, for the tag APIs. */
function taggable(
  ctx: OpContext,
  arn: unknown,
): { tags: Record<string, string>; set(t: Record<string, string>): void } {
  const a = requireString(arn, 'resourceArn', 'InvalidParameterException');
  for (const cluster of Object.values(regionOf(ctx.account, ctx.region).eks.clusters)) {
    if (cluster.arn === a) return { tags: cluster.tags, set: (t) => (cluster.tags = t) };
    for (const e of Object.values(cluster.accessEntries)) {
      if (e.accessEntryArn === a) return { tags: e.tags, set: (t) => (e.tags = t) };
    }
  }
  throw new SandboxError('NotFoundException', `Resource not found: ${a}`, { statusCode: 404 });
}

function tagsInput(tags: unknown): Record<string, string> {
  if (tags === undefined) return {};
  if (typeof tags !== 'object' || tags === null)
    throw new SandboxError('InvalidParameterException', 'tags must be a map');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) out[k] = String(v);
  if (Object.keys(out).length > 50)
    throw new SandboxError('InvalidParameterException', 'Resources can have at most 50 tags');
  return out;
}

/** The EKS operations the sandbox implements. */
export const eksOperations: Operations = {
  DescribeCluster: (ctx, input) => ({ cluster: clusterOutput(clusterOrThrow(ctx, input.name)) }),

  ListClusters: (ctx, input) => {
    const names = Object.keys(regionOf(ctx.account, ctx.region).eks.clusters).sort();
    const { page, next } = paginate(names, input.nextToken, input.maxResults, 100);
    return { clusters: page, ...(next ? { nextToken: next } : {}) };
  },

  UpdateClusterConfig: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.name);
    const vpc = (input.resourcesVpcConfig ?? {}) as {
      publicAccessCidrs?: string[];
      endpointPublicAccess?: boolean;
      endpointPrivateAccess?: boolean;
    };
    if (
      input.accessConfig !== undefined ||
      input.logging !== undefined ||
      input.resourcesVpcConfig === undefined
    ) {
      throw new SandboxError(
        'InvalidParameterException',
        'The sandbox implements UpdateClusterConfig for resourcesVpcConfig only',
      );
    }
    const cidrs = vpc.publicAccessCidrs ?? cluster.publicAccessCidrs;
    // 40 CIDRs at most, not adjustable (docs/aws-facts.md#eks).
    if (cidrs.length > PUBLIC_ACCESS_CIDRS_MAX) {
      throw new SandboxError(
        'InvalidParameterException',
        `publicAccessCidrs can contain at most ${PUBLIC_ACCESS_CIDRS_MAX} CIDR blocks`,
        {
          extra: { clusterName: cluster.name },
        },
      );
    }
    for (const c of cidrs) {
      if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(c))
        throw new SandboxError('InvalidParameterException', `${c} is not a valid CIDR block`);
    }
    const pub = vpc.endpointPublicAccess ?? cluster.endpointPublicAccess;
    const priv = vpc.endpointPrivateAccess ?? cluster.endpointPrivateAccess;
    const same =
      pub === cluster.endpointPublicAccess &&
      priv === cluster.endpointPrivateAccess &&
      [...cidrs].sort().join(',') === [...cluster.publicAccessCidrs].sort().join(',');
    // EKS refuses an update that changes nothing.
    if (same) {
      throw new SandboxError(
        'InvalidParameterException',
        `Cluster is already at the desired configuration with endpointPrivateAccess: ${priv} , endpointPublicAccess: ${pub}, and Public Endpoint Restrictions: [${cidrs.join(', ')}]`,
        { extra: { clusterName: cluster.name } },
      );
    }
    cluster.publicAccessCidrs = [...cidrs];
    cluster.endpointPublicAccess = pub;
    cluster.endpointPrivateAccess = priv;
    const hex = ctx.newHex('update');
    const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
    const params = [
      { type: 'EndpointPublicAccess', value: String(pub) },
      { type: 'EndpointPrivateAccess', value: String(priv) },
      { type: 'PublicAccessCidrs', value: JSON.stringify(cidrs) },
    ];
    cluster.updates[id] = { id, type: 'EndpointAccessUpdate', params, createdAt: ctx.now() };
    // AWS answers InProgress; the sandbox applies the change at once (DescribeUpdate: Successful).
    return {
      update: {
        id,
        status: 'InProgress',
        type: 'EndpointAccessUpdate',
        params,
        createdAt: new Date(ctx.now()),
        errors: [],
      },
    };
  },

  DescribeUpdate: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.name);
    const u = cluster.updates[requireString(input.updateId, 'updateId', 'InvalidParameterException')];
    if (!u)
      throw new SandboxError(
        'ResourceNotFoundException',
        `No update found for ID: ${String(input.updateId)}`,
        { statusCode: 404 },
      );
    return {
      update: {
        id: u.id,
        status: 'Successful',
        type: u.type,
        params: clone(u.params),
        createdAt: new Date(u.createdAt),
        errors: [],
      },
    };
  },

  CreateAccessEntry: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    requireApiMode(cluster);
    const principalArn = requireString(input.principalArn, 'principalArn', 'InvalidParameterException');
    if (cluster.accessEntries[principalArn]) {
      throw new SandboxError(
        'ResourceInUseException',
        'The specified access entry resource is already in use on this cluster.',
        {
          statusCode: 409,
          extra: { clusterName: cluster.name },
        },
      );
    }
    const m = ROLE_PRINCIPAL.exec(principalArn);
    const role = m?.[2] === 'role' ? findRoleByArn(ctx.state, principalArn) : undefined;
    // A principal IAM does not know (yet) is refused the same way (docs/aws-facts.md#iam-eventual-consistency).
    if (!m || !role || ctx.notYetPropagated(role, 'CreateAccessEntry')) {
      throw new SandboxError(
        'InvalidParameterException',
        'The specified principalArn is invalid: invalid principal',
        {
          extra: { clusterName: cluster.name },
        },
      );
    }
    const type = typeof input.type === 'string' ? input.type : 'STANDARD';
    if (!['STANDARD', 'FARGATE_LINUX', 'EC2_LINUX', 'EC2_WINDOWS'].includes(type)) {
      throw new SandboxError('InvalidParameterException', `The specified type ${type} is invalid`);
    }
    const groups = Array.isArray(input.kubernetesGroups)
      ? (input.kubernetesGroups as unknown[]).map(String)
      : [];
    if (type !== 'STANDARD' && (groups.length > 0 || input.username !== undefined)) {
      throw new SandboxError(
        'InvalidParameterException',
        `kubernetesGroups and username cannot be specified for type ${type}`,
      );
    }
    checkUsername(input.username);
    if (groups.some((g) => g.startsWith('system:'))) {
      throw new SandboxError('InvalidParameterException', 'kubernetesGroups cannot start with system:');
    }
    if (Object.keys(cluster.accessEntries).length >= ACCESS_ENTRIES_PER_CLUSTER) {
      throw new SandboxError(
        'ResourceLimitExceededException',
        `Cannot exceed quota for access entries per cluster: ${ACCESS_ENTRIES_PER_CLUSTER}`,
        {
          extra: { clusterName: cluster.name },
        },
      );
    }
    const principalAccount = m[1] ?? '';
    const name = m[3] ?? '';
    const defaultUsername =
      type === 'STANDARD'
        ? `arn:aws:sts::${principalAccount}:assumed-role/${name}/{{SessionName}}`
        : 'system:node:{{EC2PrivateDNSName}}';
    const hex = ctx.newHex('access-entry');
    const now = ctx.now();
    const entry: AccessEntryState = {
      principalArn,
      principalId: role.RoleId,
      accessEntryArn: `${cluster.arn.replace(':cluster/', ':access-entry/')}/role/${principalAccount}/${name}/${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`,
      kubernetesGroups: groups,
      username: typeof input.username === 'string' ? input.username : defaultUsername,
      type,
      createdAt: now,
      modifiedAt: now,
      tags: tagsInput(input.tags),
      associations: [],
    };
    cluster.accessEntries[principalArn] = entry;
    return { accessEntry: entryOutput(cluster, entry) };
  },

  DescribeAccessEntry: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    requireApiMode(cluster);
    return { accessEntry: entryOutput(cluster, entryOrThrow(cluster, input.principalArn)) };
  },

  ListAccessEntries: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    requireApiMode(cluster);
    let arns = Object.keys(cluster.accessEntries).sort();
    if (typeof input.associatedPolicyArn === 'string') {
      arns = arns.filter((a) =>
        cluster.accessEntries[a]?.associations.some((x) => x.policyArn === input.associatedPolicyArn),
      );
    }
    const { page, next } = paginate(arns, input.nextToken, input.maxResults, 100);
    return { accessEntries: page, ...(next ? { nextToken: next } : {}) };
  },

  UpdateAccessEntry: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    requireApiMode(cluster);
    const entry = entryOrThrow(cluster, input.principalArn);
    checkUsername(input.username);
    if (Array.isArray(input.kubernetesGroups))
      entry.kubernetesGroups = (input.kubernetesGroups as unknown[]).map(String);
    if (typeof input.username === 'string') entry.username = input.username;
    entry.modifiedAt = ctx.now();
    return { accessEntry: entryOutput(cluster, entry) };
  },

  DeleteAccessEntry: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    requireApiMode(cluster);
    const entry = entryOrThrow(cluster, input.principalArn);
    // Deleting an entry also removes its policy associations.
    delete cluster.accessEntries[entry.principalArn];
    return {};
  },

  AssociateAccessPolicy: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    requireApiMode(cluster);
    const entry = entryOrThrow(cluster, input.principalArn);
    const role = findRoleByArn(ctx.state, entry.principalArn);
    if (!role || ctx.notYetPropagated(role, 'AssociateAccessPolicy')) {
      throw new SandboxError('ResourceNotFoundException', 'The specified principalArn could not be found', {
        statusCode: 404,
        extra: { clusterName: cluster.name },
      });
    }
    const policyArn = requireString(input.policyArn, 'policyArn', 'InvalidParameterException');
    const pm = ACCESS_POLICY_ARN.exec(policyArn);
    if (!pm || !EKS_ACCESS_POLICIES.includes(pm[1] ?? '')) {
      throw new SandboxError('InvalidParameterException', `The specified policyArn ${policyArn} is invalid`, {
        extra: { clusterName: cluster.name },
      });
    }
    // Access policies attach only to STANDARD entries (docs/aws-facts.md#eks). Error code unconfirmed.
    if (entry.type !== 'STANDARD') {
      throw new SandboxError(
        'InvalidRequestException',
        `Access policies can only be associated with access entries of type STANDARD`,
      );
    }
    const scope = validateAccessScope(input.accessScope);
    const now = ctx.now();
    const existing = entry.associations.find((a) => a.policyArn === policyArn);
    // Associating the same policy again replaces its scope.
    if (existing) {
      existing.accessScope = scope;
      existing.modifiedAt = now;
    } else {
      entry.associations.push({ policyArn, accessScope: scope, associatedAt: now, modifiedAt: now });
    }
    const assoc = entry.associations.find((a) => a.policyArn === policyArn)!;
    return {
      clusterName: cluster.name,
      principalArn: entry.principalArn,
      associatedAccessPolicy: associationOutput(assoc),
    };
  },

  DisassociateAccessPolicy: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    requireApiMode(cluster);
    const entry = entryOrThrow(cluster, input.principalArn);
    const policyArn = requireString(input.policyArn, 'policyArn', 'InvalidParameterException');
    if (!entry.associations.some((a) => a.policyArn === policyArn)) {
      throw new SandboxError(
        'ResourceNotFoundException',
        'The specified access policy association is not found.',
        { statusCode: 404 },
      );
    }
    entry.associations = entry.associations.filter((a) => a.policyArn !== policyArn);
    return {};
  },

  ListAssociatedAccessPolicies: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    requireApiMode(cluster);
    const entry = entryOrThrow(cluster, input.principalArn);
    const { page, next } = paginate(entry.associations, input.nextToken, input.maxResults, 100);
    return {
      clusterName: cluster.name,
      principalArn: entry.principalArn,
      associatedAccessPolicies: page.map(associationOutput),
      ...(next ? { nextToken: next } : {}),
    };
  },

  ListAccessPolicies: () => ({
    accessPolicies: EKS_ACCESS_POLICIES.map((name) => ({
      name,
      arn: `arn:aws:eks::aws:cluster-access-policy/${name}`,
    })),
  }),

  TagResource: (ctx, input) => {
    const t = taggable(ctx, input.resourceArn);
    const merged = { ...t.tags, ...tagsInput(input.tags) };
    if (Object.keys(merged).length > 50)
      throw new SandboxError('BadRequestException', 'Resources can have at most 50 tags');
    t.set(merged);
    return {};
  },

  UntagResource: (ctx, input) => {
    const t = taggable(ctx, input.resourceArn);
    const drop = new Set(Array.isArray(input.tagKeys) ? (input.tagKeys as string[]) : []);
    t.set(Object.fromEntries(Object.entries(t.tags).filter(([k]) => !drop.has(k))));
    return {};
  },

  ListTagsForResource: (ctx, input) => ({ tags: { ...taggable(ctx, input.resourceArn).tags } }),
};
