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
import { DescribeAccessEntryCommand, ListAssociatedAccessPoliciesCommand } from '@aws-sdk/client-eks';
import {
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
  roleArn,
  TARGET_POLICY_NAME,
  targetRoleName,
  WORKLOAD_POLICY_NAME,
  workloadRoleName,
} from '#link/names';
import { type Evaluation, type EvaluationRequest, evaluatePolicy, parsePolicy } from '#link/policy/evaluate';
import { readAwsAuth } from '#aws/kubernetes';
import { entryBinding, entryPrincipalArnOf, kubernetesOf, withoutPath } from './access-entry';
import { checkSourcePrincipal, requiredSourceStatement } from './source-principal';
import { ADOPTED_RULE_NOTE, allowancePlan, ruleAllowing } from './egress-allowance';
import { cidrContains } from '#link/cidr';
import { STS_AUDIENCE } from './oidc-provider';
import { describeCluster, resolvedOf } from './resolve';
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

async function readRole(clients: AwsClients, accountId: string, name: string, policyName: string) {
  const iam = clients.iam(accountId);
  try {
    const role = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role;
    const policy = (await iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: policyName })))
      .PolicyDocument;
    return {
      trust: parsePolicy(role?.AssumeRolePolicyDocument ?? '{"Statement":[]}'),
      policy: parsePolicy(policy ?? '{"Statement":[]}'),
      roleId: role?.RoleId,
      createdAt: role?.CreateDate,
      tags: role?.Tags ?? [],
    };
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntity')) return undefined;
    throw err;
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
  /** Managed policies the link asked for on this role (`awsPolicies`): Tether's, not extras. */
  ownAttached: readonly string[] = [],
): Promise<Hop | undefined> {
  const iam = clients.iam(accountId);
  const ownBoundary = clients.permissionsBoundaryArn(accountId);
  const inline: string[] = [];
  const attached: { name: string; arn: string }[] = [];
  let boundary: string | undefined;
  try {
    boundary = (await iam.send(new GetRoleCommand({ RoleName: roleName }))).Role?.PermissionsBoundary
      ?.PermissionsBoundaryArn;
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

/** Evaluates the chain; returns every hop, passing or not. */
export async function verifyChain(link: Link, clients: AwsClients): Promise<Hop[]> {
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
    const workload = await readRole(
      clients,
      source.accountId,
      workloadRoleName(source),
      WORKLOAD_POLICY_NAME,
    );
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
    if (!direct)
      hops.push(
        judged(
          'workload-role→target-role',
          `${workloadArn} may call sts:AssumeRole on ${targetArn}`,
          workload &&
            evaluate(
              workload.policy,
              { action: 'sts:AssumeRole', resource: targetArn, context: targetTags },
              'identity',
            ),
          'allowed',
        ),
      );
  }
  if (link.spec.identity.mode === 'irsa') {
    const extras = await roleExtras(
      clients,
      source.accountId,
      workloadRoleName(source),
      WORKLOAD_POLICY_NAME,
      'workload-role-extras',
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
    const assumeTarget = (arn: string) =>
      targetRole &&
      evaluate(
        targetRole.trust,
        {
          action: 'sts:AssumeRole',
          principal: { type: 'AWS', id: arn },
          context: { 'aws:PrincipalArn': arn },
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
    hops.push(
      judged(
        'target-role-trust-is-scoped',
        'another role of the source account is refused',
        assumeTarget(`arn:aws:iam::${source.accountId}:role/someone-else`),
        'refused',
      ),
    );
    const targetExtras = await roleExtras(
      clients,
      target.accountId,
      targetRoleName(link.spec),
      TARGET_POLICY_NAME,
      'target-role-extras',
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
  } else {
    const eks = clients.eks(target.accountId, target.region);
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
        ok = !!entry && !!a && a.accessScope?.type === access.scope.type;
        detail = `access entry ${entry?.accessEntryArn ?? '?'} has ${access.policyArn} (${access.scope.type} scope)`;
      } else {
        ok = !!entry && access.groups.every((g) => entry.kubernetesGroups?.includes(g));
        detail = `access entry ${entry?.accessEntryArn ?? '?'} maps groups ${access.groups.join(', ')}`;
      }
      // EKS lets in only the role the entry was made for (docs/aws-facts.md#access-entries-keep-the-role-id).
      if (binding && !binding.bound) {
        ok = false;
        detail = `${detail}, but lets nobody in: ${binding.detail}`;
      }
    } catch (err) {
      if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
    }
    hops.push({ hop: 'cluster-access', ok, detail });
  }

  hops.push(...(await networkHops(link, clients)));
  return hops;
}

/**
 * The network hops: every CIDR of the link (each current NAT IP of the source VPC, as the
 * last resolve read them) is let in at the place that governs the endpoint it reaches, read
 * back now: the public endpoint's `publicAccessCidrs` (or the endpoint open to all), or a
 * tcp/443 rule on the cluster security group for the private endpoint.
 */
async function networkHops(link: Link, clients: AwsClients): Promise<Hop[]> {
  const { target } = link.spec;
  const resolved = resolvedOf(link);
  let plan: ReturnType<typeof allowancePlan>;
  try {
    plan = allowancePlan(link.spec, resolved);
  } catch (err) {
    return [{ hop: 'network', ok: false, detail: (err as Error).message }];
  }
  const hops: Hop[] = [];
  const publicCidrs = [...plan.publicAccess, ...plan.openToAll];
  if (publicCidrs.length) {
    const vpc = (await describeCluster(clients.eks(target.accountId, target.region), target))
      .resourcesVpcConfig;
    const list = vpc?.publicAccessCidrs ?? [];
    const missing =
      vpc?.endpointPublicAccess === false
        ? publicCidrs
        : publicCidrs.filter((c) => !list.some((l) => cidrContains(l, c)));
    hops.push({
      hop: 'network',
      ok: missing.length === 0,
      detail: missing.length
        ? `the public endpoint of ${target.cluster} does not let in ${missing.join(', ')} (publicAccessCidrs: ${list.join(', ')})`
        : list.includes('0.0.0.0/0')
          ? `the public endpoint of ${target.cluster} is open to all: ${publicCidrs.join(', ')} get in`
          : `${publicCidrs.join(', ')} in the publicAccessCidrs of ${target.cluster}`,
    });
  }
  const groupId = resolved.target.clusterSecurityGroupId;
  if (plan.securityGroup.length && groupId) {
    const rules =
      (
        await clients
          .ec2(target.accountId, target.region)
          .send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }))
      ).SecurityGroupRules ?? [];
    // Tether's rule, or one someone else made that already lets the CIDR in (docs/architecture.md#ownership).
    const cidrs = plan.securityGroup;
    const missing = cidrs.filter((c) => !ruleAllowing(rules, c));
    const unmanaged = cidrs.filter((c) => ruleAllowing(rules, c)?.managed === false);
    hops.push({
      hop: 'network',
      ok: missing.length === 0,
      detail: missing.length
        ? `no tcp/443 rule on ${groupId} for ${missing.join(', ')}`
        : `tcp/443 from ${cidrs.join(', ')} on ${groupId}${
            unmanaged.length ? ` (${unmanaged.join(', ')} ${ADOPTED_RULE_NOTE})` : ''
          }`,
    });
  }
  return hops;
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
  deps: Pick<StepDeps, 'clients' | 'oidcPublishing' | 'clusters'>,
) {
  const hops = [...(await selfManagedHops(link, deps)), ...(await verifyChain(link, deps.clients))];
  const failed = hops.filter((h) => !h.ok && !h.advisory);
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
