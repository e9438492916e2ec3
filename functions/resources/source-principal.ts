/**
 * Source principal (identity mode `principal`, the KIAM / Cluster API runbook:
 * docs/runbooks.md): the source is an existing IAM role Tether does not own — a KIAM server
 * role, a controller's instance role. Tether makes only the target side and never writes to
 * this role: it gives the exact statement the role needs to assume the link's target role,
 * and says, read-only, whether the role's policies already allow it.
 *
 * The check evaluates the role's inline policies with Tether's evaluator (`#link/policy`).
 * Of the managed policies attached to it, `AdministratorAccess` is known to allow
 * everything; any other is listed as not evaluated, so a role whose inline policies do not
 * allow the call but that has other managed policies is `unknown`, never a guessed `yes`.
 * Permissions boundaries and SCPs on the source role are not read: the answer is about its
 * identity policies.
 */
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import type { AwsClients } from '#aws/clients';
import { isAwsError } from '#aws/errors';
import { parseRoleArn } from '#link/guardrails';
import type { LinkSpec, SourcePrincipalOutput } from '#link/model';
import { roleArn, shortHash, sourceRoleArnOf, targetRoleName } from '#link/names';
import { evaluatePolicies, type PolicyDocument, parsePolicy } from '#link/policy/evaluate';

/** The one AWS managed policy whose document the check knows without reading it: Allow `*` on `*`. */
export const ADMINISTRATOR_ACCESS = 'arn:aws:iam::aws:policy/AdministratorAccess';

/**
 * The identity-policy statement the source role needs for this link: `sts:AssumeRole` on
 * exactly the link's target role. Its `Sid` is stable per link, so adding it twice is seen.
 *
 * @example
 * requiredSourceStatement(spec);
 * // { Sid: 'TetherAssumeTargetRole3f9a0c1d2e', Effect: 'Allow', Action: 'sts:AssumeRole',
 * //   Resource: 'arn:aws:iam::222222222222:role/tether/tether-t-…' }
 */
export function requiredSourceStatement(spec: Pick<LinkSpec, 'source' | 'target'>) {
  const targetArn = roleArn(spec.target.accountId, targetRoleName(spec));
  return {
    Sid: `TetherAssumeTargetRole${shortHash([targetArn])}`,
    Effect: 'Allow' as const,
    Action: 'sts:AssumeRole',
    Resource: targetArn,
  };
}

/**
 * Reads the source role's identity policies (read-only) and evaluates `sts:AssumeRole` on
 * the link's target role. Never changes the role.
 */
export async function checkSourcePrincipal(
  clients: AwsClients,
  spec: Pick<LinkSpec, 'source' | 'target' | 'identity'>,
): Promise<SourcePrincipalOutput> {
  const principalArn = sourceRoleArnOf(spec);
  const requiredStatement = requiredSourceStatement(spec);
  const parsed = parseRoleArn(principalArn);
  const base = { principalArn, requiredStatement };
  if (!parsed) return { ...base, allows: 'unknown', detail: `${principalArn} is not a role ARN` };
  const iam = clients.iam(parsed.accountId);
  const RoleName = parsed.name;
  const inline: PolicyDocument[] = [];
  const attached: string[] = [];
  try {
    await iam.send(new GetRoleCommand({ RoleName }));
    let marker: string | undefined;
    const names: string[] = [];
    do {
      const page = await iam.send(
        new ListRolePoliciesCommand({ RoleName, ...(marker ? { Marker: marker } : {}) }),
      );
      names.push(...(page.PolicyNames ?? []));
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    for (const PolicyName of names) {
      const doc = (await iam.send(new GetRolePolicyCommand({ RoleName, PolicyName }))).PolicyDocument;
      if (doc) inline.push(parsePolicy(doc));
    }
    do {
      const page = await iam.send(
        new ListAttachedRolePoliciesCommand({ RoleName, ...(marker ? { Marker: marker } : {}) }),
      );
      attached.push(...(page.AttachedPolicies ?? []).map((p) => p.PolicyArn ?? '?'));
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntity')) {
      return { ...base, allows: 'no', detail: `${principalArn} does not exist` };
    }
    if (isAwsError(err, 'AccessDenied', 'AccessDeniedException')) {
      return { ...base, allows: 'unknown', detail: `Tether may not read ${principalArn}'s policies` };
    }
    throw err;
  }
  const known = attached.includes(ADMINISTRATOR_ACCESS)
    ? [...inline, { Statement: [{ Effect: 'Allow' as const, Action: '*', Resource: '*' }] }]
    : inline;
  const others = attached.filter((a) => a !== ADMINISTRATOR_ACCESS);
  const evaluation = evaluatePolicies(
    known,
    { action: 'sts:AssumeRole', resource: requiredStatement.Resource, contextIsComplete: false },
    { policyType: 'identity' },
  );
  const read = `${inline.length} inline polic${inline.length === 1 ? 'y' : 'ies'}${
    attached.length ? `, attached: ${attached.join(', ')}` : ''
  }`;
  if (evaluation.decision === 'Allow') {
    return {
      ...base,
      allows: 'yes',
      detail: `${principalArn} may sts:AssumeRole on ${requiredStatement.Resource} (${read})`,
    };
  }
  if (evaluation.decision === 'ExplicitDeny') {
    return {
      ...base,
      allows: 'no',
      detail: `${principalArn} is explicitly denied: ${evaluation.reason ?? ''} (${read})`,
    };
  }
  if (evaluation.decision === 'CannotEvaluate' || others.length > 0) {
    return {
      ...base,
      allows: 'unknown',
      detail: `${principalArn}'s inline policies do not allow it${
        evaluation.reason ? ` (${evaluation.reason})` : ''
      }${others.length ? `; managed policies not evaluated: ${others.join(', ')}` : ''}`,
    };
  }
  return {
    ...base,
    allows: 'no',
    detail: `${principalArn} may not sts:AssumeRole on ${requiredStatement.Resource} (${read}): add the required statement`,
  };
}
