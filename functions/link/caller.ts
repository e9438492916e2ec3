/**
 * Who asks (docs/architecture.md#who-may-link-what): the caller of the API, as API Gateway's
 * IAM authorizer names it (the SigV4 principal), and what the member accounts' CloudTrail
 * sees of it. Every link records who created it, and each run who asked for it; every call
 * a run makes into a member account is made in a session named after the link and the run,
 * with `SourceIdentity` set to the caller (docs/aws-facts.md#sts-source-identity).
 */
import { createHash } from 'node:crypto';
import type { Link } from './model';

/** The principal that called the API. */
export interface Caller {
  /** The SigV4 principal's ARN: `arn:aws:sts::111111111111:assumed-role/developer/alice`. */
  readonly arn: string;
  /** Its account. */
  readonly accountId: string;
  /** Its AWS Organization (`o-…`), when API Gateway reports one. */
  readonly organizationId?: string;
}

/** What STS accepts as a role session name and as a source identity (2–64 of `[\w+=,.@-]`). */
const STS_NAME = /^[\w+=,.@-]{2,64}$/;

/**
 * An IAM or STS principal ARN: a user, a role, an assumed-role session, a federated user, or
 * an account root, in any partition.
 */
const PRINCIPAL_ARN =
  /^arn:aws[a-z-]*:(iam|sts)::(\d{12}):(root|user\/[\w+=,.@/-]{1,512}|role\/[\w+=,.@/-]{1,512}|assumed-role\/[\w+=,.@-]{1,64}\/[\w+=,.@-]{2,64}|federated-user\/[\w+=,.@-]{2,32})$/;

/**
 * The caller an ARN names, or undefined if it is no IAM or STS principal ARN.
 *
 * @example
 * callerFromArn('arn:aws:iam::111111111111:user/alice'); // { arn: '…', accountId: '111111111111' }
 * callerFromArn('alice'); // undefined
 */
export function callerFromArn(arn: string, organizationId?: string): Caller | undefined {
  const match = PRINCIPAL_ARN.exec(arn);
  if (!match) return undefined;
  return { arn, accountId: match[2] ?? '', ...(organizationId ? { organizationId } : {}) };
}

/** The ARN's last part: the user, role or session name (`alice`), or `root`. */
export function callerName(arn: string): string {
  const resource = arn.split(':').slice(5).join(':');
  return resource.split('/').at(-1) ?? resource;
}

/**
 * The `SourceIdentity` Tether sets for a caller: the ARN's last part, within STS's limits
 * (2 to 64 of `[\w+=,.@-]`, not starting with `aws:`). Other characters become `-`.
 *
 * @example
 * sourceIdentityOf('arn:aws:sts::111111111111:assumed-role/developer/alice@example.com'); // 'alice@example.com'
 */
export function sourceIdentityOf(arn: string): string {
  const name = callerName(arn)
    .replace(/[^\w+=,.@-]/g, '-')
    .slice(0, 64);
  return name.length >= 2 ? name : `${name}--`.slice(0, 2);
}

/**
 * The role session name of a run of a link: `tether-<link id>-<8 hex of the execution
 * name>`, 46 characters, so CloudTrail names the link and tells runs apart (the link's runs
 * list each run's session name).
 *
 * @example
 * linkSessionName('lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5', 'req_01J9…'); // 'tether-lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5-1a2b3c4d'
 */
export function linkSessionName(linkId: string, executionName: string | undefined): string {
  const run = createHash('sha256')
    .update(executionName ?? '')
    .digest('hex')
    .slice(0, 8);
  return `tether-${linkId}-${run}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

/** Whether STS takes the string as a role session name or a source identity. */
export function isStsName(name: string): boolean {
  return STS_NAME.test(name) && !name.toLowerCase().startsWith('aws:');
}

/**
 * The audited session of a link's current run: named after the link and its execution,
 * with the caller who asked for the run (else who created the link) as `SourceIdentity`.
 *
 * @example
 * rt.clients.forSession(linkCallSession(link)); // the clients every step of the run uses
 */
export function linkCallSession(link: Pick<Link, 'id' | 'lastExecution' | 'requestedBy' | 'createdBy'>): {
  readonly sessionName: string;
  readonly sourceIdentity?: string;
} {
  const asker = link.requestedBy ?? link.createdBy;
  return {
    sessionName: linkSessionName(link.id, link.lastExecution?.name),
    ...(asker ? { sourceIdentity: sourceIdentityOf(asker.arn) } : {}),
  };
}

/**
 * Who asked for a run, as the run records it (`runs[].requestedBy`): the ARN of the link's
 * requester, else of its creator; nothing for links made before callers were known.
 */
export function askedBy(link: Pick<Link, 'requestedBy' | 'createdBy'>): { readonly requestedBy?: string } {
  const asker = link.requestedBy ?? link.createdBy;
  return asker ? { requestedBy: asker.arn } : {};
}
