/**
 * Access entry (target account): the EKS access entry for the target role plus its access
 * policy association (the cross-account IRSA runbook, step 5, option B: docs/runbooks.md#the-cross-account-irsa-runbook), for clusters in `API` or
 * `API_AND_CONFIG_MAP` mode; an `aws-auth` mapRoles entry for clusters in `CONFIG_MAP`
 * mode (step 5, option A). One per link.
 */
import {
  type AccessEntry,
  type AssociatedAccessPolicy,
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DeleteAccessEntryCommand,
  DescribeAccessEntryCommand,
  DisassociateAccessPolicyCommand,
  type EKSClient,
  ListAssociatedAccessPoliciesCommand,
  UpdateAccessEntryCommand,
} from '@aws-sdk/client-eks';
import type { AwsClients } from '#aws/clients';
import { type KubernetesApi, type MapRole, readAwsAuth, writeAwsAuth } from '#aws/kubernetes';
import { ConflictUnmanagedResourceError, NotYetPropagatedError, UnsupportedClusterError } from '#link/errors';
import { isAwsError } from '#aws/errors';
import type { Access, ClusterRef, Link } from '#link/model';
import {
  earlierKubernetesUsernames,
  isDirectAccess,
  kubernetesUsername,
  owners,
  sourceRoleArnOf,
  targetRoleName,
  workloadRoleName,
} from '#link/names';
import { isOwnedBy, ownershipTagMap } from '#link/tags';
import { type ResolvedTarget, resolvedOf } from './resolve';
import type { StepDeps } from './deps';
import { findRole } from './iam-role';
import { targetRoleArnOf } from './workload-role';

const groupsOf = (access: Access): string[] => ('groups' in access ? [...access.groups].sort() : []);

/** `aws-auth` cannot take a role ARN with a path (EKS user guide, creating access entries). */
export function withoutPath(roleArn: string): string {
  const m = /^(arn:aws[a-z-]*:iam::\d{12}:role)\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  return m ? `${m[1]}/${m[2]}` : roleArn;
}

function sameScope(
  a: { type?: string | undefined; namespaces?: string[] | undefined } | undefined,
  b: Extract<Access, { policyArn: string }>,
): boolean {
  if (!a || a.type !== b.scope.type) return false;
  const want = b.scope.type === 'namespace' ? [...b.scope.namespaces].sort() : [];
  return [...(a.namespaces ?? [])].sort().join() === want.join();
}

/** The role an access entry is for, as IAM has it now: EKS binds the entry to its unique id. */
export interface EntryPrincipal {
  readonly arn: string;
  /** The role's unique id (`GetRole` `RoleId`), when the role exists. */
  readonly roleId?: string;
  /** When the role was made (`GetRole` `CreateDate`). */
  readonly createdAt?: Date;
}

/**
 * Tag on the access entries Tether makes: the unique id of the role the entry was made for.
 * EKS stores that id with the entry and lets in only that role, not one made again under
 * the same ARN (docs/aws-facts.md#access-entries-keep-the-role-id); the API does not show
 * it, so Tether records it.
 */
export const ROLE_ID_TAG = 'tether:role-id';

/**
 * Whether an access entry was made for the role as it is now. The role id recorded on the
 * entry decides; an entry without one (not made by Tether, or made before Tether recorded
 * it) is judged by time: an entry older than its role was made for an earlier role of that
 * ARN. When neither can be told, the entry is taken as bound.
 */
export function entryBinding(
  entry: Pick<AccessEntry, 'tags' | 'createdAt'>,
  principal: EntryPrincipal,
): { readonly bound: boolean; readonly detail?: string } {
  const recorded = entry.tags?.[ROLE_ID_TAG];
  if (recorded !== undefined && principal.roleId !== undefined) {
    return recorded === principal.roleId
      ? { bound: true }
      : {
          bound: false,
          detail: `the access entry was made for role id ${recorded}, and ${principal.arn} is now role id ${principal.roleId} (made again under the same ARN)`,
        };
  }
  if (entry.createdAt && principal.createdAt && entry.createdAt < principal.createdAt) {
    return {
      bound: false,
      detail: `the access entry was made at ${entry.createdAt.toISOString()}, before ${principal.arn} (made at ${principal.createdAt.toISOString()}): it is bound to an earlier role of that ARN`,
    };
  }
  return { bound: true };
}

async function describeEntry(
  eks: EKSClient,
  clusterName: string,
  principalArn: string,
): Promise<AccessEntry | undefined> {
  try {
    return (await eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn }))).accessEntry;
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return undefined;
    throw err;
  }
}

async function associatedPolicies(eks: EKSClient, clusterName: string, principalArn: string) {
  const out: AssociatedAccessPolicy[] = [];
  let nextToken: string | undefined;
  do {
    const page = await eks.send(
      new ListAssociatedAccessPoliciesCommand({
        clusterName,
        principalArn,
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    out.push(...(page.associatedAccessPolicies ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

/**
 * Why an entry Tether did not make does not grant exactly `access` (undefined when it does):
 * a STANDARD entry with exactly the one access policy in the same scope and no groups, or
 * exactly the groups and no policy; and the username, when the request names one.
 */
function differenceFromAccess(
  entry: AccessEntry,
  associated: readonly AssociatedAccessPolicy[],
  access: Access,
): string | undefined {
  if ((entry.type ?? 'STANDARD') !== 'STANDARD') return `it is of type ${entry.type}`;
  if (access.username !== undefined && entry.username !== access.username) {
    return `its username is ${entry.username ?? 'none'}, not ${access.username}`;
  }
  const groups = [...(entry.kubernetesGroups ?? [])].sort();
  const policies = associated.map((a) => `${a.policyArn} (${a.accessScope?.type ?? '?'} scope)`);
  if ('policyArn' in access) {
    const only = associated.length === 1 ? associated[0] : undefined;
    if (
      groups.length ||
      !only ||
      only.policyArn !== access.policyArn ||
      !sameScope(only.accessScope, access)
    ) {
      return `it grants ${[...policies, ...groups.map((g) => `group ${g}`)].join(', ') || 'nothing'}`;
    }
    return undefined;
  }
  if (associated.length || groups.join() !== groupsOf(access).join()) {
    return `it grants ${[...policies, ...groups.map((g) => `group ${g}`)].join(', ') || 'nothing'}`;
  }
  return undefined;
}

/** What Tether records of an access entry someone else made that already grants the link's access. */
export const ADOPTED_ACCESS_NOTE = 'grants exactly the requested access; made by someone else, not managed';

/**
 * Ensures the access entry and, for policy access, exactly its one association.
 *
 * - No entry: make it, tagged with its owner and the role id it is made for ({@link ROLE_ID_TAG}).
 * - Tether's entry, made for an earlier role of the same ARN ({@link entryBinding}): it lets
 *   nobody in any more, so delete it and make it again with its association (`replaced`).
 * - Tether's entry: bring its groups, username and association to the spec.
 * - An entry Tether did not make that grants exactly the asked-for access to the role as it
 *   is now: use it as it is, never change or delete it (`uses-existing-unmanaged`).
 * - Any other entry Tether did not make: a conflict, left untouched.
 */
export async function ensureAccessEntry(
  eks: EKSClient,
  clusterName: string,
  principal: EntryPrincipal,
  access: Access,
  username: string,
  owner: string,
): Promise<Record<string, unknown>> {
  const principalArn = principal.arn;
  const groups = groupsOf(access);
  const wanted = 'policyArn' in access ? access : undefined;
  const changes: string[] = [];
  let action: 'created' | 'replaced' | 'updated' | 'unchanged' = 'unchanged';
  let entry = await describeEntry(eks, clusterName, principalArn);
  /** Whether this run made the entry, so it has no association yet. */
  let fresh = false;
  if (entry && !isOwnedBy(entry.tags, owner)) {
    const binding = entryBinding(entry, principal);
    const associated = await associatedPolicies(eks, clusterName, principalArn);
    const difference = binding.bound ? differenceFromAccess(entry, associated, access) : binding.detail;
    if (difference !== undefined) {
      throw new ConflictUnmanagedResourceError(
        entry.accessEntryArn ?? principalArn,
        `An access entry for ${principalArn} on cluster ${clusterName} exists and was not made by Tether for this link, and ${difference}; Tether will not change it`,
      );
    }
    return {
      kind: 'access-entry',
      action: 'uses-existing-unmanaged',
      note: ADOPTED_ACCESS_NOTE,
      accessEntryArn: entry.accessEntryArn,
      principalArn,
      username: entry.username,
      ...(wanted ? { policyArn: wanted.policyArn, scope: wanted.scope } : { kubernetesGroups: groups }),
    };
  }
  if (entry) {
    const binding = entryBinding(entry, principal);
    if (!binding.bound) {
      // EKS would never let the role in through it again: make it anew (its associations go with it).
      try {
        await eks.send(new DeleteAccessEntryCommand({ clusterName, principalArn }));
      } catch (err) {
        if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
      }
      changes.push(`replaced: ${binding.detail}`);
      entry = undefined;
      action = 'replaced';
    }
  }
  if (!entry) {
    try {
      entry = (
        await eks.send(
          new CreateAccessEntryCommand({
            clusterName,
            principalArn,
            type: 'STANDARD',
            username,
            ...(groups.length ? { kubernetesGroups: groups } : {}),
            tags: {
              ...ownershipTagMap(owner),
              ...(principal.roleId ? { [ROLE_ID_TAG]: principal.roleId } : {}),
            },
          }),
        )
      ).accessEntry;
      if (action !== 'replaced') action = 'created';
      fresh = true;
    } catch (err) {
      if (isAwsError(err, 'InvalidParameterException') && /principal/i.test((err as Error).message)) {
        // The target role is new and EKS does not see it yet (docs/aws-facts.md#iam-eventual-consistency): retry.
        throw new NotYetPropagatedError(`CreateAccessEntry on ${clusterName}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (!isAwsError(err, 'ResourceInUseException')) throw err;
      // A concurrent run made it first: it must be this link's, and is brought to the spec as an existing one.
      entry = await describeEntry(eks, clusterName, principalArn);
      if (!isOwnedBy(entry?.tags, owner)) {
        throw new ConflictUnmanagedResourceError(
          entry?.accessEntryArn ?? principalArn,
          `An access entry for ${principalArn} on cluster ${clusterName} appeared that Tether did not make for this link; Tether will not change it`,
        );
      }
      fresh = false;
    }
  }
  if (!fresh) {
    const currentGroups = [...(entry?.kubernetesGroups ?? [])].sort();
    if (currentGroups.join() !== groups.join() || entry?.username !== username) {
      await eks.send(
        new UpdateAccessEntryCommand({ clusterName, principalArn, kubernetesGroups: groups, username }),
      );
      changes.push('kubernetesGroups');
    }
  }
  // The entry is Tether's, so every association on it is Tether's: keep exactly the wanted one.
  const associated = fresh ? [] : await associatedPolicies(eks, clusterName, principalArn);
  for (const a of associated) {
    if (wanted && a.policyArn === wanted.policyArn) continue;
    await eks.send(
      new DisassociateAccessPolicyCommand({ clusterName, principalArn, policyArn: a.policyArn }),
    );
    changes.push(`disassociated:${a.policyArn}`);
  }
  if (wanted) {
    const current = associated.find((a) => a.policyArn === wanted.policyArn);
    if (!current || !sameScope(current.accessScope, wanted)) {
      try {
        await eks.send(
          new AssociateAccessPolicyCommand({
            clusterName,
            principalArn,
            policyArn: wanted.policyArn,
            accessScope:
              wanted.scope.type === 'namespace'
                ? { type: 'namespace', namespaces: [...wanted.scope.namespaces] }
                : { type: 'cluster' },
          }),
        );
      } catch (err) {
        if (isAwsError(err, 'ResourceNotFoundException') && /principal/i.test((err as Error).message)) {
          throw new NotYetPropagatedError(
            `AssociateAccessPolicy on ${clusterName}: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        }
        throw err;
      }
      if (!fresh) changes.push(`associated:${wanted.policyArn}`);
    }
  }
  if (action === 'unchanged' && changes.length) action = 'updated';
  return {
    kind: 'access-entry',
    action,
    changes,
    accessEntryArn: entry?.accessEntryArn,
    principalArn,
    ...(principal.roleId ? { roleId: principal.roleId } : {}),
    username,
    ...(wanted ? { policyArn: wanted.policyArn, scope: wanted.scope } : { kubernetesGroups: groups }),
  };
}

/**
 * Ensures one mapRoles entry in `aws-auth`; entries Tether did not write are never changed.
 * Tether's entry is the one with its username, or with a default username Tether wrote
 * before (`earlier`), which is brought to today's.
 */
export async function ensureAwsAuthEntry(
  kube: KubernetesApi,
  principalArn: string,
  access: Access,
  username: string,
  earlier: readonly string[] = [],
): Promise<Record<string, unknown>> {
  if (!('groups' in access)) {
    throw new UnsupportedClusterError(
      'The target cluster authenticates with the aws-auth ConfigMap only (CONFIG_MAP mode), which cannot attach EKS access policies: ask for Kubernetes groups, or switch the cluster to API_AND_CONFIG_MAP',
    );
  }
  const rolearn = withoutPath(principalArn);
  const want: MapRole = { rolearn, username, groups: [...access.groups].sort() };
  const read = await readAwsAuth(kube);
  const roles = read.mapRoles;
  const existing = roles.find((r) => r.rolearn === rolearn);
  if (existing) {
    // A mapRoles entry has no tags: Tether's are those with its username.
    const tethers = existing.username === username || earlier.includes(existing.username ?? '');
    if (!tethers) {
      // Someone else's mapping that grants exactly the asked-for groups (and the asked-for
      // username, if any) already gives the link its access: use it as it is.
      const same =
        [...(existing.groups ?? [])].sort().join() === want.groups!.join() &&
        (access.username === undefined || existing.username === access.username);
      if (!same) {
        throw new ConflictUnmanagedResourceError(
          `aws-auth:${rolearn}`,
          `aws-auth already maps ${rolearn} (username ${existing.username ?? 'none'}, groups ${(existing.groups ?? []).join(', ') || 'none'}) and Tether did not write that entry; Tether will not change it`,
        );
      }
      return {
        kind: 'aws-auth',
        action: 'uses-existing-unmanaged',
        note: ADOPTED_ACCESS_NOTE,
        rolearn,
        username: existing.username,
        groups: want.groups,
      };
    }
    if (
      existing.username === username &&
      [...(existing.groups ?? [])].sort().join() === want.groups!.join()
    ) {
      return { kind: 'aws-auth', action: 'unchanged', rolearn, username, groups: want.groups };
    }
  }
  const next = existing ? roles.map((r) => (r.rolearn === rolearn ? want : r)) : [...roles, want];
  await writeAwsAuth(kube, read, next);
  return {
    kind: 'aws-auth',
    action: existing ? 'updated' : 'created',
    rolearn,
    username,
    groups: want.groups,
  };
}

/** The Kubernetes API of the link's target cluster. */
export function kubernetesOf(
  clients: AwsClients,
  target: ClusterRef,
  resolved: ResolvedTarget,
): KubernetesApi {
  return clients.kubernetes({
    accountId: target.accountId,
    region: target.region,
    cluster: target.cluster,
    endpoint: resolved.endpoint,
    certificateAuthority: resolved.certificateAuthority,
  });
}

/**
 * The role the link's access entry names: its target role, or with direct access the
 * workload role itself (EKS STANDARD entries take principals of other accounts).
 */
export function entryPrincipalArnOf(link: Pick<Link, 'spec'>): string {
  return isDirectAccess(link.spec) ? sourceRoleArnOf(link.spec) : targetRoleArnOf(link);
}

/**
 * The role the link's access entry names, as IAM has it now (read-only): EKS binds the entry
 * to its unique id, so a role made again under the same ARN is seen and its entry replaced.
 */
export async function entryPrincipal(clients: AwsClients, link: Link): Promise<EntryPrincipal> {
  const direct = isDirectAccess(link.spec);
  const role = direct
    ? await findRole(clients.iam(link.spec.source.accountId), workloadRoleName(link.spec.source))
    : await findRole(clients.iam(link.spec.target.accountId), targetRoleName(link.spec));
  return {
    arn: entryPrincipalArnOf(link),
    ...(role?.RoleId ? { roleId: role.RoleId } : {}),
    ...(role?.CreateDate ? { createdAt: role.CreateDate } : {}),
  };
}

/**
 * The target role as "Ensure target role" found or made it in this run, which runs just
 * before the access entry in onboard and reconcile: its id and creation time came back from
 * that step's own GetRole or CreateRole, so the entry needs no second read of the role.
 * Undefined with direct access (the workload role is made in the other branch) or when the
 * recorded result is not for this entry's role: then {@link entryPrincipal} reads it.
 */
export function entryPrincipalFromTargetRoleStep(link: Link): EntryPrincipal | undefined {
  if (isDirectAccess(link.spec)) return undefined;
  const step = link.steps.targetRole;
  const made = step?.result as { arn?: unknown; roleId?: unknown; createdAt?: unknown } | undefined;
  const arn = entryPrincipalArnOf(link);
  if (step?.status !== 'SUCCEEDED' || made?.arn !== arn || typeof made.roleId !== 'string' || !made.roleId)
    return undefined;
  return {
    arn,
    roleId: made.roleId,
    ...(typeof made.createdAt === 'string' ? { createdAt: new Date(made.createdAt) } : {}),
  };
}

/** The onboard step. */
export async function accessEntryStep(link: Link, deps: Pick<StepDeps, 'clients'>) {
  const { target } = link.spec;
  const resolved = resolvedOf(link).target;
  const principalArn = entryPrincipalArnOf(link);
  const username = kubernetesUsername(link.spec);
  const result =
    resolved.authenticationMode === 'CONFIG_MAP'
      ? await ensureAwsAuthEntry(
          kubernetesOf(deps.clients, link.spec.target, resolved),
          principalArn,
          link.spec.access,
          username,
          earlierKubernetesUsernames(link.spec),
        )
      : await ensureAccessEntry(
          deps.clients.eks(target.accountId, target.region),
          target.cluster,
          entryPrincipalFromTargetRoleStep(link) ?? (await entryPrincipal(deps.clients, link)),
          link.spec.access,
          username,
          owners.link(link.spec),
        );
  return { result, outputs: { access: result } };
}

/** Deletes the link's access entry (its associations go with it) if it is Tether's and this link's. */
export async function deleteOwnedAccessEntry(
  eks: EKSClient,
  clusterName: string,
  principalArn: string,
  owner: string,
) {
  let entry: AccessEntry | undefined;
  try {
    entry = (await eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn }))).accessEntry;
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return { kind: 'access-entry', action: 'absent' };
    throw err;
  }
  if (!isOwnedBy(entry?.tags, owner)) {
    return { kind: 'access-entry', action: 'left-unmanaged', accessEntryArn: entry?.accessEntryArn };
  }
  try {
    await eks.send(new DeleteAccessEntryCommand({ clusterName, principalArn }));
  } catch (err) {
    if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
  }
  return { kind: 'access-entry', action: 'deleted', accessEntryArn: entry?.accessEntryArn };
}

/** Removes Tether's mapRoles entry for the role from aws-auth (recognised by its username, today's or an earlier default). */
export async function removeAwsAuthEntry(
  kube: KubernetesApi,
  principalArn: string,
  username: string,
  earlier: readonly string[] = [],
) {
  const rolearn = withoutPath(principalArn);
  const read = await readAwsAuth(kube);
  const existing = read.mapRoles.find((r) => r.rolearn === rolearn);
  if (!read.configMap || !existing) return { kind: 'aws-auth', action: 'absent', rolearn };
  if (existing.username !== username && !earlier.includes(existing.username ?? '')) {
    return { kind: 'aws-auth', action: 'left-unmanaged', rolearn };
  }
  await writeAwsAuth(
    kube,
    read,
    read.mapRoles.filter((r) => r.rolearn !== rolearn),
  );
  return { kind: 'aws-auth', action: 'deleted', rolearn };
}

/** The offboard step. */
export async function removeAccessEntryStep(link: Link, deps: Pick<StepDeps, 'clients'>) {
  const resolved = link.outputs.resolved?.target;
  if (!resolved) return { result: { action: 'nothing-to-remove' } };
  const { target } = link.spec;
  const principalArn = entryPrincipalArnOf(link);
  const username = kubernetesUsername(link.spec);
  const result =
    resolved.authenticationMode === 'CONFIG_MAP'
      ? await removeAwsAuthEntry(
          kubernetesOf(deps.clients, link.spec.target, resolved),
          principalArn,
          username,
          earlierKubernetesUsernames(link.spec),
        )
      : await deleteOwnedAccessEntry(
          deps.clients.eks(target.accountId, target.region),
          target.cluster,
          principalArn,
          owners.link(link.spec),
        );
  return { result };
}
