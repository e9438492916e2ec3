/**
 * Ensure a role: read, compare, change only the difference (docs/architecture.md#workflows). Shared by
 * the workload role and the target role. A role of the same name that Tether did not make
 * (or that another owner made) is a conflict, and is never changed.
 */
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  GetRolePolicyCommand,
  type IAMClient,
  type Role,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  ConflictUnmanagedResourceError,
  NotYetPropagatedError,
  PolicyNotAttachableError,
  QuotaExceededError,
} from '#link/errors';
import { isAwsError } from '#aws/errors';
import type { PolicyDocument } from '#link/policy/evaluate';
import { parsePolicy } from '#link/policy/evaluate';
import { canonicalJson } from '#link/canonical-json';
import { isManaged, isOwnedBy, ownerOf, ownershipTags } from '#link/tags';

export interface RoleSpec {
  readonly name: string;
  readonly path: string;
  readonly description: string;
  readonly trust: PolicyDocument;
  readonly inlinePolicies: Readonly<Record<string, PolicyDocument>>;
  /** Owner key written in the tags and required on an existing role. */
  readonly owner: string;
  /** Further tags the role must carry (written at creation, added to an existing role that lacks them). */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * ARN of the permissions boundary the role must carry. Tether's steps always give it: the
   * agent role may create no role without it (docs/deployment.md#the-member-account-stack).
   * Without it (a conformance test's bare endpoint) an existing boundary is left as it is.
   */
  readonly permissionsBoundary?: string;
  /**
   * Managed policies the role must have attached (a link's `awsPolicies`). Missing ones are
   * attached; others attached are never detached here: verify's `…-extras` hop names them.
   */
  readonly managedPolicies?: readonly string[];
}

export type EnsureAction = 'created' | 'updated' | 'unchanged';

export interface EnsuredRole {
  readonly arn: string;
  readonly roleId: string;
  /** When IAM made the role (`CreateDate`, ISO 8601): with the id, what an access entry is bound to. */
  readonly createdAt?: string;
  readonly action: EnsureAction;
  /** What changed on an existing role. */
  readonly changes: readonly string[];
}

export function samePolicy(a: PolicyDocument | string | undefined, b: PolicyDocument): boolean {
  if (a === undefined) return false;
  const left = typeof a === 'string' ? parsePolicy(a) : a;
  return canonicalJson(normalise(left)) === canonicalJson(normalise(b));
}

/** IAM returns single-element lists as written; treat `"x"` and `["x"]` alike. */
function normalise(policy: PolicyDocument): unknown {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length === 1 ? walk(v[0]) : v.map(walk);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(policy);
}

/** The role, or undefined if it does not exist. */
export async function findRole(iam: IAMClient, name: string): Promise<Role | undefined> {
  try {
    return (await iam.send(new GetRoleCommand({ RoleName: name }))).Role;
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntity')) return undefined;
    throw err;
  }
}

async function getInlinePolicy(
  iam: IAMClient,
  roleName: string,
  policyName: string,
): Promise<string | undefined> {
  try {
    return (await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })))
      .PolicyDocument;
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntity')) return undefined;
    throw err;
  }
}

/**
 * IAM's answer to a call on a role this step has just made or just read. `NoSuchEntity` there
 * is IAM's read-after-write lag (docs/aws-facts.md#iam-eventual-consistency), not a missing
 * role: retried as {@link NotYetPropagatedError}. A role someone deleted meanwhile is found
 * absent by the retry, which then makes it again.
 */
function onKnownRole(err: unknown, what: string): unknown {
  if (isAwsError(err, 'NoSuchEntity')) {
    return new NotYetPropagatedError(
      `${what}: IAM does not show the role yet, though this step has just made or read it (read-after-write lag)`,
      { cause: err },
    );
  }
  return iamError(err, what);
}

/** Maps IAM's answers to the errors the workflow understands. */
function iamError(err: unknown, what: string): unknown {
  if (isAwsError(err, 'MalformedPolicyDocument') && /invalid principal/i.test((err as Error).message)) {
    // A principal made moments ago is not yet visible to IAM (docs/aws-facts.md#iam-eventual-consistency): retry.
    return new NotYetPropagatedError(`${what}: ${(err as Error).message}`, { cause: err });
  }
  if (isAwsError(err, 'LimitExceeded'))
    return new QuotaExceededError(`${what}: ${(err as Error).message}`, { cause: err });
  return err;
}

/** Checks that an existing role is Tether's and belongs to `owner`. */
export function assertOwnedRole(role: Role, owner: string): void {
  if (!isManaged(role.Tags)) {
    throw new ConflictUnmanagedResourceError(
      role.Arn ?? role.RoleName ?? 'role',
      `IAM role ${role.Arn} exists and was not made by Tether; Tether will not change it (rename or remove it, then retry)`,
    );
  }
  const current = ownerOf(role.Tags);
  if (!isOwnedBy(role.Tags, owner)) {
    throw new ConflictUnmanagedResourceError(
      role.Arn ?? 'role',
      `IAM role ${role.Arn} is Tether's but belongs to ${current ?? 'no owner'}, not ${owner}`,
    );
  }
}

/** The tags of `spec` that `role` lacks or holds with another value. */
function missingTags(role: Role, spec: RoleSpec): { Key: string; Value: string }[] {
  return Object.entries(spec.tags ?? {})
    .filter(([key, value]) => !role.Tags?.some((t) => t.Key === key && t.Value === value))
    .map(([Key, Value]) => ({ Key, Value }));
}

/** Creates the role or brings an existing Tether role to the spec; makes no call when nothing differs. */
export async function ensureRole(iam: IAMClient, spec: RoleSpec): Promise<EnsuredRole> {
  let role = await findRole(iam, spec.name);
  const changes: string[] = [];
  let action: EnsureAction = 'unchanged';
  if (!role) {
    try {
      role = (
        await iam.send(
          new CreateRoleCommand({
            RoleName: spec.name,
            Path: spec.path,
            Description: spec.description,
            AssumeRolePolicyDocument: JSON.stringify(spec.trust),
            ...(spec.permissionsBoundary ? { PermissionsBoundary: spec.permissionsBoundary } : {}),
            Tags: [
              ...ownershipTags(spec.owner),
              ...Object.entries(spec.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
            ],
          }),
        )
      ).Role;
      action = 'created';
    } catch (err) {
      if (!isAwsError(err, 'EntityAlreadyExists')) throw iamError(err, `CreateRole ${spec.name}`);
      role = await findRole(iam, spec.name); // a concurrent run made it: check it as an existing role
      if (!role) {
        throw new NotYetPropagatedError(
          `CreateRole ${spec.name}: IAM says the role exists but does not show it yet (read-after-write lag)`,
          { cause: err },
        );
      }
    }
    if (!role) throw new Error(`CreateRole ${spec.name} returned no role`);
  }
  if (action !== 'created') {
    assertOwnedRole(role, spec.owner);
    if (!samePolicy(role.AssumeRolePolicyDocument, spec.trust)) {
      try {
        await iam.send(
          new UpdateAssumeRolePolicyCommand({
            RoleName: spec.name,
            PolicyDocument: JSON.stringify(spec.trust),
          }),
        );
      } catch (err) {
        throw onKnownRole(err, `UpdateAssumeRolePolicy ${spec.name}`);
      }
      changes.push('trust');
    }
    const tags = missingTags(role, spec);
    if (tags.length > 0) {
      try {
        await iam.send(new TagRoleCommand({ RoleName: spec.name, Tags: tags }));
      } catch (err) {
        throw onKnownRole(err, `TagRole ${spec.name}`);
      }
      changes.push('tags');
    }
    if (
      spec.permissionsBoundary &&
      role.PermissionsBoundary?.PermissionsBoundaryArn !== spec.permissionsBoundary
    ) {
      await iam.send(
        new PutRolePermissionsBoundaryCommand({
          RoleName: spec.name,
          PermissionsBoundary: spec.permissionsBoundary,
        }),
      );
      changes.push('boundary');
    }
  }
  for (const [policyName, document] of Object.entries(spec.inlinePolicies)) {
    const current = action === 'created' ? undefined : await getInlinePolicy(iam, spec.name, policyName);
    if (samePolicy(current, document)) continue;
    try {
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: spec.name,
          PolicyName: policyName,
          PolicyDocument: JSON.stringify(document),
        }),
      );
    } catch (err) {
      throw onKnownRole(err, `PutRolePolicy ${spec.name}/${policyName}`);
    }
    if (action !== 'created') changes.push(`policy:${policyName}`);
  }
  if (spec.managedPolicies?.length) {
    const attached = new Set<string>();
    if (action !== 'created') {
      let marker: string | undefined;
      do {
        const page = await iam.send(
          new ListAttachedRolePoliciesCommand({ RoleName: spec.name, ...(marker ? { Marker: marker } : {}) }),
        );
        for (const p of page.AttachedPolicies ?? []) if (p.PolicyArn) attached.add(p.PolicyArn);
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
    }
    for (const policyArn of spec.managedPolicies) {
      if (attached.has(policyArn)) continue;
      try {
        await iam.send(new AttachRolePolicyCommand({ RoleName: spec.name, PolicyArn: policyArn }));
      } catch (err) {
        // IAM names the policy when it is the policy that is missing (or not attachable).
        if (
          isAwsError(err, 'NoSuchEntity', 'PolicyNotAttachable') &&
          (err as Error).message.includes(policyArn)
        ) {
          throw new PolicyNotAttachableError(`AttachRolePolicy ${spec.name}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        throw onKnownRole(err, `AttachRolePolicy ${spec.name} ${policyArn}`);
      }
      if (action !== 'created') changes.push(`attached:${policyArn}`);
    }
  }
  if (action !== 'created' && changes.length > 0) action = 'updated';
  return {
    arn: role.Arn ?? '',
    roleId: role.RoleId ?? '',
    ...(role.CreateDate ? { createdAt: new Date(role.CreateDate).toISOString() } : {}),
    action,
    changes,
  };
}

export type RemoveAction = 'deleted' | 'absent' | 'left-unmanaged';

/**
 * Deletes a role if it is Tether's and `owner`'s: inline policies, attached policies, then
 * the role. A role that is not (an unmanaged look-alike) is left exactly as it is.
 */
export async function deleteOwnedRole(
  iam: IAMClient,
  name: string,
  owner: string,
): Promise<{ action: RemoveAction; arn?: string }> {
  const role = await findRole(iam, name);
  if (!role) return { action: 'absent' };
  if (!isOwnedBy(role.Tags, owner)) return { action: 'left-unmanaged', arn: role.Arn ?? name };
  // NoSuchEntity on the role just read is lag or a concurrent removal: the retry's GetRole tells which.
  const known = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      throw onKnownRole(err, `${what} ${name}`);
    }
  };
  const inline =
    (await known('ListRolePolicies', () => iam.send(new ListRolePoliciesCommand({ RoleName: name }))))
      .PolicyNames ?? [];
  for (const policyName of inline) {
    try {
      await iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policyName }));
    } catch (err) {
      if (!isAwsError(err, 'NoSuchEntity')) throw err;
    }
  }
  const attached =
    (
      await known('ListAttachedRolePolicies', () =>
        iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name })),
      )
    ).AttachedPolicies ?? [];
  for (const p of attached) {
    try {
      await iam.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: p.PolicyArn }));
    } catch (err) {
      if (!isAwsError(err, 'NoSuchEntity')) throw err;
    }
  }
  await known('DeleteRole', () => iam.send(new DeleteRoleCommand({ RoleName: name })));
  return { action: 'deleted', arn: role.Arn ?? name };
}
