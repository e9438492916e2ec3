/**
 * Kubeconfig (the cross-account IRSA runbook, step 3: docs/runbooks.md#the-cross-account-irsa-runbook): an exec-credential kubeconfig for the target cluster whose
 * token comes through the role chain: the pod's web identity (IRSA) → the workload role
 * (`AWS_ROLE_ARN`) → `aws eks get-token --role-arn <target role>`. The runbook's variant that
 * points `AWS_ROLE_ARN` straight at the target role would need the source issuer trusted in
 * the target account; Tether's chain keeps the OIDC trust in the source account.
 *
 * Names, so that kubeconfigs can be merged into one (`KUBECONFIG=a:b`) without one entry
 * silently replacing another: the cluster and the context are named by the target cluster's
 * ARN, as `aws eks update-kubeconfig` names them, so same-named clusters in different
 * accounts or regions stay apart; the user is named by the link's target role ARN, the
 * identity it signs in as, so two links never share a user entry. A workload has at most
 * one link per target cluster, so its kubeconfigs merge without a clash.
 */
import YAML from 'yaml';
import type { Link } from '#link/model';
import { isDirectAccess, roleArn, sourceRoleArnOf, workloadRoleName } from '#link/names';
import { resolvedOf } from './resolve';
import { targetRoleArnOf } from './workload-role';

/** Where EKS mounts the projected service-account token for IRSA. */
export const IRSA_TOKEN_FILE = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';

/**
 * The identity the kubeconfig signs in as, and how its `exec` gets credentials, per mode:
 * - `irsa` (role chain): the pod's web identity → the workload role (`AWS_ROLE_ARN`) →
 *   `--role-arn` the target role;
 * - `irsa` with direct access: the pod's web identity → the workload role, which the access
 *   entry names itself: no `--role-arn`, no chained session;
 * - `principal`: the credentials the pod already has as the existing role (KIAM's, the
 *   instance profile's: the SDK's default chain, so no web identity variables) →
 *   `--role-arn` the target role;
 * - `pod-identity`: EKS Pod Identity makes the chain itself (workload role → the
 *   association's `targetRoleArn`) and the agent hands the pod the target role's
 *   credentials through the SDK's default chain (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, set by
 *   EKS): no `--role-arn`, no variables. Asking for `--role-arn` the target role would make
 *   the target role assume itself, which its trust does not allow.
 */
export function kubeconfigIdentity(link: Pick<Link, 'spec'>): {
  user: string;
  roleArn?: string;
  env: { name: string; value: string }[];
} {
  const { spec } = link;
  const webIdentity = [
    { name: 'AWS_ROLE_ARN', value: roleArn(spec.source.accountId, workloadRoleName(spec.source)) },
    { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: IRSA_TOKEN_FILE },
  ];
  if (isDirectAccess(spec)) return { user: sourceRoleArnOf(spec), env: webIdentity };
  const target = targetRoleArnOf(link);
  // principal: the pod's own role; roles-anywhere: the signing helper's, through the SDK's metadata endpoint.
  if (spec.identity.mode === 'principal' || spec.identity.mode === 'roles-anywhere')
    return { user: target, roleArn: target, env: [] };
  if (spec.identity.mode === 'pod-identity') return { user: target, env: [] };
  return { user: target, roleArn: target, env: webIdentity };
}

export function renderKubeconfig(link: Pick<Link, 'spec' | 'outputs'>): string {
  const { spec } = link;
  const resolved = resolvedOf(link).target;
  const name = resolved.clusterArn;
  const identity = kubeconfigIdentity(link);
  const user = identity.user;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        cluster: { 'certificate-authority-data': resolved.certificateAuthority, server: resolved.endpoint },
        name,
      },
    ],
    contexts: [{ context: { cluster: name, user }, name }],
    'current-context': name,
    users: [
      {
        name: user,
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: 'aws',
            args: [
              '--region',
              spec.target.region,
              'eks',
              'get-token',
              '--cluster-name',
              spec.target.cluster,
              ...(identity.roleArn ? ['--role-arn', identity.roleArn] : []),
              '--output',
              'json',
            ],
            ...(identity.env.length ? { env: identity.env } : {}),
            interactiveMode: 'Never',
            provideClusterInfo: false,
          },
        },
      },
    ],
  };
  return YAML.stringify(config);
}

/** The onboard step: pure, no AWS call. */
export async function kubeconfigStep(link: Link) {
  const kubeconfig = renderKubeconfig(link);
  return {
    result: {
      context: resolvedOf(link).target.clusterArn,
      user: kubeconfigIdentity(link).user,
      bytes: Buffer.byteLength(kubeconfig),
    },
    outputs: { kubeconfig },
  };
}
