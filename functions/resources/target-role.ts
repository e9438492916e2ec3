import type { Link } from '#link/model';
import {
  eksClusterArn,
  owners,
  roleArn,
  TARGET_POLICY_NAME,
  TETHER_ROLE_PATH,
  targetRoleName,
  workloadRoleName,
} from '#link/names';
import type { PolicyDocument } from '#link/policy/evaluate';
import type { StepDeps } from './deps';
import { deleteOwnedRole, ensureRole } from './iam-role';
import { TAG_WORKLOAD, workloadTagValue } from './workload-role';

export function targetTrustPolicy(sourceAccountId: string, workloadRoleArn: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${sourceAccountId}:root` },
        Action: 'sts:AssumeRole',
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

/** The onboard step. */
export async function targetRoleStep(link: Link, deps: Pick<StepDeps, 'clients'>) {
  const { source, target } = link.spec;
  const workloadRoleArn = roleArn(source.accountId, workloadRoleName(source));
  const ensured = await ensureRole(deps.clients.iam(target.accountId), {
    name: targetRoleName(link.spec),
    path: TETHER_ROLE_PATH,
    description: `Tether target role: ${source.namespace}/${source.serviceAccount} in ${source.cluster} -> ${target.cluster}`,
    trust: targetTrustPolicy(source.accountId, workloadRoleArn),
    inlinePolicies: { [TARGET_POLICY_NAME]: targetPolicy(eksClusterArn(target)) },
    owner: owners.link(link.spec),
    // Names the workload whose role may assume it: the condition of the workload role's policy.
    tags: { [TAG_WORKLOAD]: workloadTagValue(source) },
    permissionsBoundary: deps.clients.permissionsBoundaryArn(target.accountId),
  });
  return { result: { ...ensured }, outputs: { targetRoleArn: ensured.arn } };
}

/** The offboard step: the link's own target role goes. */
export async function removeTargetRoleStep(link: Link, deps: Pick<StepDeps, 'clients'>) {
  const removed = await deleteOwnedRole(
    deps.clients.iam(link.spec.target.accountId),
    targetRoleName(link.spec),
    owners.link(link.spec),
  );
  return { result: { ...removed } };
}
