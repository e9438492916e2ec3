/**
 * `Principal` and `NotPrincipal` as IAM documents them (IAM JSON policy elements: Principal,
 * NotPrincipal): account ids and root ARNs (everyone in the account), role ARNs (the role
 * and its sessions), role-session, user and federated-user ARNs, service and federated
 * principals, and `*`. IAM allows no wildcard inside a principal; one is unknown.
 */
import { any, asList, isUnknown, type Tri, type Unknown, unknown } from './match';

/** The kind of principal making a request, as a `Principal` element names it. */
export type PrincipalType = 'AWS' | 'Federated' | 'Service';

/**
 * Who makes a request: for `AWS`, an account id or root ARN, a role ARN, a role-session ARN
 * (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`) or a user ARN; for `Service`, the
 * service principal (`eks.amazonaws.com`); for `Federated`, the provider (an OIDC provider ARN).
 */
export interface RequestPrincipal {
  readonly type: PrincipalType;
  readonly id: string;
}

/** What a principal entry stands for. */
type Entry =
  | { readonly kind: 'any' }
  | { readonly kind: 'account'; readonly account: string }
  | {
      readonly kind: 'role';
      readonly partition: string;
      readonly account: string;
      readonly name: string;
      readonly path: string;
    }
  | { readonly kind: 'exact'; readonly id: string }
  | { readonly kind: 'none' }
  | Unknown;

/** One of the identities a request's principal is, from the most specific to its account. */
type Level =
  | { readonly kind: 'exact'; readonly id: string }
  | {
      readonly kind: 'role';
      readonly partition: string;
      readonly account: string;
      readonly name: string;
      readonly path?: string;
    }
  | { readonly kind: 'account'; readonly account: string };

const ARN = /^arn:(aws[a-z-]*):(iam|sts)::(\d{12}):(.+)$/;

/** A role ARN's parts: the path (with slashes) and the name. */
function roleParts(resource: string): { path: string; name: string } | undefined {
  const m = /^role(\/(?:[^/]+\/)*)([^/]+)$/.exec(resource);
  return m?.[1] && m[2] ? { path: m[1], name: m[2] } : undefined;
}

/** Parses an AWS principal entry of a policy. */
function awsEntry(id: string): Entry {
  if (id === '*') return { kind: 'any' };
  if (/^\d{12}$/.test(id)) return { kind: 'account', account: id };
  // IAM shows a deleted principal's unique id in the policy: it matches no one any more.
  if (/^A(IDA|ROA)[A-Z0-9]{12,}$/.test(id)) return { kind: 'none' };
  if (/[*?]/.test(id)) return unknown(`'${id}': IAM does not allow a wildcard inside a principal`);
  const m = ARN.exec(id);
  const [, partition = '', service, account = '', resource = ''] = m ?? [];
  if (m && service === 'iam' && resource === 'root') return { kind: 'account', account };
  const role = m && service === 'iam' ? roleParts(resource) : undefined;
  if (role) return { kind: 'role', partition, account, ...role };
  if (
    m &&
    (/^user\//.test(resource) || /^(assumed-role\/[^/]+\/[^/]+|federated-user\/[^/]+)$/.test(resource))
  ) {
    return { kind: 'exact', id };
  }
  return unknown(`'${id}' is not a principal IAM documents`);
}

/** The identities a request's AWS principal is: a session is also its role and its account. */
function awsLevels(id: string): readonly Level[] | Unknown {
  if (/^\d{12}$/.test(id)) return [{ kind: 'account', account: id }];
  const m = ARN.exec(id);
  if (!m) return unknown(`the request's principal '${id}' is not an ARN IAM documents`);
  const [, partition = '', service, account = '', resource = ''] = m;
  const accountLevel: Level = { kind: 'account', account };
  if (service === 'iam' && resource === 'root') return [accountLevel];
  const role = service === 'iam' ? roleParts(resource) : undefined;
  if (role) return [{ kind: 'role', partition, account, ...role }, accountLevel];
  // A session ARN drops the role's path: it is matched to a role ARN by account and name.
  const session = service === 'sts' ? /^assumed-role\/([^/]+)\/[^/]+$/.exec(resource) : null;
  if (session?.[1]) {
    return [{ kind: 'exact', id }, { kind: 'role', partition, account, name: session[1] }, accountLevel];
  }
  if (/^(user\/.+|federated-user\/[^/]+)$/.test(resource)) return [{ kind: 'exact', id }, accountLevel];
  return unknown(`the request's principal '${id}' is not an ARN IAM documents`);
}

function covers(entry: Entry, level: Level): Tri {
  if ('cannotEvaluate' in entry) return entry;
  switch (entry.kind) {
    case 'any':
      return true;
    case 'none':
      return false;
    case 'account':
      return level.kind === 'account' && level.account === entry.account;
    case 'exact':
      return level.kind === 'exact' && level.id === entry.id;
    case 'role':
      return (
        level.kind === 'role' &&
        level.partition === entry.partition &&
        level.account === entry.account &&
        level.name === entry.name &&
        (level.path === undefined || level.path === entry.path)
      );
  }
}

/**
 * For each identity of the requester, whether the element lists it. `"*"` lists everyone;
 * an entry of another principal type lists no one, except where IAM leaves it open.
 */
function listedLevels(
  element: unknown,
  name: string,
  principal: RequestPrincipal | undefined,
): readonly Tri[] | Unknown {
  if (element === '*') return [true];
  const entries = Object.entries(element as Record<string, unknown>);
  if (principal === undefined) {
    // IAM: for anonymous requests `"AWS": "*"` is the same as `"*"`.
    const anyone = entries.some(([type, ids]) => type === 'AWS' && asList(ids).includes('*'));
    return anyone ? [true] : unknown(`${name} names principals and the request names none`);
  }
  const levels: readonly Level[] | Unknown =
    principal.type === 'AWS' ? awsLevels(principal.id) : [{ kind: 'exact', id: principal.id }];
  if ('cannotEvaluate' in levels) return levels;
  const parsed = entries.flatMap(([type, ids]) =>
    asList(ids).map((raw): Entry => {
      const id = String(raw);
      if (type === principal.type) {
        if (type === 'AWS') return awsEntry(id);
        return /[*?]/.test(id) ? unknown(`${name} ${type} '${id}' has a wildcard`) : { kind: 'exact', id };
      }
      if (type === 'AWS' && id === '*') {
        return unknown(`whether ${name} "AWS": "*" covers a ${principal.type} principal is not documented`);
      }
      if (type === 'AWS' || type === 'Service' || type === 'Federated') return { kind: 'none' };
      if (type === 'CanonicalUser' && principal.type !== 'AWS') return { kind: 'none' };
      return unknown(`${name} type '${type}' is not one this evaluator can match`);
    }),
  );
  return levels.map((level) => any(parsed.map((e) => covers(e, level))));
}

/**
 * `Principal`: the statement applies when any identity of the requester is listed (a role
 * covers its sessions, an account everyone in it). `NotPrincipal`: when none is. When a
 * `NotPrincipal` lists a session or role but not its account (or the reverse), IAM says the
 * result depends on the service ("AWS might validate the account first"): unknown.
 */
export function principalMatches(st: Record<string, unknown>, principal: RequestPrincipal | undefined): Tri {
  if (st.Principal !== undefined) {
    const listed = listedLevels(st.Principal, 'Principal', principal);
    return 'cannotEvaluate' in listed ? listed : any(listed);
  }
  const listed = listedLevels(st.NotPrincipal, 'NotPrincipal', principal);
  if ('cannotEvaluate' in listed) return listed;
  if (listed.every((l) => l === true)) return false;
  if (listed.every((l) => l === false)) return true;
  return (
    listed.find(isUnknown) ??
    unknown("NotPrincipal lists some of the requester's identities (session, role, account) but not all")
  );
}
