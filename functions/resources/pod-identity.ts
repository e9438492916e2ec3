/**
 * EKS Pod Identity across accounts (identity mode `pod-identity`), as the EKS user guide
 * documents it (pod-id-role, pod-id-assign-target-role, pod-id-abac; docs/aws-facts.md#pod-identity-cross-account):
 * - the workload role (source account) trusts the service principal `pods.eks.amazonaws.com`
 *   for `sts:AssumeRole` and `sts:TagSession`, scoped by the session tags EKS sets
 *   (`aws:RequestTag/eks-cluster-arn`, `kubernetes-namespace`, `kubernetes-service-account`);
 * - a Pod Identity association in the source cluster names that role and the link's target
 *   role as `targetRoleArn`; EKS assumes one, then the other, and the pod gets the target
 *   role's credentials. Session tags stay enabled, so the target role's trust is
 *   conditioned on the same tags (transitive) plus `aws:PrincipalArn` = the workload role:
 *   deterministic, so the target side needs nothing from the association and the two
 *   branches of the onboard still run at once. (With session tags disabled AWS passes the
 *   association's `sts:ExternalId` instead, known only after the association exists.)
 * - a service account has one association per cluster, which holds one target role: a
 *   workload has at most one `pod-identity` link, and an association Tether did not make for
 *   this link is a conflict, never changed;
 * - the namespace, service account and cluster of an association are immutable
 *   (UpdatePodIdentityAssociation changes only the roles and the session-tag switch): a
 *   recorded association that no longer names the link's workload is deleted and made anew;
 * - the Pod Identity agent caches credentials (59 minutes with a target role): the link says
 *   when a change reaches running pods.
 * No OIDC provider.
 */
import {
  CreatePodIdentityAssociationCommand,
  DeletePodIdentityAssociationCommand,
  DescribePodIdentityAssociationCommand,
  type EKSClient,
  ListPodIdentityAssociationsCommand,
  type PodIdentityAssociation,
  UpdatePodIdentityAssociationCommand,
} from '@aws-sdk/client-eks';
import { isAwsError } from '#aws/errors';
import { ConflictUnmanagedResourceError } from '#link/errors';
import type { Link, LinkSpec, PodIdentityAssociationOutput, WorkloadRef } from '#link/model';
import { eksClusterArn, owners, roleArn, sourceRoleArnOf, targetRoleName } from '#link/names';
import type { PolicyDocument } from '#link/policy/evaluate';
import { isOwnedBy, ownershipTagMap } from '#link/tags';
import type { StepDeps } from './deps';

/** The service principal EKS Pod Identity assumes roles as (EKS user guide, pod-id-role). */
export const POD_IDENTITY_PRINCIPAL = 'pods.eks.amazonaws.com';

/** How long the Pod Identity agent keeps credentials of an association with a target role (EKS user guide, pod-id-assign-target-role). */
export const POD_IDENTITY_CACHE_MINUTES_WITH_TARGET_ROLE = 59;

/** The session tags of a workload's pods that Tether's trusts pin (EKS user guide, pod-id-abac). */
export function podIdentityRequestTags(w: WorkloadRef): Record<string, string> {
  return {
    'aws:RequestTag/eks-cluster-arn': eksClusterArn(w),
    'aws:RequestTag/kubernetes-namespace': w.namespace,
    'aws:RequestTag/kubernetes-service-account': w.serviceAccount,
  };
}

/** The workload role's trust in mode `pod-identity`: EKS Pod Identity, for this service account of this cluster only. */
export function podIdentityWorkloadTrustPolicy(w: WorkloadRef): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AllowEksAuthToAssumeRoleForPodIdentity',
        Effect: 'Allow',
        Principal: { Service: POD_IDENTITY_PRINCIPAL },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: { StringEquals: podIdentityRequestTags(w) },
      },
    ],
  };
}

/**
 * The target role's trust in mode `pod-identity` (EKS user guide, pod-id-assign-target-role,
 * the session-tags example): the source account, only as the workload role, only with the
 * session tags of the workload's pods, for `sts:AssumeRole` and `sts:TagSession`.
 */
export function podIdentityTargetTrustPolicy(spec: Pick<LinkSpec, 'source' | 'identity'>): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${spec.source.accountId}:root` },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: {
          StringEquals: podIdentityRequestTags(spec.source),
          ArnEquals: { 'aws:PrincipalArn': sourceRoleArnOf(spec) },
        },
      },
    ],
  };
}

const TAKES_EFFECT = `new pods at once (associations are eventually consistent: a few seconds); running pods when the Pod Identity agent's cached credentials expire (up to ${POD_IDENTITY_CACHE_MINUTES_WITH_TARGET_ROLE} minutes with a target role), or when restarted`;

async function describe(eks: EKSClient, clusterName: string, associationId: string) {
  try {
    return (await eks.send(new DescribePodIdentityAssociationCommand({ clusterName, associationId })))
      .association;
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return undefined;
    throw err;
  }
}

/** Every Pod Identity association of a cluster (ListPodIdentityAssociations, all pages). */
export async function listPodIdentityAssociations(
  eks: EKSClient,
  cluster: string,
): Promise<{ namespace?: string; serviceAccount?: string }[]> {
  const all: { namespace?: string; serviceAccount?: string }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await eks.send(
      new ListPodIdentityAssociationsCommand({
        clusterName: cluster,
        maxResults: 100,
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    for (const a of page.associations ?? []) {
      all.push({
        ...(a.namespace ? { namespace: a.namespace } : {}),
        ...(a.serviceAccount ? { serviceAccount: a.serviceAccount } : {}),
      });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return all;
}

/** The association of the workload's service account in its cluster, if any (at most one). */
export async function findAssociation(
  eks: EKSClient,
  w: WorkloadRef,
): Promise<PodIdentityAssociation | undefined> {
  const list = await eks.send(
    new ListPodIdentityAssociationsCommand({
      clusterName: w.cluster,
      namespace: w.namespace,
      serviceAccount: w.serviceAccount,
    }),
  );
  const summary = list.associations?.[0];
  if (!summary?.associationId) return undefined;
  return describe(eks, w.cluster, summary.associationId);
}

function outputOf(a: PodIdentityAssociation): PodIdentityAssociationOutput {
  return {
    associationId: a.associationId ?? '',
    associationArn: a.associationArn ?? '',
    roleArn: a.roleArn ?? '',
    targetRoleArn: a.targetRoleArn ?? '',
    ...(a.externalId ? { externalId: a.externalId } : {}),
    takesEffect: TAKES_EFFECT,
  };
}

/**
 * Makes sure the workload's service account has the link's association: created when there
 * is none; its roles and session tags brought back when they drifted (the fields
 * UpdatePodIdentityAssociation takes); deleted and created again when the association the
 * link recorded no longer names the link's namespace, service account or cluster (the fields
 * no update changes). An association of the service account that Tether did not make for
 * this link is a conflict, left as it is.
 */
export async function ensurePodIdentityAssociation(
  link: Pick<Link, 'spec' | 'outputs'>,
  deps: Pick<StepDeps, 'clients'>,
): Promise<{ action: string; association: PodIdentityAssociationOutput; replaced?: string }> {
  const { source } = link.spec;
  const eks = deps.clients.eks(source.accountId, source.region);
  const owner = owners.link(link.spec);
  const want = {
    roleArn: sourceRoleArnOf(link.spec),
    targetRoleArn: roleArn(link.spec.target.accountId, targetRoleName(link.spec)),
    disableSessionTags: false,
  };
  let replaced: string | undefined;
  let existing: PodIdentityAssociation | undefined;
  const recorded = link.outputs.podIdentityAssociation;
  if (recorded?.associationId) {
    // arn:aws:eks:<region>:<account>:podidentityassociation/<cluster>/<id>
    const recordedCluster = recorded.associationArn.split(':')[5]?.split('/')[1] ?? source.cluster;
    const before = await describe(eks, recordedCluster, recorded.associationId);
    if (before && isOwnedBy(before.tags ?? {}, owner)) {
      if (
        before.clusterName !== source.cluster ||
        before.namespace !== source.namespace ||
        before.serviceAccount !== source.serviceAccount
      ) {
        // Immutable fields: no update can move it, so it goes and a new one is made.
        await deletePodIdentityAssociationIfOwned(eks, before, owner);
        replaced = before.associationId;
      } else {
        existing = before; // the one the link made: no listing needed
      }
    }
  }
  existing ??= await findAssociation(eks, source);
  if (existing) {
    if (!isOwnedBy(existing.tags ?? {}, owner)) {
      throw new ConflictUnmanagedResourceError(
        existing.associationArn ?? '',
        `Service account ${source.namespace}/${source.serviceAccount} of cluster ${source.cluster} already has Pod Identity association ${existing.associationId} (role ${existing.roleArn}${existing.targetRoleArn ? `, target role ${existing.targetRoleArn}` : ''}), which Tether did not make for this link; a service account has one association per cluster`,
      );
    }
    const drifted =
      existing.roleArn !== want.roleArn ||
      existing.targetRoleArn !== want.targetRoleArn ||
      existing.disableSessionTags === true;
    if (!drifted) return { action: 'unchanged', association: outputOf(existing) };
    const updated = (
      await eks.send(
        new UpdatePodIdentityAssociationCommand({
          clusterName: source.cluster,
          associationId: existing.associationId,
          ...want,
        }),
      )
    ).association;
    return { action: 'updated', association: outputOf(updated ?? existing) };
  }
  try {
    const created = (
      await eks.send(
        new CreatePodIdentityAssociationCommand({
          clusterName: source.cluster,
          namespace: source.namespace,
          serviceAccount: source.serviceAccount,
          ...want,
          tags: ownershipTagMap(owner),
        }),
      )
    ).association;
    if (!created) throw new Error('CreatePodIdentityAssociation returned no association');
    return {
      action: replaced ? 'replaced' : 'created',
      association: outputOf(created),
      ...(replaced ? { replaced } : {}),
    };
  } catch (err) {
    // Made meanwhile (a re-run racing the first): converge on what is there now.
    if (!isAwsError(err, 'ResourceInUseException')) throw err;
    return ensurePodIdentityAssociation({ spec: link.spec, outputs: {} }, deps);
  }
}

async function deletePodIdentityAssociationIfOwned(
  eks: EKSClient,
  a: PodIdentityAssociation,
  owner: string,
): Promise<'deleted' | 'left-unmanaged' | 'absent'> {
  if (!isOwnedBy(a.tags ?? {}, owner)) return 'left-unmanaged';
  try {
    await eks.send(
      new DeletePodIdentityAssociationCommand({ clusterName: a.clusterName, associationId: a.associationId }),
    );
    return 'deleted';
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return 'absent';
    throw err;
  }
}

/** The onboard step "Ensure Pod Identity association": nothing for the other modes. */
export async function podIdentityAssociationStep(link: Link, deps: Pick<StepDeps, 'clients'>) {
  if (link.spec.identity.mode !== 'pod-identity') {
    return {
      result: {
        action: 'not-needed',
        reason: `mode ${link.spec.identity.mode} has no Pod Identity association`,
      },
    };
  }
  const ensured = await ensurePodIdentityAssociation(link, deps);
  return {
    result: {
      action: ensured.action,
      ...ensured.association,
      ...(ensured.replaced ? { replaced: ensured.replaced } : {}),
    },
    outputs: { podIdentityAssociation: ensured.association },
  };
}

/** The offboard step "Remove Pod Identity association": the link's association goes with it; anyone else's stays. */
export async function removePodIdentityAssociationStep(link: Link, deps: Pick<StepDeps, 'clients'>) {
  if (link.spec.identity.mode !== 'pod-identity') return { result: { action: 'not-needed' } };
  const { source } = link.spec;
  const eks = deps.clients.eks(source.accountId, source.region);
  const existing = await findAssociation(eks, source);
  if (!existing) return { result: { action: 'absent' } };
  const action = await deletePodIdentityAssociationIfOwned(eks, existing, owners.link(link.spec));
  return { result: { action, associationId: existing.associationId } };
}

/**
 * The plan's check: the service account's association, if there is one, must be this
 * link's. One association per service account per cluster, holding one target role.
 */
export async function podIdentityConflict(
  deps: Pick<StepDeps, 'clients'>,
  spec: LinkSpec,
): Promise<{ ok: boolean; detail: string }> {
  const existing = await findAssociation(
    deps.clients.eks(spec.source.accountId, spec.source.region),
    spec.source,
  );
  if (!existing) {
    return {
      ok: true,
      detail: `no Pod Identity association for ${spec.source.namespace}/${spec.source.serviceAccount} yet`,
    };
  }
  if (isOwnedBy(existing.tags ?? {}, owners.link(spec))) {
    return { ok: true, detail: `association ${existing.associationId} is this link's` };
  }
  return {
    ok: false,
    detail: `service account ${spec.source.namespace}/${spec.source.serviceAccount} already has Pod Identity association ${existing.associationId} (target role ${existing.targetRoleArn ?? 'none'}), not this link's: a service account has one association per cluster`,
  };
}
