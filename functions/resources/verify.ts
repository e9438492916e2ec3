/**
 * Verify: read back the policies in place and evaluate the role chain hop by hop, the way
 * AWS would authorise the pod's calls — web identity → workload role → target role →
 * DescribeCluster — then check the cluster access and the egress rules. Read-only.
 * A second, negative check proves the trust is scoped: another service account is refused.
 * And every policy attached to or inlined in Tether's roles, and any permissions boundary,
 * is listed: whatever Tether did not put there (AdministratorAccess attached by hand, say)
 * fails the role's `…-extras` hop, named.
 */
import { DescribeSecurityGroupRulesCommand } from '@aws-sdk/client-ec2';
import {
  type AssociatedAccessPolicy,
  DescribeAccessEntryCommand,
  ListAssociatedAccessPoliciesCommand,
} from '@aws-sdk/client-eks';
import {
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import type { AwsClients } from '#aws/clients';
import { VerificationFailedError } from '#link/errors';
import { isAwsError } from '#aws/errors';
import type { Link, SourcePrincipalOutput } from '#link/model';
import {
  eksClusterArn,
  isDirectAccess,
  issuerHostPath,
  sourceRoleArnOf,
  oidcProviderArn,
  owners,
  podIdentityRoleName,
  roleArn,
  TARGET_POLICY_NAME,
  targetRoleName,
  WORKLOAD_POLICY_NAME,
  workloadRoleName,
} from '#link/names';
import {
  type Evaluation,
  type EvaluationRequest,
  evaluatePolicy,
  type PolicyDocument,
  parsePolicy,
} from '#link/policy/evaluate';
import { readAwsAuth } from '#aws/kubernetes';
import { entryBinding, entryPrincipalArnOf, kubernetesOf, withoutPath } from './access-entry';
import { checkSourcePrincipal, requiredSourceStatement } from './source-principal';
import {
  ADOPTED_RULE_NOTE,
  allowancePlan,
  referencedPrefixListEntries,
  ruleAllowing,
} from './egress-allowance';
import { cidrContains } from '#link/cidr';
import { STS_AUDIENCE } from './oidc-provider';
import { samePolicy } from './iam-role';
import { judgeSourceSide } from './source-side';
import { workloadPolicy, workloadTrustPolicy } from './workload-role';
import {
  findAnchor,
  findProfile,
  fingerprintOf,
  profileName,
  ROLES_ANYWHERE_SERVICE,
  trustAnchorName,
} from './roles-anywhere';
import { workloadCommonName } from '#link/certificates';
import { findAssociation, POD_IDENTITY_PRINCIPAL, podIdentityRequestTags } from './pod-identity';
import { isOwnedBy } from '#link/tags';
import { describeCluster, natGatewayIps, resolvedOf } from './resolve';
import type { StepDeps } from './deps';
import { checkPublished } from './published-discovery';

export interface Hop {
  readonly hop: string;
  readonly ok: boolean;
  readonly detail: string;
  /**
   * A hop that informs and does not fail the link: in mode `principal`, whether the source
   * role (not Tether's, never changed) already allows the call its user must allow.
   */
  readonly advisory?: boolean;
  /** The source-principal hop: the check as the link records it. */
  readonly sourcePrincipal?: SourcePrincipalOutput;
}

/** One of Tether's roles as IAM has it: one GetRole (trust, tags, id, boundary) and its own inline policy. */
async function readRole(clients: AwsClients, accountId: string, name: string, policyName: string) {
  const iam = clients.iam(accountId);
  try {
    const role = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role;
    // A role without its inline policy is still the role: its trust and boundary are judged.
    const policy = await iam
      .send(new GetRolePolicyCommand({ RoleName: name, PolicyName: policyName }))
      .then((out) => out.PolicyDocument)
      .catch((err: unknown) => {
        if (isAwsError(err, 'NoSuchEntity')) return undefined;
        throw err;
      });
    return {
      trust: parsePolicy(role?.AssumeRolePolicyDocument ?? '{"Statement":[]}'),
      policy: parsePolicy(policy ?? '{"Statement":[]}'),
      roleId: role?.RoleId,
      createdAt: role?.CreateDate,
      tags: role?.Tags ?? [],
      boundary: role?.PermissionsBoundary?.PermissionsBoundaryArn,
    };
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntity')) return undefined;
    throw err;
  }
}

type RoleRead = NonNullable<Awaited<ReturnType<typeof readRole>>>;

/**
 * The `workload-role-as-written` hop (mode irsa): the workload role's trust and policy are
 * the documents Tether writes, and the role carries the workload's owner tag. The chain's
 * hops judge what the documents allow; this one sees a statement added by hand that lets
 * in more (another namespace's service account, another action) and a role no longer
 * Tether's: the drift a reconcile puts back, from reads the chain's hops already made.
 */
function workloadRoleAsWritten(
  workload: Awaited<ReturnType<typeof readRole>>,
  link: Pick<Link, 'spec'>,
  issuer: string,
): Hop {
  const { source } = link.spec;
  const hop = 'workload-role-as-written';
  const arn = sourceRoleArnOf(link.spec);
  if (!workload) return { hop, ok: false, detail: `no role ${arn}` };
  const differences = [
    ...(samePolicy(workload.trust, workloadTrustPolicy(source.accountId, issuer, source))
      ? []
      : ['its trust is not the one Tether wrote']),
    ...(samePolicy(workload.policy, workloadPolicy(source))
      ? []
      : [`its policy ${WORKLOAD_POLICY_NAME} is not the one Tether wrote`]),
    ...(isOwnedBy(workload.tags, owners.workload(source))
      ? []
      : ["it does not carry the workload's owner tag"]),
  ];
  return differences.length === 0
    ? {
        hop,
        ok: true,
        detail: `${arn}: trust, policy ${WORKLOAD_POLICY_NAME} and owner tag as Tether wrote them`,
      }
    : { hop, ok: false, detail: `${arn}: ${differences.join('; ')}` };
}

/**
 * The `oidc-provider` hop: the source account's IAM OIDC provider for the issuer exists and
 * lists the audience `sts.amazonaws.com`. Without it STS refuses every token of the issuer
 * ("No OpenIDConnect provider found in your account", InvalidIdentityToken), whatever the
 * workload role's trust says.
 */
async function oidcProviderHop(clients: AwsClients, accountId: string, issuer: string): Promise<Hop> {
  const arn = oidcProviderArn(accountId, issuer);
  try {
    const provider = await clients
      .iam(accountId)
      .send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    const audiences = provider.ClientIDList ?? [];
    return audiences.includes(STS_AUDIENCE)
      ? { hop: 'oidc-provider', ok: true, detail: `${arn} lets in tokens for ${STS_AUDIENCE}` }
      : {
          hop: 'oidc-provider',
          ok: false,
          detail: `${arn} does not list the audience ${STS_AUDIENCE} (it lists ${audiences.join(', ') || 'none'}): STS refuses the workload's tokens`,
        };
  } catch (err) {
    if (!isAwsError(err, 'NoSuchEntity')) throw err;
    return {
      hop: 'oidc-provider',
      ok: false,
      detail: `no IAM OIDC provider ${arn}: STS refuses every token from ${issuer}`,
    };
  }
}

/**
 * What is attached to, inlined in and bounds one of Tether's roles, against what Tether puts
 * there (one inline policy of its own, nothing attached, the deployment's permissions
 * boundary, `AwsClients.permissionsBoundaryArn`): the `<role>-extras`
 * hop, failed with each extra named. Undefined when the role does not exist (the chain's
 * hops say so).
 */
async function roleExtras(
  clients: AwsClients,
  accountId: string,
  roleName: string,
  ownPolicy: string,
  hop: string,
  /** The role as {@link readRole} read it in this verification: its boundary (no second GetRole). */
  role: RoleRead | undefined,
  /** Managed policies the link asked for on this role (`awsPolicies`): Tether's, not extras. */
  ownAttached: readonly string[] = [],
): Promise<Hop | undefined> {
  if (!role) return undefined;
  const iam = clients.iam(accountId);
  const ownBoundary = clients.permissionsBoundaryArn(accountId);
  const inline: string[] = [];
  const attached: { name: string; arn: string }[] = [];
  const boundary = role.boundary;
  try {
    let marker: string | undefined;
    do {
      const page = await iam.send(
        new ListRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) }),
      );
      inline.push(...(page.PolicyNames ?? []));
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    do {
      const page = await iam.send(
        new ListAttachedRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) }),
      );
      for (const p of page.AttachedPolicies ?? []) {
        attached.push({ name: p.PolicyName ?? p.PolicyArn ?? '?', arn: p.PolicyArn ?? '?' });
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntity')) return undefined;
    throw err;
  }
  const extras = [
    ...inline.filter((name) => name !== ownPolicy).map((name) => `inline policy ${name}`),
    ...attached.filter((p) => !ownAttached.includes(p.arn)).map((p) => `${p.name} (${p.arn}) attached`),
    ...ownAttached
      .filter((arn) => !attached.some((p) => p.arn === arn))
      .map((arn) => `${arn} asked for by the link but not attached`),
    ...(boundary && boundary !== ownBoundary ? [`permissions boundary ${boundary}`] : []),
    // Not an extra, but the boundary every role Tether makes carries is gone: say so here too.
    ...(boundary ? [] : [`no permissions boundary (Tether puts ${ownBoundary})`]),
  ];
  const listing = `inline: ${inline.join(', ') || 'none'}; attached: ${attached.map((p) => p.arn).join(', ') || 'none'}; permissions boundary: ${boundary ?? 'none'}`;
  return {
    hop,
    ok: extras.length === 0,
    detail: extras.length
      ? `${roleName} has what Tether did not put there: ${extras.join('; ')} (${listing})`
      : `${roleName} holds only what Tether put there (${listing})`,
  };
}

/**
 * A hop judged by the evaluator. What it cannot evaluate fails the hop with its reason: a
 * hop holds only when IAM's answer is known. `expect` is the answer the hop needs.
 */
function judged(
  hop: string,
  detail: string,
  evaluation: Evaluation | undefined,
  expect: 'allowed' | 'refused',
): Hop {
  if (!evaluation) return { hop, ok: false, detail };
  if (evaluation.decision === 'CannotEvaluate') {
    return { hop, ok: false, detail: `${detail}; cannot evaluate: ${evaluation.reason}` };
  }
  const ok = (evaluation.decision === 'Allow') === (expect === 'allowed');
  return { hop, ok, detail: !ok && evaluation.reason ? `${detail}; ${evaluation.reason}` : detail };
}

/**
 * Verify models only the keys it names: a condition on any other key (which AWS may add to
 * the real request) cannot be evaluated rather than be judged absent.
 */
const evaluate = (
  policy: Parameters<typeof evaluatePolicy>[0],
  request: EvaluationRequest,
  policyType: 'identity' | 'resource',
): Evaluation => evaluatePolicy(policy, { ...request, contextIsComplete: false }, { policyType });

/**
 * Reads shared by the links of one sweep (`#resources/sweep`): a source VPC's NAT IPs, a
 * target cluster's description and a cluster security group's rules are read once per sweep,
 * not once per link. Keyed by what is read; without one every read is made.
 */
export interface SharedReads {
  once<T>(key: string, read: () => Promise<T>): Promise<T>;
}

/** No sharing: every read is made (the API's verify, the onboard's step). */
export const EVERY_READ: SharedReads = { once: (_key, read) => read() };

/**
 * Shares each read by key for the life of the object (one sweep): the promise is kept, so
 * links checked at once share one call.
 *
 * @example
 * const reads = sharedReads();
 * await verifyChain(link, clients, reads);
 */
export function sharedReads(): SharedReads & { readonly size: number } {
  const kept = new Map<string, Promise<unknown>>();
  return {
    once<T>(key: string, read: () => Promise<T>): Promise<T> {
      let p = kept.get(key) as Promise<T> | undefined;
      if (!p) {
        p = read();
        kept.set(key, p);
        // A failed read (throttled, say) is not kept: the next link that needs it reads again.
        p.catch(() => kept.delete(key));
      }
      return p;
    },
    get size() {
      return kept.size;
    },
  };
}

/** The `workload-role→target-role` hop: the workload role's policy lets it assume the target role (with its tags). */
function workloadMayAssumeTarget(
  policy: PolicyDocument | undefined,
  workloadArn: string,
  targetArn: string,
  targetTags: Record<string, string>,
): Hop {
  return judged(
    'workload-role→target-role',
    `${workloadArn} may call sts:AssumeRole on ${targetArn}`,
    policy &&
      evaluate(policy, { action: 'sts:AssumeRole', resource: targetArn, context: targetTags }, 'identity'),
    'allowed',
  );
}

/** Evaluates the chain; returns every hop, passing or not. */
export async function verifyChain(
  link: Link,
  clients: AwsClients,
  reads: SharedReads = EVERY_READ,
): Promise<Hop[]> {
  const { source, target, access } = link.spec;
  const resolved = resolvedOf(link);
  const hops: Hop[] = [];
  const direct = isDirectAccess(link.spec);
  // The role the workload runs as: Tether's workload role, or the existing role of mode principal.
  const workloadArn = sourceRoleArnOf(link.spec);
  const targetArn = roleArn(target.accountId, targetRoleName(link.spec));
  const entryArn = entryPrincipalArnOf(link);
  const clusterArn = eksClusterArn(target);
  const targetRole = direct
    ? undefined
    : await readRole(clients, target.accountId, targetRoleName(link.spec), TARGET_POLICY_NAME);
  let workloadRoleId: { roleId?: string | undefined; createdAt?: Date | undefined } | undefined;
  // The workload role as read for the chain's hops (modes irsa and roles-anywhere): the extras hop uses it too.
  let workloadRead: RoleRead | undefined;
  // The target role's tags, as IAM puts them in the context of a request on it.
  const targetTags = Object.fromEntries(
    (targetRole?.tags ?? []).flatMap((t) => [
      [`aws:ResourceTag/${t.Key}`, t.Value ?? ''],
      [`iam:ResourceTag/${t.Key}`, t.Value ?? ''],
    ]),
  );

  if (link.spec.identity.mode === 'irsa') {
    const issuer = resolved.source.issuer ?? '';
    const host = issuerHostPath(issuer);
    // One provider serves all the workloads of the issuer: read once per sweep.
    hops.push(
      await reads.once(`oidc#${source.accountId}#${host}`, () =>
        oidcProviderHop(clients, source.accountId, issuer),
      ),
    );
    // One workload role serves all the links of its workload: read once per sweep.
    const workload = await reads.once(`role#${source.accountId}#${workloadRoleName(source)}`, () =>
      readRole(clients, source.accountId, workloadRoleName(source), WORKLOAD_POLICY_NAME),
    );
    workloadRead = workload;
    workloadRoleId = workload ? { roleId: workload.roleId, createdAt: workload.createdAt } : undefined;
    const webIdentity = (sa: string): Evaluation =>
      workload
        ? evaluate(
            workload.trust,
            {
              action: 'sts:AssumeRoleWithWebIdentity',
              principal: { type: 'Federated', id: oidcProviderArn(source.accountId, issuer) },
              context: {
                [`${host}:sub`]: `system:serviceaccount:${source.namespace}:${sa}`,
                [`${host}:aud`]: STS_AUDIENCE,
              },
            },
            'resource',
          )
        : { decision: 'ImplicitDeny' };
    hops.push(
      judged(
        'web-identity→workload-role',
        `${source.namespace}/${source.serviceAccount} may assume ${workloadArn} with a token from ${host}`,
        webIdentity(source.serviceAccount),
        'allowed',
      ),
    );
    hops.push(
      judged(
        'trust-is-scoped',
        'another service account of the same namespace is refused',
        webIdentity(`${source.serviceAccount}-other`),
        'refused',
      ),
    );
    hops.push(workloadRoleAsWritten(workload, link, issuer));
    if (!direct) hops.push(workloadMayAssumeTarget(workload?.policy, workloadArn, targetArn, targetTags));
  }
  if (link.spec.identity.mode === 'roles-anywhere') {
    const { hops: raHops, workload } = await rolesAnywhereHops(link, clients, targetArn, targetTags);
    hops.push(...raHops);
    workloadRead = workload;
    workloadRoleId = workload ? { roleId: workload.roleId, createdAt: workload.createdAt } : undefined;
  }
  if (link.spec.identity.mode === 'irsa' || link.spec.identity.mode === 'roles-anywhere') {
    const extras = await reads.once(`extras#${source.accountId}#${workloadRoleName(source)}`, () =>
      roleExtras(
        clients,
        source.accountId,
        workloadRoleName(source),
        WORKLOAD_POLICY_NAME,
        'workload-role-extras',
        workloadRead,
      ),
    );
    if (extras) hops.push(extras);
  }
  // Mode pod-identity, hop by hop: the association → pods.eks.amazonaws.com assumes the
  // workload role with the pod's session tags → the workload role assumes the target role,
  // the tags passed on (transitive) → below, the target role's trust pins the same tags.
  const podTags = podIdentityRequestTags(source);
  if (link.spec.identity.mode === 'pod-identity') {
    const association = await findAssociation(clients.eks(source.accountId, source.region), source);
    const owned = !!association && isOwnedBy(association.tags ?? {}, owners.link(link.spec));
    hops.push({
      hop: 'pod-identity-association',
      ok:
        owned &&
        association?.roleArn === workloadArn &&
        association.targetRoleArn === targetArn &&
        association.disableSessionTags !== true,
      detail: association
        ? `${association.associationId} maps ${source.namespace}/${source.serviceAccount} to ${association.roleArn} → ${association.targetRoleArn ?? 'no target role'}${association.disableSessionTags ? ', session tags disabled' : ''}${owned ? '' : ", not this link's"}`
        : `no Pod Identity association for ${source.namespace}/${source.serviceAccount} in ${source.cluster}`,
    });
    const workload = await readRole(
      clients,
      source.accountId,
      podIdentityRoleName(source),
      WORKLOAD_POLICY_NAME,
    );
    workloadRoleId = workload ? { roleId: workload.roleId, createdAt: workload.createdAt } : undefined;
    const byPods = (sa: string, action: string): Evaluation =>
      workload
        ? evaluate(
            workload.trust,
            {
              action,
              principal: { type: 'Service', id: POD_IDENTITY_PRINCIPAL },
              context: podIdentityRequestTags({ ...source, serviceAccount: sa }),
            },
            'resource',
          )
        : { decision: 'ImplicitDeny' };
    for (const action of ['sts:AssumeRole', 'sts:TagSession']) {
      hops.push(
        judged(
          `pods.eks→workload-role (${action})`,
          `${POD_IDENTITY_PRINCIPAL} may ${action} on ${workloadArn} for ${source.namespace}/${source.serviceAccount} of ${source.cluster}`,
          byPods(source.serviceAccount, action),
          'allowed',
        ),
      );
    }
    hops.push(
      judged(
        'trust-is-scoped',
        'the session tags of another service account of the same namespace are refused',
        byPods(`${source.serviceAccount}-other`, 'sts:AssumeRole'),
        'refused',
      ),
    );
    for (const action of ['sts:AssumeRole', 'sts:TagSession']) {
      hops.push(
        judged(
          `workload-role→target-role (${action})`,
          `${workloadArn} may call ${action} on ${targetArn}`,
          workload &&
            evaluate(workload.policy, { action, resource: targetArn, context: targetTags }, 'identity'),
          'allowed',
        ),
      );
    }
    const extras = await roleExtras(
      clients,
      source.accountId,
      podIdentityRoleName(source),
      WORKLOAD_POLICY_NAME,
      'workload-role-extras',
      workload,
    );
    if (extras) hops.push(extras);
  }
  if (link.spec.identity.mode === 'principal') {
    // Read-only: the source role is not Tether's; the link says what it needs, never writes it.
    const check = await checkSourcePrincipal(clients, link.spec);
    hops.push({
      hop: 'source-principal→target-role',
      ok: check.allows === 'yes',
      advisory: true,
      detail: `${check.detail ?? ''}; the statement it needs: ${JSON.stringify(check.requiredStatement)}`,
      sourcePrincipal: check,
    });
  }
  if (!direct) hops.push(...(await targetRoleHops()));
  async function targetRoleHops(): Promise<Hop[]> {
    const hops: Hop[] = [];
    // Mode pod-identity: the request carries the pod's session tags (transitive from the first hop).
    const tags = link.spec.identity.mode === 'pod-identity' ? podTags : {};
    const assumeTarget = (arn: string, action = 'sts:AssumeRole', context = tags) =>
      targetRole &&
      evaluate(
        targetRole.trust,
        {
          action,
          principal: { type: 'AWS', id: arn },
          context: { 'aws:PrincipalArn': arn, ...context },
        },
        'resource',
      );
    hops.push(
      judged(
        'target-role-trusts-workload-role',
        `${targetArn} trusts ${workloadArn} (aws:PrincipalArn)`,
        assumeTarget(workloadArn),
        'allowed',
      ),
    );
    if (link.spec.identity.mode === 'roles-anywhere') {
      // The workload's session carries the certificate's CN as source identity, kept along the chain.
      hops.push(
        judged(
          'target-role-takes-source-identity',
          `${targetArn} lets ${workloadArn} keep its source identity (sts:SetSourceIdentity)`,
          targetRole &&
            evaluate(
              targetRole.trust,
              {
                action: 'sts:SetSourceIdentity',
                principal: { type: 'AWS', id: workloadArn },
                context: { 'aws:PrincipalArn': workloadArn },
              },
              'resource',
            ),
          'allowed',
        ),
      );
    }
    hops.push(
      judged(
        'target-role-trust-is-scoped',
        'another role of the source account is refused',
        assumeTarget(`arn:aws:iam::${source.accountId}:role/someone-else`),
        'refused',
      ),
    );
    if (link.spec.identity.mode === 'pod-identity') {
      hops.push(
        judged(
          'target-role-allows-session-tags',
          `${targetArn} lets ${workloadArn} pass the pod's session tags (sts:TagSession)`,
          assumeTarget(workloadArn, 'sts:TagSession'),
          'allowed',
        ),
      );
      hops.push(
        judged(
          'target-role-trust-pins-session-tags',
          'the workload role with another service account’s session tags is refused',
          assumeTarget(
            workloadArn,
            'sts:AssumeRole',
            podIdentityRequestTags({ ...source, serviceAccount: `${source.serviceAccount}-other` }),
          ),
          'refused',
        ),
      );
    }
    const targetExtras = await roleExtras(
      clients,
      target.accountId,
      targetRoleName(link.spec),
      TARGET_POLICY_NAME,
      'target-role-extras',
      targetRole,
      link.spec.awsPolicies ?? [],
    );
    if (targetExtras) hops.push(targetExtras);
    hops.push(
      judged(
        'target-role→describe-cluster',
        `${targetArn} may eks:DescribeCluster on ${clusterArn}`,
        targetRole &&
          evaluate(targetRole.policy, { action: 'eks:DescribeCluster', resource: clusterArn }, 'identity'),
        'allowed',
      ),
    );
    return hops;
  }

  if (resolved.target.authenticationMode === 'CONFIG_MAP') {
    const kube = kubernetesOf(clients, target, resolved.target);
    const { mapRoles } = await readAwsAuth(kube);
    const entry = mapRoles.find((r) => r.rolearn === withoutPath(entryArn));
    const groups = 'groups' in access ? access.groups : [];
    hops.push({
      hop: 'cluster-access',
      ok: !!entry && groups.every((g) => entry.groups?.includes(g)),
      detail: `aws-auth maps ${withoutPath(entryArn)} to ${groups.join(', ')}`,
    });
    hops.push(kubernetesVerbHop(link, undefined, !!entry));
  } else {
    const eks = clients.eks(target.accountId, target.region);
    let association: AssociatedAccessPolicy | undefined;
    let entryFound = false;
    let ok = false;
    let detail = `no access entry for ${entryArn} on ${target.cluster}`;
    try {
      const entry = (
        await eks.send(
          new DescribeAccessEntryCommand({ clusterName: target.cluster, principalArn: entryArn }),
        )
      ).accessEntry;
      const bound = direct ? workloadRoleId : targetRole;
      const binding =
        entry &&
        entryBinding(entry, {
          arn: entryArn,
          ...(bound?.roleId ? { roleId: bound.roleId } : {}),
          ...(bound?.createdAt ? { createdAt: bound.createdAt } : {}),
        });
      if ('policyArn' in access) {
        const associated =
          (
            await eks.send(
              new ListAssociatedAccessPoliciesCommand({
                clusterName: target.cluster,
                principalArn: entryArn,
              }),
            )
          ).associatedAccessPolicies ?? [];
        const a = associated.find((p) => p.policyArn === access.policyArn);
        association = a;
        ok = !!entry && !!a && a.accessScope?.type === access.scope.type;
        detail = `access entry ${entry?.accessEntryArn ?? '?'} has ${access.policyArn} (${access.scope.type} scope)`;
      } else {
        ok = !!entry && access.groups.every((g) => entry.kubernetesGroups?.includes(g));
        detail = `access entry ${entry?.accessEntryArn ?? '?'} maps groups ${access.groups.join(', ')}`;
      }
      entryFound = !!entry;
      // EKS lets in only the role the entry was made for (docs/aws-facts.md#access-entries-keep-the-role-id).
      if (binding && !binding.bound) {
        ok = false;
        detail = `${detail}, but lets nobody in: ${binding.detail}`;
      }
    } catch (err) {
      if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
    }
    hops.push({ hop: 'cluster-access', ok, detail });
    hops.push(kubernetesVerbHop(link, entryFound ? association : undefined, entryFound));
  }

  hops.push(...(await networkHops(link, clients, reads)));
  return hops;
}

/**
 * What each EKS access policy lets its principal do, as AWS documents the policies' rules
 * (https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html): one
 * representative Kubernetes request per policy — the verb and resource the access level is
 * asked for — and what it withholds. Access policies hold allow rules only, and cannot be
 * changed or made, so the table is the policy.
 */
export const ACCESS_POLICY_VERBS: Readonly<
  Record<string, { readonly verbs: string; readonly resource: string; readonly withholds?: string }>
> = {
  AmazonEKSClusterAdminPolicy: { verbs: '* (every verb)', resource: '* (every resource)' },
  AmazonEKSAdminPolicy: {
    verbs: 'create, update, delete, get, list, watch',
    resource: 'most resources, Roles and RoleBindings included',
    withholds: 'the namespace objects and ResourceQuotas themselves',
  },
  AmazonEKSEditPolicy: {
    verbs: 'create, update, delete, get, list, watch',
    resource: 'pods, deployments, services, configmaps, secrets and most namespaced resources',
    withholds: 'Roles and RoleBindings',
  },
  AmazonEKSViewPolicy: {
    verbs: 'get, list, watch',
    resource: 'pods, deployments, services and most namespaced resources',
    withholds: 'Secrets',
  },
  AmazonEKSAdminViewPolicy: { verbs: 'get, list, watch', resource: 'every resource, Secrets included' },
};

/**
 * The Kubernetes request the access level grants, judged from what is in place: the access
 * policy associated with the entry, its scope (cluster, or the namespaces asked for — every
 * one of them must be in the association), and the verbs the policy grants. Groups (on an
 * access entry or in aws-auth) are bound by RBAC objects inside the cluster, which AWS does
 * not show: that hop informs (advisory) and says it is not judged.
 */
export function kubernetesVerbHop(
  link: Link,
  association: AssociatedAccessPolicy | undefined,
  entryFound: boolean,
): Hop {
  const { access, target } = link.spec;
  if (!('policyArn' in access)) {
    return {
      hop: 'kubernetes-verb',
      ok: true,
      advisory: true,
      detail: `not judged: groups ${access.groups.join(', ')} get what the RoleBindings and ClusterRoleBindings inside ${target.cluster} give them, which cannot be read from AWS alone${entryFound ? '' : ' (and the mapping is missing: see cluster-access)'}`,
    };
  }
  const name = access.policyArn.split('/').pop() ?? access.policyArn;
  const grants = ACCESS_POLICY_VERBS[name];
  const where =
    access.scope.type === 'cluster'
      ? 'in every namespace (cluster scope)'
      : `in namespaces ${access.scope.namespaces.join(', ')} (namespace scope)`;
  const asked = grants ? `${grants.verbs} on ${grants.resource} ${where}` : `what ${name} grants ${where}`;
  if (!entryFound || !association) {
    return {
      hop: 'kubernetes-verb',
      ok: false,
      detail: `denied: ${asked}: ${entryFound ? `${name} is not associated with the access entry` : 'there is no access entry'}`,
    };
  }
  const scope = association.accessScope;
  if (scope?.type !== access.scope.type) {
    return {
      hop: 'kubernetes-verb',
      ok: false,
      detail: `denied: ${asked}: ${name} is associated with ${scope?.type ?? 'no'} scope, not ${access.scope.type}`,
    };
  }
  if (access.scope.type === 'namespace') {
    const held = scope.namespaces ?? [];
    const outside = access.scope.namespaces.filter((ns) => !held.includes(ns));
    if (outside.length) {
      return {
        hop: 'kubernetes-verb',
        ok: false,
        detail: `denied: ${asked}: ${outside.join(', ')} not in the association's namespaces (${held.join(', ') || 'none'})`,
      };
    }
  }
  if (!grants) {
    return {
      hop: 'kubernetes-verb',
      ok: true,
      advisory: true,
      detail: `${name} is associated ${where}; what it grants is not in Tether's table of access policies, so the verb is not judged`,
    };
  }
  return {
    hop: 'kubernetes-verb',
    ok: true,
    detail: `allowed: ${asked}${grants.withholds ? `; not ${grants.withholds}` : ''}`,
  };
}

/**
 * The network hops: every CIDR of the link is let in at the place that governs the endpoint
 * it reaches, read back now: the public endpoint's `publicAccessCidrs` (or the endpoint open
 * to all), or a tcp/443 rule on the cluster security group for the private endpoint. With
 * network `nat`, the CIDRs are the source VPC's NAT IPs as they are NOW (DescribeNatGateways),
 * not as the last resolve read them: a NAT gateway replaced since shows as its new IP not let
 * in (`network`), and the old IP still let in for this link as `network-stale-allowance`.
 */
async function networkHops(link: Link, clients: AwsClients, reads: SharedReads): Promise<Hop[]> {
  const { source, target } = link.spec;
  const recorded = resolvedOf(link);
  let resolved = recorded;
  const hops: Hop[] = [];
  /** After the `network` hops: whether the allowance holds more than the source needs now. */
  const stale: Hop[] = [];
  if (link.spec.network.mode === 'nat') {
    const vpcId = recorded.source.vpcId;
    const natIps = await reads.once(`nat#${source.accountId}#${source.region}#${vpcId}`, () =>
      natGatewayIps(clients.ec2(source.accountId, source.region), vpcId),
    );
    resolved = { ...recorded, source: { ...recorded.source, natIps } };
    if (natIps.length === 0) {
      return [
        { hop: 'network', ok: false, detail: `the source VPC ${vpcId} has no available NAT gateway now` },
      ];
    }
    const current = new Set(natIps.map((ip) => `${ip}/32`));
    const gone = (link.outputs.egress?.cidrs ?? []).filter((c) => !current.has(c));
    stale.push({
      hop: 'network-stale-allowance',
      ok: gone.length === 0,
      advisory: true,
      detail: gone.length
        ? `${gone.join(', ')} still let in for this link, no longer a NAT IP of ${vpcId} (now ${natIps.join(', ')})`
        : `every CIDR let in for this link is a current NAT IP of ${vpcId}`,
    });
  }
  let plan: ReturnType<typeof allowancePlan>;
  try {
    plan = allowancePlan(link.spec, resolved);
  } catch (err) {
    return [{ hop: 'network', ok: false, detail: (err as Error).message }, ...stale];
  }
  const which = link.spec.network.mode === 'nat' ? 'current NAT IP' : 'CIDR';
  const publicCidrs = [...plan.publicAccess, ...plan.openToAll];
  if (publicCidrs.length) {
    const vpc = (
      await reads.once(`cluster#${target.accountId}#${target.region}#${target.cluster}`, () =>
        describeCluster(clients.eks(target.accountId, target.region), target),
      )
    ).resourcesVpcConfig;
    const list = vpc?.publicAccessCidrs ?? [];
    const missing =
      vpc?.endpointPublicAccess === false
        ? publicCidrs
        : publicCidrs.filter((c) => !list.some((l) => cidrContains(l, c)));
    hops.push({
      hop: 'network',
      ok: missing.length === 0,
      detail: missing.length
        ? `the public endpoint of ${target.cluster} does not let in the ${which} ${missing.join(', ')} on 443 (publicAccessCidrs: ${list.join(', ')})`
        : list.includes('0.0.0.0/0')
          ? `the public endpoint of ${target.cluster} is open to all: ${publicCidrs.join(', ')} get in`
          : `${publicCidrs.join(', ')} in the publicAccessCidrs of ${target.cluster}`,
    });
  }
  const groupId = resolved.target.clusterSecurityGroupId;
  if (plan.securityGroup.length && groupId) {
    const rules = await reads.once(
      `sg#${target.accountId}#${target.region}#${groupId}`,
      async () =>
        (
          await clients
            .ec2(target.accountId, target.region)
            .send(
              new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
            )
        ).SecurityGroupRules ?? [],
    );
    // Tether's rule, or one someone else made that already lets the CIDR in (docs/architecture.md#ownership).
    const cidrs = plan.securityGroup;
    // A rule with someone's prefix list lets in the CIDRs its entries cover.
    const lists = await referencedPrefixListEntries(clients.ec2(target.accountId, target.region), rules);
    const missing = cidrs.filter((c) => !ruleAllowing(rules, c, lists));
    const unmanaged = cidrs.filter((c) => ruleAllowing(rules, c, lists)?.managed === false);
    hops.push({
      hop: 'network',
      ok: missing.length === 0,
      detail: missing.length
        ? `no tcp/443 rule on ${groupId} for the ${which} ${missing.join(', ')}`
        : `tcp/443 from ${cidrs.join(', ')} on ${groupId}${
            unmanaged.length ? ` (${unmanaged.join(', ')} ${ADOPTED_RULE_NOTE})` : ''
          }`,
    });
  }
  return [...hops, ...stale];
}

/**
 * The hop of a self-managed source (none for any other): STS verifies the workload's token
 * against the JWKS the published discovery document names, so both are read as an anonymous
 * reader does, and must serve the keys registered now (a rotation since the onboard changed
 * them; else the onboard's). Apart from {@link verifyChain}: it needs the OIDC bucket and the
 * registration, which the onboard's step and the API's verify have.
 */
export async function selfManagedHops(
  link: Link,
  deps: Pick<StepDeps, 'oidcPublishing' | 'clusters'>,
): Promise<Hop[]> {
  const source = link.outputs.resolved?.source;
  if (link.spec.identity.mode !== 'irsa' || source?.kind !== 'self-managed') return [];
  const issuer = source.issuer ?? '';
  const registration = await deps.clusters?.get(link.spec.source);
  const published = link.steps.oidcProvider?.result?.discovery as { kids?: string[] } | undefined;
  const kids = registration ? registration.keys.map((k) => k.kid ?? '') : (published?.kids ?? []);
  const served = deps.oidcPublishing
    ? await checkPublished(deps.oidcPublishing, issuer, kids)
    : { ok: false, detail: 'Tether has no OIDC bucket configured' };
  return [{ hop: 'published-discovery', ok: served.ok, detail: served.detail }];
}

/** The onboard step: every hop must hold. */
export async function verifyStep(
  link: Link,
  deps: Pick<StepDeps, 'clients' | 'oidcPublishing' | 'clusters' | 'memberships'>,
) {
  const hops = [...(await selfManagedHops(link, deps)), ...(await verifyChain(link, deps.clients))];
  const failed = hops.filter((h) => !h.ok && !h.advisory);
  // A changed source side: its confirmations go, and a run that left its reading to this
  // step confirms it now (SourceSideChangedError, #resources/source-side).
  await judgeSourceSide(deps.memberships, link, failed);
  if (failed.length) {
    throw new VerificationFailedError(
      `The role chain does not hold: ${failed.map((h) => `${h.hop} (${h.detail})`).join('; ')}`,
    );
  }
  if (link.spec.identity.mode === 'principal') {
    const hop = hops.find((h) => h.hop === 'source-principal→target-role');
    const sourcePrincipal = hop?.sourcePrincipal ?? {
      principalArn: sourceRoleArnOf(link.spec),
      requiredStatement: requiredSourceStatement(link.spec),
      allows: 'unknown' as const,
    };
    return {
      result: { hops: hops.map(({ sourcePrincipal: _, ...h }) => h) },
      outputs: { sourcePrincipal },
    };
  }
  return { result: { hops } };
}

/**
 * Mode `roles-anywhere`, hop by hop: the cluster's trust anchor holds the link's CA and is
 * enabled; the workload's profile is enabled and lists the workload role; the role's trust
 * lets Roles Anywhere in for a certificate of this workload from this anchor (all three
 * actions), and refuses another workload's CN and another anchor; the workload role may
 * assume the target role.
 */
async function rolesAnywhereHops(
  link: Link,
  clients: AwsClients,
  targetArn: string,
  targetTags: Record<string, string>,
): Promise<{ hops: Hop[]; workload: Awaited<ReturnType<typeof readRole>> }> {
  const { source } = link.spec;
  const hops: Hop[] = [];
  const ra = clients.rolesAnywhere(source.accountId, source.region);
  const wanted = fingerprintOf(link.spec.identity.caCertificate) ?? '';
  const anchor = await findAnchor(ra, trustAnchorName(source, wanted));
  const held = fingerprintOf(anchor?.source?.sourceData?.x509CertificateData);
  hops.push({
    hop: 'trust-anchor-holds-ca',
    ok: anchor?.enabled === true && held !== undefined && held === wanted,
    detail: anchor
      ? `${anchor.trustAnchorArn} is ${anchor.enabled ? 'enabled' : 'disabled'} and holds the CA sha256 ${held} (the link's: ${wanted})`
      : `no trust anchor ${trustAnchorName(source, wanted)} in ${source.accountId}/${source.region}`,
  });
  const workloadArn = sourceRoleArnOf(link.spec);
  const profile = await findProfile(ra, profileName(source));
  hops.push({
    hop: 'profile-lists-workload-role',
    ok: profile?.enabled === true && (profile.roleArns ?? []).includes(workloadArn),
    detail: profile
      ? `${profile.profileArn} is ${profile.enabled ? 'enabled' : 'disabled'} and lists ${(profile.roleArns ?? []).join(', ') || 'no role'}`
      : `no profile ${profileName(source)}`,
  });
  const workload = await readRole(clients, source.accountId, workloadRoleName(source), WORKLOAD_POLICY_NAME);
  const anchorArn = anchor?.trustAnchorArn ?? link.outputs.trustAnchorArn ?? '';
  const session = (cn: string, sourceArn: string): Evaluation | undefined => {
    if (!workload) return undefined;
    const context = {
      'aws:PrincipalTag/x509Subject/CN': cn,
      'aws:SourceArn': sourceArn,
      'aws:SourceAccount': source.accountId,
      'sts:SourceIdentity': cn,
    };
    for (const action of ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity']) {
      const decision = evaluate(
        workload.trust,
        { action, principal: { type: 'Service', id: ROLES_ANYWHERE_SERVICE }, context },
        'resource',
      );
      if (decision.decision !== 'Allow') return decision;
    }
    return { decision: 'Allow' };
  };
  const cn = workloadCommonName(source);
  hops.push(
    judged(
      'certificate→workload-role',
      `a certificate with CN ${cn} from ${anchorArn} may assume ${workloadArn} through Roles Anywhere`,
      session(cn, anchorArn),
      'allowed',
    ),
    judged(
      'trust-is-scoped',
      'a certificate of another workload from the same CA is refused',
      session(`other-${cn}`, anchorArn),
      'refused',
    ),
    judged(
      'trust-is-scoped-to-anchor',
      "a certificate with this workload's CN from another trust anchor is refused",
      session(cn, `${anchorArn.replace(/[^/]*$/, '')}00000000-0000-4000-a000-000000000000`),
      'refused',
    ),
    workloadMayAssumeTarget(workload?.policy, workloadArn, targetArn, targetTags),
  );
  return { hops, workload };
}
