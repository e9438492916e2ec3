/**
 * EKS Auth: `AssumeRoleForPodIdentity`, the call the EKS Pod Identity agent on a node makes
 * with a pod's projected service-account token, and the credential path behind it, as AWS
 * documents it:
 * - the token is the pod's projected token for the audience `pods.eks.amazonaws.com`,
 *   signed by the cluster's issuer (EKS Auth API reference, AssumeRoleForPodIdentity:
 *   `InvalidTokenException`, `ExpiredTokenException`); the caller is the node, in the
 *   cluster's account;
 * - the association of the token's namespace and service account names the role
 *   (`ResourceNotFoundException` when there is none);
 * - EKS assumes that role as the service principal `pods.eks.amazonaws.com`, so its trust
 *   must allow `sts:AssumeRole` and, unless the association disables session tags,
 *   `sts:TagSession` (EKS user guide, pod-id-role), with the session tags `eks-cluster-arn`,
 *   `eks-cluster-name`, `kubernetes-namespace`, `kubernetes-service-account`,
 *   `kubernetes-pod-name`, `kubernetes-pod-uid` as `aws:RequestTag/…` (EKS user guide,
 *   pod-id-abac: the tags are transitive, so they pass to the roles a session assumes next);
 * - with a `targetRoleArn`, that session then assumes the target role through STS's own
 *   AssumeRole (`./sts.ts`): the tags come along as transitive tags (the target's trust sees
 *   them as `aws:RequestTag/…` and must allow `sts:TagSession`), and the association's
 *   `externalId` is passed as `sts:ExternalId` (EKS API reference, PodIdentityAssociation,
 *   `externalId`; EKS user guide, pod-id-assign-target-role); the source role's own
 *   policies must allow both actions on the target role, as for any cross-account
 *   AssumeRole. The pod gets the target role's credentials.
 *
 * Both hops are evaluated by Tether's policy evaluator (functions/link/policy/evaluate.ts),
 * so a trust whose tag or external-id condition does not match refuses the hop with
 * `AccessDeniedException`. AWS serves EKS Auth at its own endpoint (`eks-auth`); the sandbox
 * serves it with EKS, reached through `Sandbox.invoke('eks', 'AssumeRoleForPodIdentity', …)`,
 * as no SDK client of it is installed.
 *
 * Associations are eventually consistent: with the sandbox's `propagationDelayCalls`, a new
 * association is not found by its first uses. Not modelled: the agent's credential cache (6
 * hours, or 59 minutes with a target role: docs/aws-facts.md#pod-identity-limits), which the
 * link states instead.
 */
import { createLocalJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { evaluatePolicy, type PolicyDocument as EvalDocument } from '#link/policy/evaluate';
import { parsePolicy } from '#local/sandbox/iam/policies';
import { findRoleByArn } from '#local/sandbox/iam/roles';
import type { Operations } from './context';
import { requireString } from './context';
import { clusterOrThrow } from './eks';
import { SandboxError } from './errors';
import { jwksOf } from './oidc-issuers';
import { callerOf, issueSession, stsOperations } from './sts';

/** The audience of the token the kubelet projects for the Pod Identity agent. */
export const POD_IDENTITY_AUDIENCE = 'pods.eks.amazonaws.com';
/** The service principal that assumes an association's role. */
export const POD_IDENTITY_PRINCIPAL = 'pods.eks.amazonaws.com';

/** The session tags EKS Pod Identity sets (EKS user guide, pod-id-abac). */
export const POD_IDENTITY_SESSION_TAG_KEYS = [
  'eks-cluster-arn',
  'eks-cluster-name',
  'kubernetes-namespace',
  'kubernetes-service-account',
  'kubernetes-pod-name',
  'kubernetes-pod-uid',
] as const;

const denied = (message: string) => new SandboxError('AccessDeniedException', message, { statusCode: 403 });

/** A session name from parts, within STS's 64 characters of `[\w+=,.@-]`. */
function sessionNameOf(...parts: string[]): string {
  return parts
    .join('-')
    .replace(/[^\w+=,.@-]/g, '-')
    .slice(0, 64);
}

export const eksAuthOperations: Operations = {
  AssumeRoleForPodIdentity: async (ctx, input) => {
    const cluster = clusterOrThrow(ctx, input.clusterName);
    const token = requireString(input.token, 'token', 'InvalidParameterException');
    const issuer = cluster.oidcIssuer ?? '';
    let claims: Record<string, unknown>;
    try {
      const { payload } = await jwtVerify(
        token,
        createLocalJWKSet(jwksOf(ctx.state, issuer) as Parameters<typeof createLocalJWKSet>[0]),
        { issuer, audience: POD_IDENTITY_AUDIENCE, algorithms: ['RS256'], currentDate: new Date(ctx.now()) },
      );
      claims = payload as Record<string, unknown>;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) {
        throw new SandboxError('ExpiredTokenException', 'The token has expired', { statusCode: 400 });
      }
      // Message unconfirmed: AWS documents the exception, not its text.
      throw new SandboxError(
        'InvalidTokenException',
        `The token is not valid for cluster ${cluster.name} (sandbox: ${(err as Error).message})`,
        { statusCode: 401 },
      );
    }
    const k8s = (claims['kubernetes.io'] ?? {}) as {
      namespace?: string;
      serviceaccount?: { name?: string };
      pod?: { name?: string; uid?: string };
    };
    const namespace = k8s.namespace ?? '';
    const serviceAccount = k8s.serviceaccount?.name ?? '';
    const association = Object.values(cluster.podIdentityAssociations ?? {}).find(
      (a) => a.namespace === namespace && a.serviceAccount === serviceAccount,
    );
    // Associations are eventually consistent ("may take several seconds to be effective
    // after the initial API call returns": EKS API reference, CreatePodIdentityAssociation):
    // with `propagationDelayCalls`, a new one is not seen by its first uses.
    const unseen =
      association?.createdAtCall !== undefined &&
      ctx.notYetPropagated(
        {
          RoleId: `pod-identity-association:${association.associationId}`,
          createdAtCall: association.createdAtCall,
        },
        'AssumeRoleForPodIdentity',
      );
    if (!association || unseen) {
      throw new SandboxError(
        'ResourceNotFoundException',
        `No Pod Identity association for ${namespace}/${serviceAccount} in cluster ${cluster.name}`,
        { statusCode: 404 },
      );
    }
    const podName = k8s.pod?.name ?? '';
    const tags: Record<string, string> = association.disableSessionTags
      ? {}
      : {
          'eks-cluster-arn': cluster.arn,
          'eks-cluster-name': cluster.name,
          'kubernetes-namespace': namespace,
          'kubernetes-service-account': serviceAccount,
          'kubernetes-pod-name': podName,
          'kubernetes-pod-uid': k8s.pod?.uid ?? '',
        };

    // Hop 1: pods.eks.amazonaws.com assumes the association's role, with the session tags.
    const role = findRoleByArn(ctx.state, association.roleArn);
    if (!role) throw denied(`The role ${association.roleArn} of the association cannot be assumed`);
    const trust = parsePolicy(role.AssumeRolePolicyDocument) as unknown as EvalDocument;
    const context: Record<string, string | string[]> = Object.fromEntries(
      Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v]),
    );
    if (Object.keys(tags).length > 0) context['aws:TagKeys'] = Object.keys(tags);
    const principal = { type: 'Service' as const, id: POD_IDENTITY_PRINCIPAL };
    for (const action of ['sts:AssumeRole', ...(Object.keys(tags).length > 0 ? ['sts:TagSession'] : [])]) {
      const decision = evaluatePolicy(trust, { action, principal, context }, { policyType: 'resource' });
      if (decision.decision !== 'Allow') {
        throw denied(
          `${POD_IDENTITY_PRINCIPAL} is not authorized to perform ${action} on ${role.Arn}` +
            (decision.reason ? ` (sandbox: ${decision.reason})` : ''),
        );
      }
    }
    const sourceSession = sessionNameOf(
      'eks',
      cluster.name,
      podName,
      ctx.newHex('pod-identity-session').slice(0, 8),
    );
    const first = issueSession(ctx.state, role, sourceSession, {
      sessionTags: tags,
      transitiveTagKeys: Object.keys(tags),
    });
    ctx.markDirty();
    let credentials = first;
    let assumed = {
      arn: `arn:aws:sts::${ctx.account.id}:assumed-role/${role.RoleName}/${sourceSession}`,
      id: `${role.RoleId}:${sourceSession}`,
    };

    // Hop 2: that session assumes the target role through STS, tags transitive, external id set.
    if (association.targetRoleArn) {
      const caller = callerOf(ctx.state, first.accessKeyId)?.caller;
      if (!caller) throw new Error('the source session was just issued');
      const targetSession = sessionNameOf(
        'eks',
        cluster.name,
        podName,
        ctx.newHex('pod-identity-session').slice(0, 8),
      );
      let out: Record<string, unknown>;
      try {
        out = await stsOperations.AssumeRole!(
          { ...ctx, caller },
          {
            RoleArn: association.targetRoleArn,
            RoleSessionName: targetSession,
            ...(association.externalId ? { ExternalId: association.externalId } : {}),
          },
        );
      } catch (err) {
        if (err instanceof SandboxError && err.code === 'AccessDenied') throw denied(err.message);
        throw err;
      }
      const c = out.Credentials as {
        AccessKeyId: string;
        SecretAccessKey: string;
        SessionToken: string;
        Expiration?: Date;
      };
      const user = out.AssumedRoleUser as { Arn: string; AssumedRoleId: string };
      credentials = {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        ...(c.Expiration ? { expiration: c.Expiration } : {}),
      };
      assumed = { arn: user.Arn, id: user.AssumedRoleId };
    }
    return {
      subject: { namespace, serviceAccount },
      audience: POD_IDENTITY_AUDIENCE,
      podIdentityAssociation: {
        associationArn: association.associationArn,
        associationId: association.associationId,
      },
      assumedRoleUser: { arn: assumed.arn, assumeRoleId: assumed.id },
      credentials: {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
        expiration: credentials.expiration,
      },
    };
  },
};
