import type { Link, WorkloadRef } from '#link/model';
import {
  issuerHostPath,
  oidcProviderArn,
  owners,
  podIdentityRoleName,
  roleArn,
  sourceRoleArnOf,
  TETHER_ROLE_PATH,
  targetRoleName,
  WORKLOAD_POLICY_NAME,
  workloadKey,
  workloadRoleName,
} from '#link/names';
import { membership } from '#store/table';
import type { StepDeps } from './deps';
import { joinShared, leaveShared } from '#store/memberships';
import type { PolicyDocument } from '#link/policy/evaluate';
import { ownerTagValue } from '#link/tags';
import { resolvedOf } from './resolve';
import { deleteOwnedRole, ensureRole } from './iam-role';
import { STS_AUDIENCE } from './oidc-provider';
import { podIdentityWorkloadTrustPolicy } from './pod-identity';

/** The IRSA trust of the cross-account IRSA runbook, step 1.2.: docs/runbooks.md#the-cross-account-irsa-runbook */
export function workloadTrustPolicy(accountId: string, issuer: string, w: WorkloadRef): PolicyDocument {
  const host = issuerHostPath(issuer);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: oidcProviderArn(accountId, issuer) },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${host}:sub`]: `system:serviceaccount:${w.namespace}:${w.serviceAccount}`,
            [`${host}:aud`]: STS_AUDIENCE,
          },
        },
      },
    ],
  };
}

/** The tag every target role carries: which workload's role may assume it (see {@link workloadPolicy}). */
export const TAG_WORKLOAD = 'tether:workload';

/** Every target role's name starts with this (`targetRoleName` in `#link/names`). */
export const TARGET_ROLE_NAME_PREFIX = 'tether-t-';

/** The value of {@link TAG_WORKLOAD} for a workload: its owner key, as the workload role's own owner tag holds it. */
export function workloadTagValue(w: WorkloadRef): string {
  return ownerTagValue(owners.workload(w));
}

/**
 * `sts:AssumeRole` on Tether's target roles made for this workload, in any account: the
 * roles under Tether's path whose name has the target-role prefix and that carry the
 * workload's tag. Its size does not depend on the number of links, so it stays far below
 * IAM's 10,240 characters (docs/aws-facts.md#iam-quotas) and a workload's later links write
 * nothing here. Safe because every target role's trust pins this exact workload role by
 * `aws:PrincipalArn` (docs/architecture.md#the-workload-roles-permission).
 */
export function workloadPolicy(w: WorkloadRef, options: { tagSession?: boolean } = {}): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AssumeTetherTargetRolesOfThisWorkload',
        Effect: 'Allow',
        // Mode pod-identity: EKS passes the pods' session tags on to the target role, which
        // needs sts:TagSession too (EKS user guide, pod-id-assign-target-role).
        Action: options.tagSession ? ['sts:AssumeRole', 'sts:TagSession'] : 'sts:AssumeRole',
        Resource: `arn:aws:iam::*:role${TETHER_ROLE_PATH}${TARGET_ROLE_NAME_PREFIX}*`,
        Condition: { StringEquals: { [`aws:ResourceTag/${TAG_WORKLOAD}`]: workloadTagValue(w) } },
      },
    ],
  };
}

/** Target-role ARN of a link, from its spec alone. */
export function targetRoleArnOf(link: Pick<Link, 'spec'>): string {
  return roleArn(link.spec.target.accountId, targetRoleName(link.spec));
}

/**
 * The onboard step: join the workload's membership (it decides when the role goes), then
 * ensure the role and its policy. Neither depends on the workload's other links, so for a
 * workload's second and later links this reads and writes nothing else.
 */
export async function workloadRoleStep(link: Link, deps: StepDeps) {
  if (link.spec.identity.mode === 'principal') {
    // Not Tether's role: never read for change, never written (docs/architecture.md#identity-modes).
    return {
      result: {
        action: 'not-managed',
        principalArn: sourceRoleArnOf(link.spec),
        note: 'mode principal: the source is an existing IAM role Tether never changes',
      },
    };
  }
  const issuer = resolvedOf(link).source.issuer ?? '';
  await joinShared(
    deps.memberships,
    membership.workload(workloadMembershipKey(link)),
    membership.link(link.id),
    { linkId: link.id },
    deps.now().getTime(),
  );
  const ensured = await ensureWorkloadRole(link, deps, issuer);
  if (link.spec.identity.mode === 'pod-identity') {
    // No annotation: the Pod Identity association names the role (Ensure Pod Identity association).
    return { result: { ...ensured }, outputs: { workloadRoleArn: ensured.arn } };
  }
  return {
    result: { ...ensured },
    outputs: {
      workloadRoleArn: ensured.arn,
      serviceAccountAnnotation: { 'eks.amazonaws.com/role-arn': ensured.arn },
    },
  };
}

/**
 * The membership that decides when the workload role goes: the workload's links, apart for
 * mode `pod-identity`, whose role is another one ({@link podIdentityRoleName}).
 */
function workloadMembershipKey(link: Pick<Link, 'spec'>): string {
  const key = workloadKey(link.spec.source);
  return link.spec.identity.mode === 'pod-identity' ? `${key}#pod-identity` : key;
}

/** The workload role, its IRSA trust (or, mode pod-identity, its Pod Identity trust) and its constant-size policy. */
function ensureWorkloadRole(link: Link, deps: Pick<StepDeps, 'clients'>, issuer: string) {
  const { source } = link.spec;
  if (link.spec.identity.mode === 'pod-identity') {
    return ensureRole(deps.clients.iam(source.accountId), {
      name: podIdentityRoleName(source),
      path: TETHER_ROLE_PATH,
      description: `Tether Pod Identity role for ${source.namespace}/${source.serviceAccount} in ${source.cluster}`,
      trust: podIdentityWorkloadTrustPolicy(source),
      inlinePolicies: { [WORKLOAD_POLICY_NAME]: workloadPolicy(source, { tagSession: true }) },
      owner: owners.workload(source),
      permissionsBoundary: deps.clients.permissionsBoundaryArn(source.accountId),
    });
  }
  return ensureRole(deps.clients.iam(source.accountId), {
    name: workloadRoleName(source),
    path: TETHER_ROLE_PATH,
    description: `Tether workload role for ${source.namespace}/${source.serviceAccount} in ${source.cluster}`,
    trust: workloadTrustPolicy(source.accountId, issuer, source),
    inlinePolicies: { [WORKLOAD_POLICY_NAME]: workloadPolicy(source) },
    owner: owners.workload(source),
    permissionsBoundary: deps.clients.permissionsBoundaryArn(source.accountId),
  });
}

/**
 * The offboard step: leave the workload; the role goes with its last link. Otherwise it is
 * kept as it is: its policy names no link, so another link's leaving changes nothing in it.
 */
export async function releaseWorkloadRoleStep(link: Link, deps: StepDeps) {
  const { source } = link.spec;
  if (link.spec.identity.mode === 'principal') {
    return { result: { action: 'not-managed', principalArn: sourceRoleArnOf(link.spec) } };
  }
  const owner = owners.workload(source);
  const name =
    link.spec.identity.mode === 'pod-identity' ? podIdentityRoleName(source) : workloadRoleName(source);
  const outcome = await leaveShared(
    deps.memberships,
    membership.workload(workloadMembershipKey(link)),
    membership.link(link.id),
    link.id,
    deps.now().getTime(),
    () => deleteOwnedRole(deps.clients.iam(source.accountId), name, owner),
  );
  if (outcome.removed) return { result: { action: outcome.result?.action ?? 'absent', remainingLinks: 0 } };
  return { result: { action: 'kept', remainingLinks: outcome.remaining } };
}
