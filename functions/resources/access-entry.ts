/**
 * Access entry (target account): the EKS access entry for the target role plus its access
 * policy association (the cross-account IRSA runbook, step 5, option B: docs/runbooks.md#the-cross-account-irsa-runbook), for clusters in `API` or
 * `API_AND_CONFIG_MAP` mode; an `aws-auth` mapRoles entry for clusters in `CONFIG_MAP`
 * mode (step 5, option A). One per link.
 */
import {
  type AccessEntry,
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
import { kubernetesUsername, owners } from '#link/names';
import { isOwnedBy, ownershipTagMap } from '#link/tags';
import { type ResolvedTarget, resolvedOf } from './resolve';
import type { StepDeps } from './deps';
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

/** Ensures the access entry and, for policy access, exactly its one association. */
export async function ensureAccessEntry(
  eks: EKSClient,
  clusterName: string,
  principalArn: string,
  access: Access,
  username: string,
  owner: string,
): Promise<Record<string, unknown>> {
  const groups = groupsOf(access);
  const changes: string[] = [];
  let action: 'created' | 'updated' | 'unchanged' = 'unchanged';
  let entry: AccessEntry | undefined;
  try {
    entry = (await eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn }))).accessEntry;
  } catch (err) {
    if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
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
            tags: ownershipTagMap(owner),
          }),
        )
      ).accessEntry;
      action = 'created';
    } catch (err) {
      if (isAwsError(err, 'InvalidParameterException') && /principal/i.test((err as Error).message)) {
        // The target role is new and EKS does not see it yet (docs/aws-facts.md#iam-eventual-consistency): retry.
        throw new NotYetPropagatedError(`CreateAccessEntry on ${clusterName}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (!isAwsError(err, 'ResourceInUseException')) throw err;
      entry = (await eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn }))).accessEntry;
    }
  }
  if (action !== 'created') {
    if (!isOwnedBy(entry?.tags, owner)) {
      throw new ConflictUnmanagedResourceError(
        entry?.accessEntryArn ?? principalArn,
        `An access entry for ${principalArn} on cluster ${clusterName} exists and was not made by Tether for this link; Tether will not change it`,
      );
    }
    const currentGroups = [...(entry?.kubernetesGroups ?? [])].sort();
    if (currentGroups.join() !== groups.join() || entry?.username !== username) {
      await eks.send(
        new UpdateAccessEntryCommand({ clusterName, principalArn, kubernetesGroups: groups, username }),
      );
      changes.push('kubernetesGroups');
    }
  }
  // The entry is Tether's, so every association on it is Tether's: keep exactly the wanted one.
  const associated =
    action === 'created'
      ? []
      : ((await eks.send(new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn })))
          .associatedAccessPolicies ?? []);
  const wanted = 'policyArn' in access ? access : undefined;
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
      if (action !== 'created') changes.push(`associated:${wanted.policyArn}`);
    }
  }
  if (action !== 'created' && changes.length) action = 'updated';
  return {
    kind: 'access-entry',
    action,
    changes,
    accessEntryArn: entry?.accessEntryArn,
    principalArn,
    username,
    ...(wanted ? { policyArn: wanted.policyArn, scope: wanted.scope } : { kubernetesGroups: groups }),
  };
}

/** Ensures one mapRoles entry in `aws-auth`; entries Tether did not write are never changed. */
export async function ensureAwsAuthEntry(
  kube: KubernetesApi,
  principalArn: string,
  access: Access,
  username: string,
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
    if (existing.username !== username) {
      throw new ConflictUnmanagedResourceError(
        `aws-auth:${rolearn}`,
        `aws-auth already maps ${rolearn} (username ${existing.username ?? 'none'}) and Tether did not write that entry; Tether will not change it`,
      );
    }
    if ([...(existing.groups ?? [])].sort().join() === want.groups!.join()) {
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

/** The onboard step. */
export async function accessEntryStep(link: Link, deps: Pick<StepDeps, 'clients'>) {
  const { target } = link.spec;
  const resolved = resolvedOf(link).target;
  const principalArn = targetRoleArnOf(link);
  const username = kubernetesUsername(link.spec);
  const result =
    resolved.authenticationMode === 'CONFIG_MAP'
      ? await ensureAwsAuthEntry(
          kubernetesOf(deps.clients, link.spec.target, resolved),
          principalArn,
          link.spec.access,
          username,
        )
      : await ensureAccessEntry(
          deps.clients.eks(target.accountId, target.region),
          target.cluster,
          principalArn,
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

/** Removes Tether's mapRoles entry for the role from aws-auth (recognised by its username). */
export async function removeAwsAuthEntry(kube: KubernetesApi, principalArn: string, username: string) {
  const rolearn = withoutPath(principalArn);
  const read = await readAwsAuth(kube);
  const existing = read.mapRoles.find((r) => r.rolearn === rolearn);
  if (!read.configMap || !existing) return { kind: 'aws-auth', action: 'absent', rolearn };
  if (existing.username !== username) return { kind: 'aws-auth', action: 'left-unmanaged', rolearn };
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
  const principalArn = targetRoleArnOf(link);
  const username = kubernetesUsername(link.spec);
  const result =
    resolved.authenticationMode === 'CONFIG_MAP'
      ? await removeAwsAuthEntry(
          kubernetesOf(deps.clients, link.spec.target, resolved),
          principalArn,
          username,
        )
      : await deleteOwnedAccessEntry(
          deps.clients.eks(target.accountId, target.region),
          target.cluster,
          principalArn,
          owners.link(link.spec),
        );
  return { result };
}
