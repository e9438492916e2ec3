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
import { deleteOwnedRole, ensureRole, type RoleSpec } from './iam-role';
import { confirmationOf, desiredDigest, leftToVerify } from './source-side';
import { STS_AUDIENCE } from './oidc-provider';
import { ConflictUnmanagedResourceError } from '#link/errors';
import {
  deleteOwnedProfile,
  ensureProfile,
  fingerprintOf,
  rolesAnywhereTrustPolicy,
  withEnsureLock,
} from './roles-anywhere';
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
export async function workloadRoleStep(link: Link, deps: StepDeps, event?: { readonly confirm?: boolean }) {
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
  const key = membership.workload(workloadMembershipKey(link));
  await joinShared(
    deps.memberships,
    key,
    membership.link(link.id),
    { linkId: link.id, mode: link.spec.identity.mode },
    deps.now().getTime(),
  );
  await assertOneModePerRole(link, deps, key);
  if (link.spec.identity.mode === 'roles-anywhere') return rolesAnywhereWorkloadRole(link, deps);
  const spec = workloadRoleSpec(link, deps, issuer);
  // Mode irsa: a role another run has confirmed as this spec is read back by this run's verify (#resources/source-side).
  const confirmation =
    link.spec.identity.mode === 'irsa'
      ? await confirmationOf(deps.memberships, key, desiredDigest(spec), link, event)
      : undefined;
  if (confirmation?.leaveToVerify) {
    const arn = sourceRoleArnOf(link.spec);
    return {
      result: leftToVerify(confirmation.leaveToVerify, arn),
      outputs: { workloadRoleArn: arn, serviceAccountAnnotation: { 'eks.amazonaws.com/role-arn': arn } },
    };
  }
  const ensured = await ensureRole(deps.clients.iam(link.spec.source.accountId), spec);
  await confirmation?.record(deps.now());
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

/** The identity mode of a workload membership (records before modes were kept: `irsa`, or `roles-anywhere` with a CA). */
const memberMode = (m: Record<string, unknown>) =>
  typeof m.mode === 'string' ? m.mode : typeof m.caCertificate === 'string' ? 'roles-anywhere' : 'irsa';

/**
 * Modes `irsa` and `roles-anywhere` share the workload's role, whose trust admits one kind of
 * proof: a link of the other mode would rewrite the trust under the first one's feet (and
 * every reconcile would write it back). Refused before anything is written.
 */
async function assertOneModePerRole(link: Link, deps: StepDeps, key: string): Promise<void> {
  const mode = link.spec.identity.mode;
  const other = (await deps.memberships.members(key)).find(
    (m) => m.linkId !== link.id && memberMode(m) !== mode,
  );
  if (other) {
    throw new ConflictUnmanagedResourceError(
      workloadRoleName(link.spec.source),
      `The workload's link ${String(other.linkId)} uses identity mode ${memberMode(other)}; its role trusts one kind of proof, so a link of mode ${mode} is refused: offboard that link first, or use its mode`,
    );
  }
}

/**
 * Mode `roles-anywhere`: the same role and policy, trusting certificates of this workload
 * from the cluster's trust anchor (written by the step before), and the workload's profile.
 */
async function rolesAnywhereWorkloadRole(link: Link, deps: StepDeps) {
  const { source } = link.spec;
  const anchorArn = link.outputs.trustAnchorArn;
  if (!anchorArn)
    throw new Error('roles-anywhere link without a trust anchor: Ensure OIDC provider makes it first');
  // One role per workload, so one CA per workload: its trust names one anchor.
  const key = membership.workload(workloadKey(source));
  const ca = link.spec.identity.caCertificate;
  const others = (await deps.memberships.members(key)).filter(
    (m) => m.linkId !== link.id && typeof m.caCertificate === 'string',
  );
  const other = others.find((m) => fingerprintOf(m.caCertificate as string) !== fingerprintOf(ca));
  if (other) {
    throw new ConflictUnmanagedResourceError(
      workloadRoleName(source),
      `The workload's link ${String(other.linkId)} uses another CA; a workload has one role, trusting one CA: give that CA certificate`,
    );
  }
  const ensured = await ensureRole(
    deps.clients.iam(source.accountId),
    workloadRoleSpec(link, deps, rolesAnywhereTrustPolicy(source, anchorArn)),
  );
  // The member names the CA, for the next request of this workload that gives none.
  await deps.memberships.put(key, membership.link(link.id), {
    linkId: link.id,
    mode: 'roles-anywhere',
    caCertificate: ca,
  });
  const profile = await withEnsureLock(
    deps,
    `${membership.workload(workloadKey(source))}#RA-PROFILE`,
    link.id,
    () => ensureProfile(deps.clients.rolesAnywhere(source.accountId, source.region), source, ensured.arn),
  );
  return {
    result: { ...ensured, profile },
    outputs: { workloadRoleArn: ensured.arn, profileArn: profile.arn },
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

/**
 * The workload role as Tether wants it: its trust (IRSA from the issuer, mode pod-identity
 * its Pod Identity trust, or the trust given: mode roles-anywhere) and its constant-size policy.
 */
function workloadRoleSpec(
  link: Pick<Link, 'spec'>,
  deps: Pick<StepDeps, 'clients'>,
  issuerOrTrust: string | PolicyDocument,
): RoleSpec {
  const { source } = link.spec;
  if (link.spec.identity.mode === 'pod-identity') {
    return {
      name: podIdentityRoleName(source),
      path: TETHER_ROLE_PATH,
      description: `Tether Pod Identity role for ${source.namespace}/${source.serviceAccount} in ${source.cluster}`,
      trust: podIdentityWorkloadTrustPolicy(source),
      inlinePolicies: { [WORKLOAD_POLICY_NAME]: workloadPolicy(source, { tagSession: true }) },
      owner: owners.workload(source),
      permissionsBoundary: deps.clients.permissionsBoundaryArn(source.accountId),
    };
  }
  return {
    name: workloadRoleName(source),
    path: TETHER_ROLE_PATH,
    description: `Tether workload role for ${source.namespace}/${source.serviceAccount} in ${source.cluster}`,
    trust:
      typeof issuerOrTrust === 'string'
        ? workloadTrustPolicy(source.accountId, issuerOrTrust, source)
        : issuerOrTrust,
    inlinePolicies: { [WORKLOAD_POLICY_NAME]: workloadPolicy(source) },
    owner: owners.workload(source),
    permissionsBoundary: deps.clients.permissionsBoundaryArn(source.accountId),
  };
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
    async () => {
      // No link will lean on the last reading: the next one reads (#resources/source-side).
      await deps.memberships.forgetConfirmation(membership.workload(workloadMembershipKey(link)));
      // Mode roles-anywhere: the profile listing the role goes with it.
      const profile =
        link.spec.identity.mode === 'roles-anywhere'
          ? await deleteOwnedProfile(deps.clients.rolesAnywhere(source.accountId, source.region), source)
          : undefined;
      const role = await deleteOwnedRole(deps.clients.iam(source.accountId), name, owner);
      return profile ? { ...role, profile } : role;
    },
  );
  if (outcome.removed) return { result: { action: outcome.result?.action ?? 'absent', remainingLinks: 0 } };
  return { result: { action: 'kept', remainingLinks: outcome.remaining } };
}
