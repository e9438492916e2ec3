/**
 * EKS Pod Identity associations (per cluster): create, describe, list, update, delete, as
 * the EKS API reference describes them, with the cross-account fields of June 2025
 * (`targetRoleArn`, `externalId`, `disableSessionTags`).
 *
 * What the sandbox holds to, each from AWS's documentation:
 * - one association per service account per cluster: a second for the same namespace and
 *   service account is `ResourceInUseException` (EKS user guide, "Assign an IAM role to a
 *   Kubernetes service account": "a service account can only be associated with one role");
 * - the namespace, service account and cluster of an association are immutable: Update takes
 *   only the role, the target role, the session-tag switch and the session policy
 *   (API_UpdatePodIdentityAssociation: "Only the IAM role can be changed; an association
 *   can't be moved between clusters, namespaces, or service accounts");
 * - the role is in the cluster's account and must exist; the target role may be in any
 *   account (API_PodIdentityAssociation, `targetRoleArn`: "a role in 'Account B' (which can
 *   be the same or different account)"); an association with a target role gets an
 *   `externalId` that the target role's trust may require as `sts:ExternalId`
 *   (API_PodIdentityAssociation, `externalId`), and it changes when the target role does;
 * - 5,000 associations per cluster (EKS service quotas, "Pod Identity associations per
 *   cluster"): `ResourceLimitExceededException` past it;
 * - a session `policy` needs session tags disabled (docs/aws-facts.md#pod-identity-limits);
 * - List pages hold 1 to 100 (API_ListPodIdentityAssociations, `maxResults`), filtered by
 *   namespace and service account.
 *
 * Not modelled here: the agent's credential cache and the associations' eventual
 * consistency ("may take several seconds to be effective"), which belong to the credential
 * path (`./eks-auth.ts`); the exact messages of the errors, which AWS does not document
 * (marked below).
 */
import { type OpContext, type Operations, paginate, requireString } from './context';
import { clusterOrThrow } from './eks';
import { SandboxError } from './errors';
import { findRoleByArn } from '#local/sandbox/iam/roles';
import type { ClusterState, PodIdentityAssociationState } from './state';

/** Pod Identity associations per cluster (EKS service quotas). */
export const POD_IDENTITY_ASSOCIATIONS_PER_CLUSTER = 5000;

const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
/** A Kubernetes namespace or service account name: a DNS-1123 label (subdomain for service accounts). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function invalid(message: string, cluster?: string): SandboxError {
  return new SandboxError(
    'InvalidParameterException',
    message,
    cluster ? { extra: { clusterName: cluster } } : {},
  );
}

function associationsOf(cluster: ClusterState): Record<string, PodIdentityAssociationState> {
  cluster.podIdentityAssociations ??= {};
  return cluster.podIdentityAssociations;
}

function associationOrThrow(cluster: ClusterState, id: unknown): PodIdentityAssociationState {
  const associationId = requireString(id, 'associationId', 'InvalidParameterException');
  const found = associationsOf(cluster)[associationId];
  if (!found) {
    // Message unconfirmed: AWS documents the exception, not its text.
    throw new SandboxError('ResourceNotFoundException', `No association found for id: ${associationId}.`, {
      statusCode: 404,
      extra: { clusterName: cluster.name },
    });
  }
  return found;
}

/** The role of the association: in the cluster's account, and known to IAM. */
function checkRole(ctx: OpContext, cluster: ClusterState, value: unknown): string {
  const arn = requireString(value, 'roleArn', 'InvalidParameterException');
  const m = ROLE_ARN.exec(arn);
  if (!m) throw invalid(`roleArn ${arn} is not a valid IAM role ARN`, cluster.name);
  if (m[1] !== ctx.account.id) {
    throw invalid(`roleArn ${arn} must be in the account of the cluster (${ctx.account.id})`, cluster.name);
  }
  if (!findRoleByArn(ctx.state, arn)) throw invalid(`The role ${arn} does not exist`, cluster.name);
  return arn;
}

/** The target role: any account, a well-formed role ARN (AWS does not check it exists: the agent's AssumeRole does). */
function checkTargetRole(cluster: ClusterState, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const arn = requireString(value, 'targetRoleArn', 'InvalidParameterException');
  if (!ROLE_ARN.test(arn)) throw invalid(`targetRoleArn ${arn} is not a valid IAM role ARN`, cluster.name);
  return arn;
}

/** A session policy is only taken with session tags disabled (message unconfirmed). */
function requirePolicyWithoutTags(cluster: ClusterState, policy: unknown, tagsDisabled: boolean): void {
  if (typeof policy === 'string' && policy !== '' && !tagsDisabled) {
    throw invalid('A session policy requires disableSessionTags to be true', cluster.name);
  }
}

function newExternalId(ctx: OpContext): string {
  const h = ctx.newHex('pod-identity-external-id');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function output(a: PodIdentityAssociationState) {
  return {
    associationArn: a.associationArn,
    associationId: a.associationId,
    clusterName: a.clusterName,
    namespace: a.namespace,
    serviceAccount: a.serviceAccount,
    roleArn: a.roleArn,
    ...(a.targetRoleArn ? { targetRoleArn: a.targetRoleArn, externalId: a.externalId } : {}),
    disableSessionTags: a.disableSessionTags,
    ...(a.policy ? { policy: a.policy } : {}),
    tags: { ...a.tags },
    createdAt: new Date(a.createdAt),
    modifiedAt: new Date(a.modifiedAt),
  };
}

export const podIdentityOperations: Operations = {
  CreatePodIdentityAssociation: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    const namespace = requireString(input.namespace, 'namespace', 'InvalidParameterException');
    const serviceAccount = requireString(input.serviceAccount, 'serviceAccount', 'InvalidParameterException');
    if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
      throw invalid(`namespace ${namespace} is not a valid Kubernetes namespace name`, cluster.name);
    }
    if (serviceAccount.length > 253 || !DNS_SUBDOMAIN.test(serviceAccount)) {
      throw invalid(
        `serviceAccount ${serviceAccount} is not a valid Kubernetes service account name`,
        cluster.name,
      );
    }
    const roleArn = checkRole(ctx, cluster, input.roleArn);
    const targetRoleArn = checkTargetRole(cluster, input.targetRoleArn);
    const all = associationsOf(cluster);
    // A loop, not Object.values(all).find: a cluster may hold 5,000 associations, and making
    // each of them one by one (the quota's test) would build an array of them per call.
    let same: PodIdentityAssociationState | undefined;
    let count = 0;
    for (const id in all) {
      const a = all[id] as PodIdentityAssociationState;
      count += 1;
      if (!same && a.namespace === namespace && a.serviceAccount === serviceAccount) same = a;
    }
    if (same) {
      // Message unconfirmed.
      throw new SandboxError('ResourceInUseException', `Association already exists: ${same.associationId}`, {
        statusCode: 409,
        extra: { clusterName: cluster.name },
      });
    }
    if (count >= POD_IDENTITY_ASSOCIATIONS_PER_CLUSTER) {
      throw new SandboxError(
        'ResourceLimitExceededException',
        `Cluster ${cluster.name} has ${POD_IDENTITY_ASSOCIATIONS_PER_CLUSTER} Pod Identity associations, the most it may have`,
        { extra: { clusterName: cluster.name } },
      );
    }
    requirePolicyWithoutTags(cluster, input.policy, input.disableSessionTags === true);
    const associationId = `a-${ctx.newHex('pod-identity').slice(0, 17)}`;
    const now = ctx.now();
    const association: PodIdentityAssociationState = {
      associationId,
      associationArn: `arn:aws:eks:${ctx.region}:${ctx.account.id}:podidentityassociation/${cluster.name}/${associationId}`,
      clusterName: cluster.name,
      namespace,
      serviceAccount,
      roleArn,
      ...(targetRoleArn ? { targetRoleArn, externalId: newExternalId(ctx) } : {}),
      disableSessionTags: input.disableSessionTags === true,
      ...(typeof input.policy === 'string' && input.policy !== '' ? { policy: input.policy } : {}),
      tags: { ...((input.tags as Record<string, string> | undefined) ?? {}) },
      createdAt: now,
      modifiedAt: now,
      createdAtCall: ctx.clock,
    };
    all[associationId] = association;
    return { association: output(association) };
  },

  DescribePodIdentityAssociation: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    return { association: output(associationOrThrow(cluster, input.associationId)) };
  },

  ListPodIdentityAssociations: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    if (
      input.maxResults !== undefined &&
      (typeof input.maxResults !== 'number' || input.maxResults < 1 || input.maxResults > 100)
    ) {
      throw invalid('maxResults must be between 1 and 100', cluster.name);
    }
    const matching = Object.values(associationsOf(cluster))
      .filter((a) => input.namespace === undefined || a.namespace === input.namespace)
      .filter((a) => input.serviceAccount === undefined || a.serviceAccount === input.serviceAccount)
      .sort((a, b) => (a.associationId < b.associationId ? -1 : 1));
    const { page, next } = paginate(matching, input.nextToken, input.maxResults, 100);
    return {
      associations: page.map((a) => ({
        clusterName: a.clusterName,
        namespace: a.namespace,
        serviceAccount: a.serviceAccount,
        associationArn: a.associationArn,
        associationId: a.associationId,
      })),
      ...(next ? { nextToken: next } : {}),
    };
  },

  UpdatePodIdentityAssociation: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    const a = associationOrThrow(cluster, input.associationId);
    // The SDK's input has no namespace or service account: they cannot change.
    if (input.roleArn !== undefined) a.roleArn = checkRole(ctx, cluster, input.roleArn);
    if (input.targetRoleArn !== undefined) {
      const target = checkTargetRole(cluster, input.targetRoleArn);
      if (target !== a.targetRoleArn) {
        if (target) {
          a.targetRoleArn = target;
          a.externalId = newExternalId(ctx); // a new target role, a new external id
        } else {
          delete a.targetRoleArn;
          delete a.externalId;
        }
      }
    }
    if (typeof input.disableSessionTags === 'boolean') a.disableSessionTags = input.disableSessionTags;
    if (typeof input.policy === 'string') {
      if (input.policy === '') delete a.policy;
      else a.policy = input.policy;
    }
    requirePolicyWithoutTags(cluster, a.policy, a.disableSessionTags);
    a.modifiedAt = ctx.now();
    return { association: output(a) };
  },

  DeletePodIdentityAssociation: (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    const a = associationOrThrow(cluster, input.associationId);
    delete associationsOf(cluster)[a.associationId];
    return { association: output(a) };
  },
};
