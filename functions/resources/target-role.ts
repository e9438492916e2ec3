import type { Link } from '#link/model';
import {
  eksClusterArn,
  isDirectAccess,
  owners,
  sourceRoleArnOf,
  TARGET_POLICY_NAME,
  TETHER_ROLE_PATH,
  targetRoleName,
} from '#link/names';
import type { PolicyDocument } from '#link/policy/evaluate';
import type { StepDeps } from './deps';
import { deleteOwnedRole, ensureRole } from './iam-role';
import { podIdentityTargetTrustPolicy } from './pod-identity';
import { requiredSourceStatement } from './source-principal';
import { TAG_WORKLOAD, workloadTagValue } from './workload-role';

/**
 * The target role's trust: the source account, only as the workload role (`aws:PrincipalArn`).
 * In mode `roles-anywhere` the workload's session carries a source identity (the
 * certificate's CN, set by Roles Anywhere) that stays on every session of the chain, so the
 * next role's trust must allow `sts:SetSourceIdentity` too (IAM user guide, "Monitor and
 * control actions taken with assumed roles": role chaining keeps the source identity).
 */
export function targetTrustPolicy(
  sourceAccountId: string,
  workloadRoleArn: string,
  mode?: Link['spec']['identity']['mode'],
): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${sourceAccountId}:root` },
        Action: mode === 'roles-anywhere' ? ['sts:AssumeRole', 'sts:SetSourceIdentity'] : 'sts:AssumeRole',
        Condition: { ArnEquals: { 'aws:PrincipalArn': workloadRoleArn } },
      },
    ],
  };
}

export function targetPolicy(clusterArn: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'DescribeTargetCluster', Effect: 'Allow', Action: 'eks:DescribeCluster', Resource: clusterArn },
    ],
  };
}

/**
 * The onboard step. With direct access there is no target role (the access entry names the
 * workload role). In mode `principal` the role trusts that existing role, and the link
 * records the statement that role needs (`outputs.sourcePrincipal`).
 */
export async function targetRoleStep(link: Link, deps: Pick<StepDeps, 'clients'>) {
  const { source, target } = link.spec;
  if (isDirectAccess(link.spec)) {
    return {
      result: { action: 'not-needed', reason: 'direct access: the access entry names the workload role' },
    };
  }
  const workloadRoleArn = sourceRoleArnOf(link.spec);
  const ensured = await ensureRole(deps.clients.iam(target.accountId), {
    name: targetRoleName(link.spec),
    path: TETHER_ROLE_PATH,
    description: `Tether target role: ${source.namespace}/${source.serviceAccount} in ${source.cluster} -> ${target.cluster}`,
    trust:
      link.spec.identity.mode === 'pod-identity'
        ? podIdentityTargetTrustPolicy(link.spec)
        : targetTrustPolicy(source.accountId, workloadRoleArn, link.spec.identity.mode),
    inlinePolicies: { [TARGET_POLICY_NAME]: targetPolicy(eksClusterArn(target)) },
    owner: owners.link(link.spec),
    // Names the workload whose role may assume it: the condition of the workload role's policy.
    tags: { [TAG_WORKLOAD]: workloadTagValue(source) },
    permissionsBoundary: deps.clients.permissionsBoundaryArn(target.accountId),
    // AWS permissions in the target account, as the link asked (within the guardrails and the policies).
    ...(link.spec.awsPolicies?.length ? { managedPolicies: link.spec.awsPolicies } : {}),
  });
  if (link.spec.identity.mode === 'principal') {
    const sourcePrincipal = {
      principalArn: workloadRoleArn,
      requiredStatement: requiredSourceStatement(link.spec),
    };
    return { result: { ...ensured }, outputs: { targetRoleArn: ensured.arn, sourcePrincipal } };
  }
  return { result: { ...ensured }, outputs: { targetRoleArn: ensured.arn } };
}

/** The offboard step: the link's own target role goes. */
export async function removeTargetRoleStep(link: Link, deps: Pick<StepDeps, 'clients'>) {
  if (isDirectAccess(link.spec)) return { result: { action: 'not-needed' } };
  const removed = await deleteOwnedRole(
    deps.clients.iam(link.spec.target.accountId),
    targetRoleName(link.spec),
    owners.link(link.spec),
  );
  return { result: { ...removed } };
}
