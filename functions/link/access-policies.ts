/**
 * The EKS access policies a link may ask for: those AWS offers to people and workloads
 * (AWS-FACTS.md, "EKS": the EKS access policy reference). The others of the reference
 * (AmazonEKSAutoNodePolicy, AmazonEKSBlockStoragePolicy, AmazonEKSComputePolicy,
 * AmazonEKSLoadBalancingPolicy, AmazonEKSNetworkingPolicy, …) are for AWS services and are
 * refused, as is any name AWS does not have. `api/openapi.yaml` lists the same ARNs as the
 * enum of `AccessPolicyArn` (a unit test keeps them equal).
 */

/** The names, most privileged first. */
export const ACCESS_POLICY_NAMES = [
  'AmazonEKSClusterAdminPolicy',
  'AmazonEKSAdminPolicy',
  'AmazonEKSEditPolicy',
  'AmazonEKSViewPolicy',
  'AmazonEKSAdminViewPolicy',
  'AmazonEKSSecretReaderPolicy',
] as const;

export type AccessPolicyName = (typeof ACCESS_POLICY_NAMES)[number];

/**
 * The ARN of an access policy (the `aws` partition: see `regions.ts`).
 *
 * @example accessPolicyArn('AmazonEKSViewPolicy') // 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy'
 */
export function accessPolicyArn(name: AccessPolicyName): string {
  return `arn:aws:eks::aws:cluster-access-policy/${name}`;
}

/** Every ARN a link may ask for, in the order of {@link ACCESS_POLICY_NAMES}. */
export const ACCESS_POLICY_ARNS: readonly string[] = ACCESS_POLICY_NAMES.map(accessPolicyArn);

/** Whether `arn` is an access policy a link may ask for. */
export function isAccessPolicyArn(arn: string): boolean {
  return ACCESS_POLICY_ARNS.includes(arn);
}
