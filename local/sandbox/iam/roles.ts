/**
 * IAM roles: create (name, path, trust and quota checks), read, list, update, delete
 * (refused while policies remain), the trust policy (checked as IAM checks it, and held as
 * IAM holds it: role ARNs pinned to the unique id they named), the permissions boundary,
 * and tags. Also how any other service finds a role: by ARN anywhere in the sandbox, or by
 * name in an account.
 */
import {
  clone,
  mergeTags,
  nonWhitespaceLength,
  type OpContext,
  type Operations,
  paginate,
  removeTags,
  requireString,
} from '#local/sandbox/context';
import { SandboxError } from '#local/sandbox/errors';
import { type AccountState, base32Of, type RoleState, type SandboxState } from '#local/sandbox/state';
import { appliedQuota } from '#local/sandbox/service-quotas';
import { awsPrincipals, parsePolicy } from './policies';
import { checkTagContents, checkTagCount, listTags, validateTags } from './tags';

/** Trust policy size: 2,048 characters by default (docs/aws-facts.md#iam-quotas). */
export const TRUST_POLICY_MAX = 2048;
/** Roles per account. */
export const ROLES_PER_ACCOUNT = 1000;

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const ROLE_ARN = /^arn:aws:iam::(\d{12}):role(\/.*)$/;

/** Finds a role by its ARN anywhere in the sandbox. */
export function findRoleByArn(state: SandboxState, arn: string): RoleState | undefined {
  const m = ROLE_ARN.exec(arn);
  if (!m) return undefined;
  const account = state.accounts[m[1] ?? ''];
  if (!account) return undefined;
  const name = (m[2] ?? '').split('/').pop() ?? '';
  const role = account.iam.roles[name.toLowerCase()];
  return role && role.Arn === arn ? role : undefined;
}

const noSuchRole = (name: string) =>
  new SandboxError('NoSuchEntity', `The role with name ${name} cannot be found.`, { statusCode: 404 });

/** The role of `account` named `name` (case-insensitive, as IAM), or NoSuchEntity. */
export function getRoleOrThrow(account: AccountState, name: unknown): RoleState {
  const n = requireString(name, 'roleName');
  const role = account.iam.roles[n.toLowerCase()];
  if (!role) throw noSuchRole(n);
  return role;
}

/**
 * The role a call names, as IAM's read path sees it: a role made moments ago may answer
 * NoSuchEntity to the next calls that name it (read-after-write lag, the sandbox's
 * `readAfterWriteLagCalls`). IAM is eventually consistent, and AWS's own SDK ships a
 * `RoleExists` waiter that polls GetRole through NoSuchEntity after CreateRole
 * (docs/aws-facts.md#iam-eventual-consistency).
 */
export function roleNamed(ctx: OpContext, name: unknown): RoleState {
  const role = getRoleOrThrow(ctx.account, name);
  if (ctx.notYetPropagated(role, 'read')) throw noSuchRole(String(name));
  return role;
}

/**
 * Checks a trust policy as CreateRole/UpdateAssumeRolePolicy do and returns the role ids
 * of the role ARNs it names (IAM stores those ids: docs/aws-facts.md#iam).
 */
function validateTrust(ctx: OpContext, text: unknown): Record<string, string> {
  const doc = requireString(text, 'assumeRolePolicyDocument');
  // Whitespace does not count toward the quota (docs/aws-facts.md#iam).
  const trustMax = appliedQuota(ctx.account, ctx.region, 'iam', 'L-C07B4B0D');
  if (nonWhitespaceLength(doc) > trustMax) {
    throw new SandboxError('LimitExceeded', `Cannot exceed quota for ACLSizePerRole: ${trustMax}`, {
      statusCode: 409,
    });
  }
  const policy = parsePolicy(doc);
  const ids: Record<string, string> = {};
  for (const st of policy.Statement) {
    for (const p of awsPrincipals(st)) {
      if (p === '*' || /^\d{12}$/.test(p) || /^arn:aws:iam::\d{12}:root$/.test(p)) continue;
      const role = ROLE_ARN.test(p) ? findRoleByArn(ctx.state, p) : undefined;
      // A principal that does not exist, or that IAM has not propagated yet, is refused
      // with the same message (docs/aws-facts.md#iam-eventual-consistency).
      if (!role || ctx.notYetPropagated(role, 'trust')) {
        throw new SandboxError('MalformedPolicyDocument', `Invalid principal in policy: "AWS":"${p}"`);
      }
      ids[p] = role.RoleId;
    }
  }
  return ids;
}

/**
 * The trust policy as IAM now holds it: role ARNs whose role was deleted or re-created
 * show as the old unique id, and no longer match anyone.
 */
export function effectiveTrust(state: SandboxState, role: RoleState): { text: string; stale: Set<string> } {
  const stale = new Set<string>();
  for (const [arn, id] of Object.entries(role.trustPrincipalIds)) {
    if (findRoleByArn(state, arn)?.RoleId !== id) stale.add(arn);
  }
  if (stale.size === 0) return { text: role.AssumeRolePolicyDocument, stale };
  const policy = parsePolicy(role.AssumeRolePolicyDocument);
  for (const st of policy.Statement) {
    const p = st.Principal as Record<string, unknown> | undefined;
    if (!p || typeof p !== 'object') continue;
    const swap = (a: unknown): unknown =>
      typeof a === 'string' && stale.has(a) ? role.trustPrincipalIds[a] : a;
    p.AWS = Array.isArray(p.AWS) ? p.AWS.map(swap) : swap(p.AWS);
  }
  return { text: JSON.stringify(policy), stale };
}

/**
 * The Role structure IAM returns: `get` (GetRole) in full; `create` (CreateRole) without
 * MaxSessionDuration and RoleLastUsed; `list` (ListRoles) also without Tags and
 * PermissionsBoundary, which IAM's listing operations leave out (IAM API reference,
 * ListRoles: "does not return the following attributes … PermissionsBoundary, RoleLastUsed,
 * Tags"). The trust policy is in all three.
 */
function roleOutput(
  state: SandboxState,
  role: RoleState,
  view: 'create' | 'get' | 'list',
): Record<string, unknown> {
  const full = view === 'get';
  const out: Record<string, unknown> = {
    Path: role.Path,
    RoleName: role.RoleName,
    RoleId: role.RoleId,
    Arn: role.Arn,
    CreateDate: new Date(role.CreateDate),
    // IAM returns policy documents URL-encoded (RFC 3986); the SDK does not decode them.
    AssumeRolePolicyDocument: encodeURIComponent(effectiveTrust(state, role).text),
  };
  if (role.Description !== undefined) out.Description = role.Description;
  if (full) out.MaxSessionDuration = role.MaxSessionDuration;
  if (role.PermissionsBoundaryArn && view !== 'list') {
    out.PermissionsBoundary = {
      PermissionsBoundaryType: 'Policy',
      PermissionsBoundaryArn: role.PermissionsBoundaryArn,
    };
  }
  if (role.Tags.length > 0 && view !== 'list') out.Tags = clone(role.Tags);
  if (full) out.RoleLastUsed = {};
  return out;
}

function validatePath(path: unknown): string {
  if (path === undefined) return '/';
  if (typeof path !== 'string' || path.length > 512 || !/^(\/|\/[\u0021-\u007E]+\/)$/.test(path)) {
    throw new SandboxError(
      'ValidationError',
      `1 validation error detected: Value '${String(path)}' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)`,
    );
  }
  return path;
}

/** Creates a role in `account` (used by CreateRole and the world seeds). */
export function createRole(
  ctx: OpContext,
  input: {
    RoleName?: unknown;
    Path?: unknown;
    AssumeRolePolicyDocument?: unknown;
    Description?: unknown;
    MaxSessionDuration?: unknown;
    PermissionsBoundary?: unknown;
    Tags?: unknown;
  },
): RoleState {
  const name = requireString(input.RoleName, 'roleName');
  if (!ROLE_NAME.test(name)) {
    throw new SandboxError(
      'ValidationError',
      `1 validation error detected: Value '${name}' at 'roleName' failed to satisfy constraint: Member must ${name.length > 64 ? 'have length less than or equal to 64' : 'satisfy regular expression pattern: [\\w+=,.@-]+'}`,
    );
  }
  const path = validatePath(input.Path);
  const tags = validateTags(input.Tags);
  const trustIds = validateTrust(ctx, input.AssumeRolePolicyDocument);
  const account = ctx.account;
  if (account.iam.roles[name.toLowerCase()]) {
    throw new SandboxError('EntityAlreadyExists', `Role with name ${name} already exists.`, {
      statusCode: 409,
    });
  }
  const rolesMax = appliedQuota(account, ctx.region, 'iam', 'L-FE177D64');
  if (Object.keys(account.iam.roles).length >= rolesMax) {
    throw new SandboxError('LimitExceeded', `Cannot exceed quota for RolesPerAccount: ${rolesMax}`, {
      statusCode: 409,
    });
  }
  const maxSession = input.MaxSessionDuration === undefined ? 3600 : Number(input.MaxSessionDuration);
  if (!Number.isInteger(maxSession) || maxSession < 3600 || maxSession > 43_200) {
    throw new SandboxError('ValidationError', 'MaxSessionDuration must be between 3600 and 43200 seconds');
  }
  const role: RoleState = {
    RoleName: name,
    RoleId: `AROA${base32Of(ctx.newHex('role'), 17)}`,
    Arn: `arn:aws:iam::${account.id}:role${path}${name}`,
    Path: path,
    CreateDate: ctx.now(),
    MaxSessionDuration: maxSession,
    AssumeRolePolicyDocument: input.AssumeRolePolicyDocument as string,
    trustPrincipalIds: trustIds,
    Tags: tags,
    inlinePolicies: {},
    attachedPolicyArns: [],
    createdAtCall: ctx.clock,
  };
  if (typeof input.Description === 'string') role.Description = input.Description;
  const boundary = input.PermissionsBoundary;
  if (typeof boundary === 'string') role.PermissionsBoundaryArn = boundary;
  account.iam.roles[name.toLowerCase()] = role;
  return role;
}

/** The role operations: the role itself, its trust policy, its permissions boundary, its tags. */
export const roleOperations: Operations = {
  CreateRole: (ctx, input) => ({ Role: roleOutput(ctx.state, createRole(ctx, input), 'create') }),

  GetRole: (ctx, input) => ({
    Role: roleOutput(ctx.state, roleNamed(ctx, input.RoleName), 'get'),
  }),

  ListRoles: (ctx, input) => {
    const prefix = typeof input.PathPrefix === 'string' ? input.PathPrefix : '/';
    const roles = Object.values(ctx.account.iam.roles)
      .filter((r) => r.Path.startsWith(prefix))
      .sort((a, b) => a.RoleName.localeCompare(b.RoleName));
    const { page, next } = paginate(roles, input.Marker, input.MaxItems, 100);
    return {
      Roles: page.map((r) => roleOutput(ctx.state, r, 'list')),
      IsTruncated: next !== undefined,
      ...(next ? { Marker: next } : {}),
    };
  },

  DeleteRole: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    if (Object.keys(role.inlinePolicies).length > 0) {
      throw new SandboxError('DeleteConflict', 'Cannot delete entity, must delete policies first.', {
        statusCode: 409,
      });
    }
    if (role.attachedPolicyArns.length > 0) {
      throw new SandboxError('DeleteConflict', 'Cannot delete entity, must detach all policies first.', {
        statusCode: 409,
      });
    }
    delete ctx.account.iam.roles[role.RoleName.toLowerCase()];
    return {};
  },

  UpdateRole: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    if (typeof input.Description === 'string') role.Description = input.Description;
    if (typeof input.MaxSessionDuration === 'number') role.MaxSessionDuration = input.MaxSessionDuration;
    return {};
  },

  UpdateAssumeRolePolicy: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    role.trustPrincipalIds = validateTrust(ctx, input.PolicyDocument);
    role.AssumeRolePolicyDocument = input.PolicyDocument as string;
    return {};
  },

  PutRolePermissionsBoundary: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    role.PermissionsBoundaryArn = requireString(input.PermissionsBoundary, 'permissionsBoundary');
    return {};
  },

  DeleteRolePermissionsBoundary: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    delete role.PermissionsBoundaryArn;
    return {};
  },
  TagRole: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    if (Array.isArray(input.Tags)) checkTagContents(input.Tags as { Key?: string; Value?: string }[]);
    const tags = mergeTags(role.Tags, input.Tags);
    checkTagCount(tags.length);
    role.Tags = tags;
    return {};
  },

  UntagRole: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    role.Tags = removeTags(role.Tags, input.TagKeys);
    return {};
  },

  ListRoleTags: (ctx, input) => listTags(roleNamed(ctx, input.RoleName).Tags),
};
