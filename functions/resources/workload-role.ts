import { ConcurrentUpdateError } from '#link/errors';
import type { Link, WorkloadRef } from '#link/model';
import {
  issuerHostPath,
  oidcProviderArn,
  owners,
  roleArn,
  TETHER_ROLE_PATH,
  targetRoleName,
  WORKLOAD_POLICY_NAME,
  workloadKey,
  workloadRoleName,
} from '#link/names';
import { membership } from '#store/table';
import type { StepDeps } from './deps';
import { joinShared, leaveShared, type MembershipStore } from '#store/memberships';
import type { PolicyDocument } from '#link/policy/evaluate';
import { resolvedOf } from './resolve';
import { deleteOwnedRole, ensureRole } from './iam-role';
import { STS_AUDIENCE } from './oidc-provider';

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

/** `sts:AssumeRole` on exactly these target roles. */
export function workloadPolicy(targetRoleArns: readonly string[]): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AssumeTetherTargetRoles',
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: [...new Set(targetRoleArns)].sort(),
      },
    ],
  };
}

/** Target-role ARN of a link, from its spec alone. */
export function targetRoleArnOf(link: Pick<Link, 'spec'>): string {
  return roleArn(link.spec.target.accountId, targetRoleName(link.spec));
}

/** Target roles of the workload's live links, from the membership items. */
async function memberTargetRoles(memberships: MembershipStore, w: WorkloadRef): Promise<string[]> {
  const members = await memberships.members(membership.workload(workloadKey(w)));
  return members
    .map((m) => m.targetRoleArn as string)
    .filter(Boolean)
    .sort();
}

/** The onboard step: join the workload's membership, then ensure the role and its policy. */
export async function workloadRoleStep(link: Link, deps: StepDeps) {
  const { source } = link.spec;
  const issuer = resolvedOf(link).source.issuer ?? '';
  await joinShared(
    deps.memberships,
    membership.workload(workloadKey(source)),
    membership.link(link.id),
    { linkId: link.id, targetRoleArn: targetRoleArnOf(link) },
    deps.now().getTime(),
  );
  return { ...(await converge(link, deps, issuer)) };
}

/** Writes the role and its policy from the members until they stop changing. */
async function converge(link: Link, deps: Pick<StepDeps, 'clients' | 'memberships'>, issuer: string) {
  const { source } = link.spec;
  const iam = deps.clients.iam(source.accountId);
  let targets = await memberTargetRoles(deps.memberships, source);
  for (let round = 0; round < 5; round++) {
    const ensured = await ensureRole(iam, {
      name: workloadRoleName(source),
      path: TETHER_ROLE_PATH,
      description: `Tether workload role for ${source.namespace}/${source.serviceAccount} in ${source.cluster}`,
      trust: workloadTrustPolicy(source.accountId, issuer, source),
      inlinePolicies: { [WORKLOAD_POLICY_NAME]: workloadPolicy(targets) },
      owner: owners.workload(source),
      permissionsBoundary: deps.clients.permissionsBoundaryArn(source.accountId),
    });
    const after = await memberTargetRoles(deps.memberships, source);
    if (after.join() === targets.join()) {
      return {
        result: { ...ensured, targetRoleArns: targets },
        outputs: {
          workloadRoleArn: ensured.arn,
          serviceAccountAnnotation: { 'eks.amazonaws.com/role-arn': ensured.arn },
        },
      };
    }
    targets = after; // another link of the workload joined or left meanwhile: write again
  }
  throw new ConcurrentUpdateError(`The links of workload ${workloadKey(source)} kept changing`);
}

/**
 * The offboard step: leave the workload; the role goes with its last link, otherwise its
 * policy is re-derived from the remaining links.
 */
export async function releaseWorkloadRoleStep(link: Link, deps: StepDeps) {
  const { source } = link.spec;
  const issuer = link.outputs.resolved?.source.issuer;
  const owner = owners.workload(source);
  const outcome = await leaveShared(
    deps.memberships,
    membership.workload(workloadKey(source)),
    membership.link(link.id),
    link.id,
    deps.now().getTime(),
    () => deleteOwnedRole(deps.clients.iam(source.accountId), workloadRoleName(source), owner),
  );
  if (outcome.removed) return { result: { action: outcome.result?.action ?? 'absent', remainingLinks: 0 } };
  if (!issuer) return { result: { action: 'kept', remainingLinks: outcome.remaining } };
  const kept = await converge(link, deps, issuer);
  return {
    result: { ...kept.result, action: `kept-${kept.result.action}`, remainingLinks: outcome.remaining },
  };
}
