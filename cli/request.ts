/**
 * The onboarding request of `link create` and `plan`: read from a YAML or JSON file (the
 * body of `POST /links` as it is), or built from flags. The CLI checks only the shape of the
 * command line; the API validates the values against api/openapi.yaml and answers with a
 * pointer to each invalid field.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './exit-codes';

export interface RequestFlags {
  readonly file?: string;
  readonly source?: string;
  readonly target?: readonly string[];
  readonly policy?: string;
  readonly scope?: string;
  readonly group?: readonly string[];
  readonly username?: string;
  readonly network?: string;
  readonly cidr?: readonly string[];
  readonly identity?: string;
  /** A PEM file: the source cluster's CA certificate (mode roles-anywhere). */
  readonly caCertificate?: string;
}

const POLICY_ARN_PREFIX = 'arn:aws:eks::aws:cluster-access-policy/';

/** `AmazonEKSViewPolicy` → its ARN; an ARN stays as it is. */
export function policyArnOf(policy: string): string {
  return policy.startsWith('arn:') ? policy : `${POLICY_ARN_PREFIX}${policy}`;
}

/** `a/b/c` → `{accountId: a, …}`; `shape` is the form the error names. */
function parts(flag: string, value: string, names: readonly string[], shape: string): Record<string, string> {
  const values = value.split('/');
  if (values.length !== names.length || values.some((v) => v === '')) {
    throw new UsageError(`${flag} must be ${shape}, not "${value}"`);
  }
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}

/** `--scope cluster` or `--scope namespace:a,b`. */
function scopeOf(scope: string | undefined) {
  if (scope === undefined || scope === 'cluster') return { type: 'cluster' };
  const m = /^namespaces?:(.+)$/.exec(scope);
  if (!m) throw new UsageError(`--scope must be "cluster" or "namespace:NS[,NS…]", not "${scope}"`);
  return {
    type: 'namespace',
    namespaces: m[1]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  };
}

const REQUEST_FLAGS: readonly (keyof RequestFlags)[] = [
  'source',
  'target',
  'policy',
  'scope',
  'group',
  'username',
  'network',
  'cidr',
  'identity',
  'caCertificate',
];

const given = (v: unknown) => v !== undefined && !(Array.isArray(v) && v.length === 0);

/** The request body from the flags (no file). */
export function requestFromFlags(flags: RequestFlags): Record<string, unknown> {
  const missing: string[] = [];
  if (!flags.source) missing.push('--source ACCOUNT/REGION/CLUSTER/NAMESPACE/SERVICEACCOUNT');
  if (!flags.target?.length) missing.push('--target ACCOUNT/REGION/CLUSTER');
  if (!flags.policy && !flags.group?.length) missing.push('--policy NAME|ARN or --group GROUP');
  if (missing.length) {
    throw new UsageError(`the request needs ${missing.join(', ')} (or --file FILE)`);
  }
  if (flags.policy && flags.group?.length) {
    throw new UsageError('give the access as --policy (an EKS access policy) or --group, not both');
  }
  if (flags.group?.length && flags.scope !== undefined) {
    throw new UsageError('--scope goes with --policy; groups are bound by the cluster’s own RBAC');
  }
  const source = parts(
    '--source',
    flags.source!,
    ['accountId', 'region', 'cluster', 'namespace', 'serviceAccount'],
    'ACCOUNT/REGION/CLUSTER/NAMESPACE/SERVICEACCOUNT',
  );
  const access: Record<string, unknown> = flags.policy
    ? { policyArn: policyArnOf(flags.policy), scope: scopeOf(flags.scope) }
    : { groups: [...(flags.group ?? [])] };
  if (flags.username) access.username = flags.username;
  const targets = flags.target!.map((t) => ({
    ...parts('--target', t, ['accountId', 'region', 'cluster'], 'ACCOUNT/REGION/CLUSTER'),
    access,
  }));
  const body: Record<string, unknown> = { source };
  if (flags.identity) body.identity = { mode: flags.identity };
  const network = flags.network ?? (flags.cidr?.length ? 'cidrs' : undefined);
  if (network === 'cidrs') {
    if (!flags.cidr?.length) throw new UsageError('--network cidrs needs at least one --cidr CIDR');
    body.network = { mode: 'cidrs', cidrs: [...flags.cidr] };
  } else if (network !== undefined) {
    if (flags.cidr?.length)
      throw new UsageError(`--cidr goes with --network cidrs, not --network ${network}`);
    body.network = { mode: network };
  }
  body.targets = targets;
  return body;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** The request body of a YAML or JSON file (`-` = standard input). */
export async function requestFromFile(path: string, stdin: NodeJS.ReadableStream): Promise<unknown> {
  let text: string;
  try {
    text = path === '-' ? await readAll(stdin) : await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the request file ${path}: ${(err as Error).message}`);
  }
  let body: unknown;
  try {
    body = parseYaml(text);
  } catch (err) {
    throw new UsageError(
      `the request file ${path} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new UsageError(
      `the request file ${path} must hold one onboarding request (a mapping with source and targets)`,
    );
  }
  return body;
}

/** The request of `link create` / `plan`: the file, or the flags, never both. */
export async function buildRequest(flags: RequestFlags, stdin: NodeJS.ReadableStream): Promise<unknown> {
  if (flags.file !== undefined) {
    const mixed = REQUEST_FLAGS.filter((f) => given(flags[f]));
    if (mixed.length) {
      throw new UsageError(
        `give the request as --file or as flags, not both (got --file and ${mixed.map((f) => `--${f}`).join(', ')})`,
      );
    }
    return requestFromFile(flags.file, stdin);
  }
  const body = requestFromFlags(flags);
  if (flags.caCertificate !== undefined) {
    const identity = (body.identity as Record<string, unknown> | undefined) ?? { mode: 'roles-anywhere' };
    if (identity.mode !== 'roles-anywhere')
      throw new UsageError('--ca-certificate goes with --identity roles-anywhere');
    let pem: string;
    try {
      pem = await readFile(flags.caCertificate, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --ca-certificate ${flags.caCertificate}: ${(err as Error).message}`);
    }
    body.identity = { ...identity, caCertificate: pem };
  }
  return body;
}
