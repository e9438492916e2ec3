/**
 * IAM: roles (trust, inline and attached policies, tags) and OIDC providers. IAM is
 * global: the region of the call is ignored. Quotas and messages follow AWS-FACTS "IAM".
 */
import {
  clone,
  type Handler,
  mergeTags,
  nonWhitespaceLength,
  type OpContext,
  type Operations,
  paginate,
  removeTags,
  requireString,
} from './context';
import { SandboxError } from './errors';
import { type AccountState, base32Of, type RoleState, type SandboxState, type TagState } from './state';

/** Trust policy size: 2,048 characters by default (AWS-FACTS "IAM", IAM quotas page). */
export const TRUST_POLICY_MAX = 2048;
/** All inline policies of one role: 10,240 characters, whitespace not counted. */
export const INLINE_POLICIES_MAX = 10_240;
/** Roles per account. */
export const ROLES_PER_ACCOUNT = 1000;
/** OIDC providers per account. */
export const OIDC_PROVIDERS_PER_ACCOUNT = 100;
/** Tags per role (and per OIDC provider). */
export const TAGS_PER_RESOURCE = 50;
/** Managed policies attached to one role (IAM default quota). */
export const ATTACHED_POLICIES_PER_ROLE = 10;

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;
const ROLE_ARN = /^arn:aws:iam::(\d{12}):role(\/.*)$/;

/** A parsed IAM policy statement (only the parts the sandbox reads). */
export interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action?: unknown;
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** A parsed IAM policy. */
export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement[];
}

/** Parses a policy; MalformedPolicyDocument on bad JSON or shape, like IAM. */
export function parsePolicy(text: string): PolicyDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SandboxError('MalformedPolicyDocument', 'This policy contains invalid Json');
  }
  if (typeof raw !== 'object' || raw === null || !('Statement' in raw)) {
    throw new SandboxError('MalformedPolicyDocument', 'Syntax errors in policy.');
  }
  const st = (raw as { Statement: unknown }).Statement;
  const statements = Array.isArray(st) ? st : [st];
  for (const s of statements) {
    if (typeof s !== 'object' || s === null)
      throw new SandboxError('MalformedPolicyDocument', 'Syntax errors in policy.');
    const effect = (s as PolicyStatement).Effect;
    if (effect !== 'Allow' && effect !== 'Deny') {
      throw new SandboxError('MalformedPolicyDocument', `Invalid effect: ${String(effect)}`);
    }
  }
  return { ...(raw as object), Statement: statements as PolicyStatement[] };
}

/** The `Principal.AWS` entries of a statement, as strings. */
export function awsPrincipals(statement: PolicyStatement): string[] {
  const p = statement.Principal;
  if (p === '*') return ['*'];
  if (typeof p !== 'object' || p === null) return [];
  const aws = (p as Record<string, unknown>).AWS;
  if (typeof aws === 'string') return [aws];
  if (Array.isArray(aws)) return aws.filter((a): a is string => typeof a === 'string');
  return [];
}

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

/** The role of `account` named `name` (case-insensitive, as IAM), or NoSuchEntity. */
export function getRoleOrThrow(account: AccountState, name: unknown): RoleState {
  const n = requireString(name, 'roleName');
  const role = account.iam.roles[n.toLowerCase()];
  if (!role)
    throw new SandboxError('NoSuchEntity', `The role with name ${n} cannot be found.`, { statusCode: 404 });
  return role;
}

/**
 * Checks a trust policy as CreateRole/UpdateAssumeRolePolicy do and returns the role ids
 * of the role ARNs it names (IAM stores those ids: AWS-FACTS "IAM").
 */
function validateTrust(ctx: OpContext, text: unknown): Record<string, string> {
  const doc = requireString(text, 'assumeRolePolicyDocument');
  // Whitespace does not count toward the quota (AWS-FACTS "IAM").
  if (nonWhitespaceLength(doc) > TRUST_POLICY_MAX) {
    throw new SandboxError('LimitExceeded', `Cannot exceed quota for ACLSizePerRole: ${TRUST_POLICY_MAX}`, {
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
      // with the same message (AWS-FACTS "IAM": eventual consistency).
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

/** The Role structure IAM returns. */
function roleOutput(state: SandboxState, role: RoleState, full: boolean): Record<string, unknown> {
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
  if (role.PermissionsBoundaryArn) {
    out.PermissionsBoundary = {
      PermissionsBoundaryType: 'Policy',
      PermissionsBoundaryArn: role.PermissionsBoundaryArn,
    };
  }
  if (role.Tags.length > 0) out.Tags = clone(role.Tags);
  if (full) out.RoleLastUsed = {};
  return out;
}

/** IAM's tag character set (IAM API reference, Tag: Key and Value patterns). */
const TAG_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Keys ≤ 128 and values ≤ 256 characters of IAM's tag set, as IAM checks them. */
function checkTagContents(tags: readonly { Key?: string; Value?: string }[]): void {
  tags.forEach((t, i) => {
    const key = t.Key ?? '';
    const value = t.Value ?? '';
    const at = (field: string, rule: string) =>
      new SandboxError(
        'ValidationError',
        `1 validation error detected: Value at 'tags.${i + 1}.member.${field}' failed to satisfy constraint: ${rule}`,
      );
    if (key.length < 1 || key.length > 128) throw at('key', 'Member must have length between 1 and 128');
    if (!TAG_PATTERN.test(key))
      throw at('key', 'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+');
    if (value.length > 256) throw at('value', 'Member must have length less than or equal to 256');
    if (!TAG_PATTERN.test(value))
      throw at('value', 'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*');
  });
}

function validateTags(tags: unknown): TagState[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw new SandboxError('ValidationError', 'Tags must be a list');
  checkTagContents(tags as { Key?: string; Value?: string }[]);
  const out = mergeTags([], tags as { Key?: string; Value?: string }[]);
  checkTagCount(out.length);
  return out;
}

function checkTagCount(n: number): void {
  if (n > TAGS_PER_RESOURCE) {
    throw new SandboxError('LimitExceeded', `Cannot exceed quota for TagsPerRole: ${TAGS_PER_RESOURCE}`, {
      statusCode: 409,
    });
  }
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
  if (Object.keys(account.iam.roles).length >= ROLES_PER_ACCOUNT) {
    throw new SandboxError('LimitExceeded', `Cannot exceed quota for RolesPerAccount: ${ROLES_PER_ACCOUNT}`, {
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

function policyName(value: unknown): string {
  const n = requireString(value, 'policyName');
  if (!POLICY_NAME.test(n)) {
    throw new SandboxError(
      'ValidationError',
      `1 validation error detected: Value '${n}' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`,
    );
  }
  return n;
}

/** Managed policies IAM knows: AWS managed ones (any `arn:aws:iam::aws:policy/…`). */
function checkManagedPolicyArn(arn: unknown): string {
  const a = requireString(arn, 'policyArn');
  if (!/^arn:aws:iam::aws:policy\/.+/.test(a)) {
    // The sandbox has no customer managed policies (no CreatePolicy).
    throw new SandboxError('NoSuchEntity', `Policy ${a} does not exist or is not attachable.`, {
      statusCode: 404,
    });
  }
  return a;
}

function oidcOrThrow(
  account: AccountState,
  arn: unknown,
): NonNullable<AccountState['iam']['oidcProviders'][string]> {
  const a = requireString(arn, 'openIDConnectProviderArn');
  const p = account.iam.oidcProviders[a];
  if (!p)
    throw new SandboxError('NoSuchEntity', `OpenIDConnect provider not found for arn ${a}`, {
      statusCode: 404,
    });
  return p;
}

const listTags = (tags: TagState[]): Record<string, unknown> => ({ Tags: clone(tags), IsTruncated: false });

const ops: Record<string, Handler> = {
  CreateRole: (ctx, input) => ({ Role: roleOutput(ctx.state, createRole(ctx, input), false) }),

  GetRole: (ctx, input) => ({
    Role: roleOutput(ctx.state, getRoleOrThrow(ctx.account, input.RoleName), true),
  }),

  ListRoles: (ctx, input) => {
    const prefix = typeof input.PathPrefix === 'string' ? input.PathPrefix : '/';
    const roles = Object.values(ctx.account.iam.roles)
      .filter((r) => r.Path.startsWith(prefix))
      .sort((a, b) => a.RoleName.localeCompare(b.RoleName));
    const { page, next } = paginate(roles, input.Marker, input.MaxItems, 100);
    return {
      Roles: page.map((r) => roleOutput(ctx.state, r, false)),
      IsTruncated: next !== undefined,
      ...(next ? { Marker: next } : {}),
    };
  },

  DeleteRole: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
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
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    if (typeof input.Description === 'string') role.Description = input.Description;
    if (typeof input.MaxSessionDuration === 'number') role.MaxSessionDuration = input.MaxSessionDuration;
    return {};
  },

  UpdateAssumeRolePolicy: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    role.trustPrincipalIds = validateTrust(ctx, input.PolicyDocument);
    role.AssumeRolePolicyDocument = input.PolicyDocument as string;
    return {};
  },

  PutRolePermissionsBoundary: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    role.PermissionsBoundaryArn = requireString(input.PermissionsBoundary, 'permissionsBoundary');
    return {};
  },

  DeleteRolePermissionsBoundary: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    delete role.PermissionsBoundaryArn;
    return {};
  },

  PutRolePolicy: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    const name = policyName(input.PolicyName);
    const doc = requireString(input.PolicyDocument, 'policyDocument');
    parsePolicy(doc);
    const others = Object.entries(role.inlinePolicies).filter(([n]) => n !== name);
    const total = others.reduce((sum, [, d]) => sum + nonWhitespaceLength(d), 0) + nonWhitespaceLength(doc);
    // 10,240 characters for all inline policies of the role (AWS-FACTS "IAM").
    if (total > INLINE_POLICIES_MAX) {
      throw new SandboxError(
        'LimitExceeded',
        `Maximum policy size of ${INLINE_POLICIES_MAX} bytes exceeded for role ${role.RoleName}`,
        {
          statusCode: 409,
        },
      );
    }
    role.inlinePolicies[name] = doc;
    return {};
  },

  GetRolePolicy: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    const name = requireString(input.PolicyName, 'policyName');
    const doc = role.inlinePolicies[name];
    if (doc === undefined) {
      throw new SandboxError('NoSuchEntity', `The role policy with name ${name} cannot be found.`, {
        statusCode: 404,
      });
    }
    return { RoleName: role.RoleName, PolicyName: name, PolicyDocument: encodeURIComponent(doc) };
  },

  DeleteRolePolicy: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    const name = requireString(input.PolicyName, 'policyName');
    if (role.inlinePolicies[name] === undefined) {
      throw new SandboxError('NoSuchEntity', `The role policy with name ${name} cannot be found.`, {
        statusCode: 404,
      });
    }
    delete role.inlinePolicies[name];
    return {};
  },

  ListRolePolicies: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    return { PolicyNames: Object.keys(role.inlinePolicies).sort(), IsTruncated: false };
  },

  AttachRolePolicy: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    const arn = checkManagedPolicyArn(input.PolicyArn);
    if (role.attachedPolicyArns.includes(arn)) return {};
    if (role.attachedPolicyArns.length >= ATTACHED_POLICIES_PER_ROLE) {
      throw new SandboxError(
        'LimitExceeded',
        `Cannot exceed quota for PoliciesPerRole: ${ATTACHED_POLICIES_PER_ROLE}`,
        { statusCode: 409 },
      );
    }
    role.attachedPolicyArns.push(arn);
    return {};
  },

  DetachRolePolicy: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    const arn = requireString(input.PolicyArn, 'policyArn');
    if (!role.attachedPolicyArns.includes(arn)) {
      throw new SandboxError('NoSuchEntity', `Policy ${arn} was not found.`, { statusCode: 404 });
    }
    role.attachedPolicyArns = role.attachedPolicyArns.filter((a) => a !== arn);
    return {};
  },

  ListAttachedRolePolicies: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    return {
      AttachedPolicies: role.attachedPolicyArns.map((a) => ({
        PolicyArn: a,
        PolicyName: a.split('/').pop(),
      })),
      IsTruncated: false,
    };
  },

  TagRole: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    if (Array.isArray(input.Tags)) checkTagContents(input.Tags as { Key?: string; Value?: string }[]);
    const tags = mergeTags(role.Tags, input.Tags);
    checkTagCount(tags.length);
    role.Tags = tags;
    return {};
  },

  UntagRole: (ctx, input) => {
    const role = getRoleOrThrow(ctx.account, input.RoleName);
    role.Tags = removeTags(role.Tags, input.TagKeys);
    return {};
  },

  ListRoleTags: (ctx, input) => listTags(getRoleOrThrow(ctx.account, input.RoleName).Tags),

  CreateOpenIDConnectProvider: (ctx, input) => {
    const url = requireString(input.Url, 'url');
    const m = /^https:\/\/([^/?#]+(?:\/[^?#]*)?)$/.exec(url);
    if (!m) throw new SandboxError('InvalidInput', 'Invalid URL');
    const hostPath = (m[1] ?? '').replace(/\/$/, '');
    const arn = `arn:aws:iam::${ctx.account.id}:oidc-provider/${hostPath}`;
    const tags = validateTags(input.Tags);
    if (ctx.account.iam.oidcProviders[arn]) {
      throw new SandboxError('EntityAlreadyExists', `Provider with url https://${hostPath} already exists.`, {
        statusCode: 409,
      });
    }
    if (Object.keys(ctx.account.iam.oidcProviders).length >= OIDC_PROVIDERS_PER_ACCOUNT) {
      throw new SandboxError(
        'LimitExceeded',
        `Cannot exceed quota for OpenIdConnectProvidersPerAccount: ${OIDC_PROVIDERS_PER_ACCOUNT}`,
        {
          statusCode: 409,
        },
      );
    }
    ctx.account.iam.oidcProviders[arn] = {
      Arn: arn,
      Url: hostPath,
      ClientIDList: Array.isArray(input.ClientIDList) ? [...new Set<string>(input.ClientIDList)] : [],
      // Thumbprints are optional since IAM fetches them itself for well-known issuers.
      ThumbprintList: Array.isArray(input.ThumbprintList) ? [...input.ThumbprintList] : [],
      CreateDate: ctx.now(),
      Tags: tags,
    };
    return { OpenIDConnectProviderArn: arn, ...(tags.length > 0 ? { Tags: clone(tags) } : {}) };
  },

  GetOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    return {
      Url: p.Url,
      ClientIDList: [...p.ClientIDList],
      ThumbprintList: [...p.ThumbprintList],
      CreateDate: new Date(p.CreateDate),
      ...(p.Tags.length > 0 ? { Tags: clone(p.Tags) } : {}),
    };
  },

  ListOpenIDConnectProviders: (ctx) => ({
    OpenIDConnectProviderList: Object.keys(ctx.account.iam.oidcProviders)
      .sort()
      .map((Arn) => ({ Arn })),
  }),

  DeleteOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    delete ctx.account.iam.oidcProviders[p.Arn];
    return {};
  },

  AddClientIDToOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    const id = requireString(input.ClientID, 'clientID');
    if (!p.ClientIDList.includes(id)) p.ClientIDList.push(id);
    return {};
  },

  RemoveClientIDFromOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    p.ClientIDList = p.ClientIDList.filter((c) => c !== input.ClientID);
    return {};
  },

  TagOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    const tags = mergeTags(p.Tags, input.Tags);
    checkTagCount(tags.length);
    p.Tags = tags;
    return {};
  },

  UntagOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    p.Tags = removeTags(p.Tags, input.TagKeys);
    return {};
  },

  ListOpenIDConnectProviderTags: (ctx, input) =>
    listTags(oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn).Tags),
};

/** The IAM operations the sandbox implements. */
export const iamOperations: Operations = ops;
