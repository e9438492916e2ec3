/**
 * What a request may ask for, whoever asks (DESIGN.md, "Who may link what"; AWS-FACTS.md,
 * "EKS"): Regions of the partition Tether works in, the EKS access policies meant for people
 * and workloads, and Kubernetes identities EKS accepts — no username starting `system:`,
 * `eks:`, `aws:`, `amazon:` or `iam:`, a template only as a trailing `{{SessionName}}`, and
 * no `system:` group. `api/openapi.yaml` states the same rules (unit tests keep them equal),
 * so the router refuses a mistake with the field; the plan checks them again, so nothing is
 * made from a request that breaks them, whoever calls it.
 */
import { isAccessPolicyArn } from './access-policies';
import { InvalidRequestError, PartitionUnsupportedError } from './errors';
import type { Access, OnboardingRequest } from './model';
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
