/**
 * What the workload would do with its link, played against the sandbox: take a session of
 * the workload role (standing in for IRSA's web identity), assume the target role as the
 * kubeconfig's `aws eks get-token --role-arn` does, and ask the target cluster who it takes
 * that session for (a SelfSubjectReview, `kubectl auth whoami`). Hand-made changes to the
 * accounts go through an account's root credentials, as a person's would.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { Link } from '#link/model';
import { roleArn, targetRoleName, workloadRoleName } from '#link/names';
import { attachSandbox } from '#local/adapters/sdk-plugin';
import type { Sandbox } from '#local/sandbox/index';

export interface UserInfo {
  readonly username: string;
  readonly groups: readonly string[];
}

/** The Kubernetes identity the target cluster gives the link's workload; throws `Unauthorized` when it gives none. */
export async function workloadIdentityOnTarget(sb: Sandbox, link: Pick<Link, 'spec'>): Promise<UserInfo> {
  const { source, target } = link.spec;
  const pod = sb.sessionCredentials(roleArn(source.accountId, workloadRoleName(source)), 'pod');
  const sts = attachSandbox(
    new STSClient({ region: source.region, credentials: pod, maxAttempts: 1 }),
    sb,
    'sts',
  );
  const { Credentials } = await sts.send(
    new AssumeRoleCommand({
      RoleArn: roleArn(target.accountId, targetRoleName(link.spec)),
      RoleSessionName: 'kubectl',
    }),
  );
  const out = (await sb.invoke(
    'kubernetes',
    'WhoAmI',
    { clusterName: target.cluster, accountId: target.accountId },
    { accessKeyId: Credentials?.AccessKeyId ?? '', region: target.region },
  )) as { status: { userInfo: UserInfo } };
  return out.status.userInfo;
}

/** SDK clients acting with the root credentials of `accountId`: a person's hands, not Tether's. */
export function byHand(sb: Sandbox, accountId: string, region: string) {
  const credentials = sb.rootCredentials(accountId);
  const config = { region, credentials, maxAttempts: 1 };
  return {
    iam: attachSandbox(new IAMClient({ ...config, region: 'us-east-1' }), sb, 'iam'),
    eks: attachSandbox(new EKSClient(config), sb, 'eks'),
    ec2: attachSandbox(new EC2Client(config), sb, 'ec2'),
  };
}
