/**
 * What a request may ask for, whoever asks (DESIGN.md, "Who may link what"; AWS-FACTS.md,
 * "EKS"): Regions of the partition Tether works in, the EKS access policies meant for people
 * and workloads, and Kubernetes identities EKS accepts — no username starting `system:`,
 * `eks:`, `aws:`, `amazon:` or `iam:`, a template only as a trailing `{{SessionName}}`, and
 * no `system:` group. `api/openapi.yaml` states the same rules (unit tests keep them equal),
 * so the router refuses a mistake with the field; the plan checks them again, so nothing is
 * made from a request that breaks them, whoever calls it.
 */
import { checkCaCertificate, MAX_COMMON_NAME, workloadCommonName } from './certificates';
import { isAccessPolicyArn } from './access-policies';
import { InvalidRequestError, PartitionUnsupportedError } from './errors';
import type { Access, OnboardingRequest, TargetRequest } from './model';
import { TETHER_ROLE_PATH } from './names';
import { partitionOf, SUPPORTED_PARTITION } from './regions';

/** Prefixes EKS refuses at the start of an access entry's username. */
export const RESERVED_USERNAME_PREFIXES = ['system:', 'eks:', 'aws:', 'amazon:', 'iam:'] as const;
/** Prefix EKS refuses at the start of an access entry's Kubernetes group. */
export const RESERVED_GROUP_PREFIX = 'system:';
/** The one template a username may hold, at its end (the caller's role session name). */
export const SESSION_NAME_TEMPLATE = '{{SessionName}}';

/**
 * What is wrong with a Kubernetes username, or undefined.
 *
 * @example
 * usernameProblem('ci'); // undefined
 * usernameProblem('ci-{{SessionName}}'); // undefined
 * usernameProblem('system:admin'); // "must not start with 'system:' …"
 */
export function usernameProblem(username: string): string | undefined {
  const prefix = RESERVED_USERNAME_PREFIXES.find((p) => username.startsWith(p));
  if (prefix) return `must not start with '${prefix}': EKS reserves it`;
  const rest = username.endsWith(SESSION_NAME_TEMPLATE)
    ? username.slice(0, -SESSION_NAME_TEMPLATE.length)
    : username;
  if (rest.includes('{{') || rest.includes('}}')) {
    return `may hold a template only as a trailing '${SESSION_NAME_TEMPLATE}'`;
  }
  return undefined;
}

/** What is wrong with a Kubernetes group, or undefined. */
export function groupProblem(group: string): string | undefined {
  return group.startsWith(RESERVED_GROUP_PREFIX)
    ? `must not start with '${RESERVED_GROUP_PREFIX}': EKS refuses system groups on access entries, and Tether does not grant them through aws-auth`
    : undefined;
}

/** One rule a request breaks: where (a JSON Pointer into the body), and what is allowed. */
export interface RequestProblem {
  readonly path: string;
  readonly message: string;
}

function accessProblems(access: Access, at: string): RequestProblem[] {
  const problems: RequestProblem[] = [];
  if ('policyArn' in access && !isAccessPolicyArn(access.policyArn)) {
    problems.push({
      path: `${at}/policyArn`,
      message: `${access.policyArn} is not an EKS access policy for people and workloads`,
    });
  }
  if ('groups' in access) {
    access.groups.forEach((g, i) => {
      const problem = groupProblem(g);
      if (problem) problems.push({ path: `${at}/groups/${i}`, message: `group ${g} ${problem}` });
    });
  }
  const username = access.username === undefined ? undefined : usernameProblem(access.username);
  if (username) problems.push({ path: `${at}/username`, message: `username ${access.username} ${username}` });
  return problems;
}

/** An IAM role ARN's parts (`arn:<partition>:iam::<account>:role/<path/>name`), or undefined. */
export function parseRoleArn(
  arn: string,
): { partition: string; accountId: string; path: string; name: string } | undefined {
  const m =
    /^arn:([a-z][a-z-]{0,30}):iam::(\d{12}):role(\/(?:[\x21-\x7E]{0,510}\/)?)([\w+=,.@-]{1,64})$/.exec(arn);
  if (!m) return undefined;
  return { partition: m[1] ?? '', accountId: m[2] ?? '', path: m[3] ?? '/', name: m[4] ?? '' };
}

/**
 * What is wrong with the request's identity (a JSON Pointer per problem). Mode `principal`
 * names an existing role: an IAM role ARN of the `aws` partition, in the source account (the
 * caller's policies speak for that account: a role of another account would let one
 * account's owner grant a third account's role access), not under Tether's own path (Tether's
 * roles are never someone's source principal), and it cannot be direct (an access entry for
 * a role Tether does not own is not Tether's to make) nor take NAT IPs (a role has no VPC:
 * the egress is given as `cidrs`, or `none`). `directAccess` is an option of `irsa` only.
 * The hub account is refused apart, where its id is known (`#api/access`).
 */
export function identityProblems(
  request: Pick<OnboardingRequest, 'identity' | 'source' | 'network'>,
): RequestProblem[] {
  const { identity } = request;
  const problems: RequestProblem[] = [];
  if (identity.mode === 'principal') {
    const arn = identity.principalArn;
    const parsed = arn === undefined ? undefined : parseRoleArn(arn);
    if (arn === undefined) {
      problems.push({
        path: '/identity/principalArn',
        message: 'mode principal needs principalArn: the existing IAM role that is the source',
      });
    } else if (!parsed) {
      problems.push({
        path: '/identity/principalArn',
        message: `${arn} is not an IAM role ARN (arn:aws:iam::<account>:role/<path/>name)`,
      });
    } else if (parsed.partition !== SUPPORTED_PARTITION) {
      problems.push({
        path: '/identity/principalArn',
        message: `${arn} is in the ${parsed.partition} partition; Tether works in the ${SUPPORTED_PARTITION} partition only`,
      });
    } else if (parsed.accountId !== request.source.accountId) {
      problems.push({
        path: '/identity/principalArn',
        message: `${arn} is in account ${parsed.accountId}, not the source account ${request.source.accountId}`,
      });
    } else if (parsed.path === TETHER_ROLE_PATH || parsed.name.startsWith('tether-')) {
      problems.push({
        path: '/identity/principalArn',
        message: `${arn} is one of Tether's own roles, never a source principal`,
      });
    }
    if (identity.directAccess === true) {
      problems.push({
        path: '/identity/directAccess',
        message:
          'directAccess is an option of mode irsa only: Tether does not make access entries for roles it does not own',
      });
    }
    if (request.network.mode === 'nat') {
      problems.push({
        path: '/network/mode',
        message: 'mode principal has no source VPC to read NAT IPs from: give the egress as cidrs, or none',
      });
    }
  } else {
    if (identity.principalArn !== undefined) {
      problems.push({
        path: '/identity/principalArn',
        message: `principalArn is for mode principal, not ${identity.mode}`,
      });
    }
    if (identity.directAccess === true && identity.mode !== 'irsa') {
      problems.push({
        path: '/identity/directAccess',
        message: `directAccess is an option of mode irsa, not ${identity.mode}`,
      });
    }
  }
  problems.push(...rolesAnywhereProblems(request));
  return problems;
}

/**
 * AWS managed policies no link may put on a target role, whoever asks and whatever the
 * policies say: they hand out administration of the account, or control of its identities
 * (a role holding them could make itself or another role anything).
 */
export const FORBIDDEN_AWS_POLICIES: readonly RegExp[] = [
  /^AdministratorAccess/,
  /^PowerUserAccess$/,
  /^IAMFullAccess$/,
  /^IAMUserChangePassword$/,
  /^AWSOrganizations/,
  /^AWSSSO.*Administrator/,
  // iam:PassRole to Lambda: run code as any role the account passes.
  /^AWSLambda_FullAccess$/,
];

/**
 * What is wrong with a target's `awsPolicies`: each must be a managed policy ARN of the
 * `aws` partition, AWS managed (`arn:aws:iam::aws:policy/…`, not one of
 * {@link FORBIDDEN_AWS_POLICIES}) or customer managed in the target account (not under
 * Tether's path, where its permissions boundary lives); and there must be a target role to
 * attach them to (not with direct access, nor a mode without one).
 */
export function awsPolicyProblems(
  target: Pick<TargetRequest, 'accountId' | 'awsPolicies'>,
  at: string,
  identity: OnboardingRequest['identity'],
): RequestProblem[] {
  const policies = target.awsPolicies ?? [];
  if (policies.length === 0) return [];
  const problems: RequestProblem[] = [];
  if (identity.mode === 'irsa' && identity.directAccess === true) {
    problems.push({
      path: `${at}/awsPolicies`,
      message: 'direct access makes no target role, so there is nothing to attach AWS policies to',
    });
  }
  policies.forEach((arn, i) => {
    const m =
      /^arn:([a-z][a-z-]{0,30}):iam::(aws|\d{12}):policy(\/(?:[\x21-\x7E]{0,510}\/)?)([\w+=,.@-]{1,128})$/.exec(
        arn,
      );
    const path = `${at}/awsPolicies/${i}`;
    if (!m) {
      problems.push({ path, message: `${arn} is not a managed policy ARN` });
    } else if (m[1] !== SUPPORTED_PARTITION) {
      problems.push({
        path,
        message: `${arn} is in the ${m[1]} partition; Tether works in the ${SUPPORTED_PARTITION} partition only`,
      });
    } else if (m[2] === 'aws') {
      if (FORBIDDEN_AWS_POLICIES.some((re) => re.test(m[4] ?? ''))) {
        problems.push({
          path,
          message: `${arn} hands out administration or identity control of the target account; no link may carry it`,
        });
      }
    } else if (m[2] !== target.accountId) {
      problems.push({
        path,
        message: `${arn} is a policy of account ${m[2]}, not of the target account ${target.accountId}`,
      });
    } else if (m[3] === TETHER_ROLE_PATH) {
      problems.push({
        path,
        message: `${arn} is under Tether's own path (its permissions boundary lives there)`,
      });
    }
  });
  return problems;
}

/**
 * Throws what a request breaks, before anything is read or made: {@link InvalidRequestError}
 * (VALIDATION_FAILED) for a name that is not a Region, an access policy that is not for
 * people and workloads, or a username or group EKS refuses; else
 * {@link PartitionUnsupportedError} (PARTITION_UNSUPPORTED) for a Region of another
 * partition. Each lists every field at fault.
 */
export function assertRequestAllowed(request: OnboardingRequest): void {
  const invalid: RequestProblem[] = [];
  const otherPartition: RequestProblem[] = [];
  const clusters = [
    { at: '/source', region: request.source.region },
    ...request.targets.map((t, i) => ({ at: `/targets/${i}`, region: t.region })),
  ];
  for (const { at, region } of clusters) {
    const partition = partitionOf(region);
    if (partition === undefined) {
      invalid.push({ path: `${at}/region`, message: `${region} is not an AWS Region` });
    } else if (partition !== SUPPORTED_PARTITION) {
      otherPartition.push({
        path: `${at}/region`,
        message: `${region} is in the ${partition} partition; Tether works in the ${SUPPORTED_PARTITION} partition only`,
      });
    }
  }
  request.targets.forEach((t, i) => {
    invalid.push(...accessProblems(t.access, `/targets/${i}/access`));
  });
  invalid.push(...identityProblems(request));
  if (request.identity.mode === 'pod-identity' && request.targets.length > 1) {
    // A service account has one association per cluster, and it names one target role
    // (EKS API reference, CreatePodIdentityAssociation; docs/aws-facts.md#pod-identity-limits).
    invalid.push({
      path: '/targets/1',
      message:
        'mode pod-identity links a service account to one target: its one Pod Identity association names one target role',
    });
  }
  request.targets.forEach((t, i) => {
    invalid.push(...awsPolicyProblems(t, `/targets/${i}`, request.identity));
  });
  if (invalid.length > 0) {
    throw new InvalidRequestError(
      `${invalid[0]?.message}${invalid.length > 1 ? ` (and ${invalid.length - 1} more)` : ''}`,
      invalid,
    );
  }
  if (otherPartition.length > 0) {
    throw new PartitionUnsupportedError(
      `${otherPartition[0]?.message}${otherPartition.length > 1 ? ` (and ${otherPartition.length - 1} more)` : ''}`,
      otherPartition,
    );
  }
}

/**
 * Mode `roles-anywhere`: the CA certificate, when given, must be fit for a trust anchor
 * (`#link/certificates`), and the workload's certificate common name must fit X.509's 64
 * characters; `caCertificate` belongs to that mode only.
 */
function rolesAnywhereProblems(request: Pick<OnboardingRequest, 'identity' | 'source'>): RequestProblem[] {
  const { identity, source } = request;
  const path = '/identity/caCertificate';
  if (identity.mode !== 'roles-anywhere') {
    return identity.caCertificate === undefined
      ? []
      : [{ path, message: `caCertificate is for mode roles-anywhere, not ${identity.mode}` }];
  }
  const problems: RequestProblem[] = [];
  if (identity.caCertificate !== undefined) {
    const checked = checkCaCertificate(identity.caCertificate, path, new Date());
    if ('problems' in checked) problems.push(...checked.problems);
  }
  const cn = workloadCommonName(source);
  if (cn.length > MAX_COMMON_NAME) {
    problems.push({
      path: '/source/serviceAccount',
      message: `the workload's certificate common name ${cn} has ${cn.length} characters; X.509 allows ${MAX_COMMON_NAME}`,
    });
  }
  return problems;
}
