/**
 * What every response must be, whatever the request: never a 5xx; every 4xx an
 * `application/problem+json` whose `code` is documented, with the code's own status; every
 * status one the spec documents for the route (404/405 for routes and methods it lacks).
 */
import { X509Certificate } from 'node:crypto';
import { expect } from 'vitest';
import { API_ERROR_CODES, API_ERROR_CODE_NAMES, problemType } from '#api/problems';
import type { FuzzRequest, FuzzResponse } from './http';
import { loadSpec } from './spec-arbitrary';

interface SpecRoute {
  readonly template: string;
  /** Literal segments, or `undefined` for a path parameter. */
  readonly segments: readonly (string | undefined)[];
  /** Documented statuses per upper-case method. */
  readonly methods: ReadonlyMap<string, ReadonlySet<number>>;
}

let routes: SpecRoute[] | undefined;

function specRoutes(): SpecRoute[] {
  if (routes !== undefined) return routes;
  const paths = loadSpec().paths as Record<string, Record<string, unknown>>;
  routes = Object.entries(paths).map(([template, item]) => {
    const methods = new Map<string, Set<number>>();
    for (const [method, op] of Object.entries(item)) {
      const responses = (op as { responses?: Record<string, unknown> }).responses;
      if (responses === undefined) continue;
      methods.set(method.toUpperCase(), new Set(Object.keys(responses).map(Number)));
    }
    const segments = template
      .split('/')
      .filter((s) => s !== '')
      .map((s) => (/^\{.+\}$/.test(s) ? undefined : s));
    return { template, segments, methods };
  });
  return routes;
}

export type RouteMatch =
  | { readonly kind: 'operation'; readonly template: string; readonly statuses: ReadonlySet<number> }
  | { readonly kind: 'method not allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'no route' };

/** The spec's answer to "which statuses may this method on this raw path get?". */
export function routeOf(method: string, rawTarget: string): RouteMatch {
  const path = rawTarget.split('#', 1)[0]?.split('?', 1)[0] ?? '';
  const segments = path.split('/').filter((s) => s !== '');
  const matching = specRoutes()
    .filter(
      (r) =>
        r.segments.length === segments.length &&
        r.segments.every((literal, i) => literal === undefined || literal === segments[i]),
    )
    // Literal segments win over parameters, as in the router.
    .sort((a, b) => b.segments.filter(Boolean).length - a.segments.filter(Boolean).length);
  for (const route of matching) {
    const statuses = route.methods.get(method.toUpperCase());
    if (statuses !== undefined) return { kind: 'operation', template: route.template, statuses };
  }
  const first = matching[0];
  if (first !== undefined) return { kind: 'method not allowed', allow: [...first.methods.keys()] };
  return { kind: 'no route' };
}

/** Shown with every failed expectation, so a counterexample reads on its own. */
export function describeExchange(req: FuzzRequest, res: FuzzResponse): string {
  const body = req.body === undefined ? '' : String(req.body instanceof Uint8Array ? '<bytes>' : req.body);
  return `${req.method} ${req.path.slice(0, 300)} [${req.kind}] body=${body.slice(0, 300)} → ${res.status} ${res.text.slice(0, 500)}`;
}

/** Checks what holds of any response; returns the route match for further checks. */
export function checkResponse(req: FuzzRequest, res: FuzzResponse): RouteMatch {
  const about = describeExchange(req, res);
  expect(res.status, about).toBeGreaterThanOrEqual(200);
  expect(res.status, about).toBeLessThan(500);
  const route = routeOf(req.method, req.path);
  // The caller is named before anything else, as API Gateway authenticates before it routes:
  // a header that names no IAM or STS principal is refused whatever the route.
  const caller = req.headers['x-tether-caller'];
  if (typeof caller === 'string' && !CALLER_ARN.test(caller)) {
    expect(res.status, about).toBe(400);
    expect(res.json, about).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [expect.objectContaining({ path: 'x-tether-caller', in: 'header' })],
    });
    return route;
  }
  if (res.status >= 400) {
    expect(String(res.headers['content-type']), about).toMatch(/^application\/problem\+json\b/);
    if (req.method !== 'HEAD') {
      const problem = res.json as Record<string, unknown> | undefined;
      expect(problem, about).toBeTypeOf('object');
      const code = problem?.code as keyof typeof API_ERROR_CODES;
      expect(API_ERROR_CODE_NAMES, about).toContain(code);
      expect(problem?.status, about).toBe(res.status);
      expect(API_ERROR_CODES[code]?.status, about).toBe(res.status);
      expect(problem?.type, about).toBe(problemType(code));
      expect(problem?.title, about).toBe(API_ERROR_CODES[code]?.title);
    }
  }
  switch (route.kind) {
    case 'operation':
      expect([...route.statuses], `${about}: undocumented status for ${route.template}`).toContain(
        res.status,
      );
      break;
    case 'method not allowed':
      expect(res.status, about).toBe(405);
      expect(String(res.headers.allow).split(/,\s*/).sort(), about).toEqual([...route.allow].sort());
      break;
    case 'no route':
      expect(res.status, about).toBe(404);
      if (req.method !== 'HEAD')
        expect((res.json as { code?: unknown } | undefined)?.code, about).toBe('ROUTE_NOT_FOUND');
      break;
  }
  return route;
}

/**
 * A principal the local runtime takes as the caller (`x-tether-caller`), written apart from
 * the code: an IAM user or role, or an STS assumed-role session, of a 12-digit account.
 */
const CALLER_ARN =
  /^arn:aws:(iam::\d{12}:(user|role)\/[\w+=,.@/-]+|sts::\d{12}:assumed-role\/[\w+=,.@-]+\/[\w+=,.@-]{2,})$/;

/**
 * The special-purpose IPv4 blocks no link may let in (the IANA registry, RFC 6890 and its
 * updates), written out here apart from the code under test: this-network, loopback,
 * link-local, the IETF protocol block, documentation, 6to4 relay, benchmarking, AS112, AMT,
 * multicast, reserved, broadcast.
 */
const SPECIAL = [
  '0.0.0.0/8',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.31.196.0/24',
  '192.52.193.0/24',
  '192.88.99.0/24',
  '192.175.48.0/24',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '255.255.255.255/32',
];
/** RFC 1918 and CGNAT: reachable over private connectivity only. */
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'];

function range(cidr: string): [number, number] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  const start = octets.reduce((n, o) => n * 256 + o, 0);
  return [start, start + 2 ** (32 - bits) - 1];
}
const overlaps = (a: [number, number], b: [number, number]) => a[0] <= b[1] && b[0] <= a[1];
const within = (a: [number, number], b: [number, number]) => a[0] >= b[0] && a[1] <= b[1];

/**
 * Whether the guardrails must let a link's CIDR list through (docs/architecture.md#who-may-link-what):
 * every block canonical, at most /`widestPrefix` wide, in no special-purpose block, wholly
 * public or wholly private, none inside another, at most `max` of them.
 */
export function cidrListAllowed(cidrs: readonly string[], widestPrefix = 24, max = 20): boolean {
  if (cidrs.length > max) return false;
  const ranges: [number, number][] = [];
  for (const cidr of cidrs) {
    const r = range(cidr);
    if (!r) return false;
    const bits = Number(cidr.split('/')[1]);
    if (r[0] % 2 ** (32 - bits) !== 0) return false; // host bits set
    if (bits < widestPrefix) return false;
    if (SPECIAL.some((s) => overlaps(r, range(s)!))) return false;
    const privateHit = PRIVATE.map((p) => range(p)!).filter((p) => overlaps(r, p));
    if (privateHit.some((p) => !within(r, p))) return false;
    ranges.push(r);
  }
  return !ranges.some((a, i) => ranges.some((b, j) => i !== j && within(a, b)));
}
// ---- the guardrails of a request body, restated from the issue, not from the code ----

/** The EKS access policies for people and workloads (AWS-FACTS.md, "EKS"). */
const WORKLOAD_ACCESS_POLICIES = new Set(
  [
    'AmazonEKSClusterAdminPolicy',
    'AmazonEKSAdminPolicy',
    'AmazonEKSEditPolicy',
    'AmazonEKSViewPolicy',
    'AmazonEKSAdminViewPolicy',
    'AmazonEKSSecretReaderPolicy',
  ].map((name) => `arn:aws:eks::aws:cluster-access-policy/${name}`),
);

/** Region codes of the partitions other than `aws` (China, GovCloud, ISO, European Sovereign Cloud). */
const OTHER_PARTITION_REGION = /^(cn-|us-gov-|us-iso|eu-iso|eusc-)/;

/**
 * The guardrails an onboarding request body breaks (empty for a body the API may accept):
 * a Region of another partition, an access policy not for people and workloads, a
 * `system:` group, a username starting `system:`, `eks:`, `aws:`, `amazon:` or `iam:`, or a
 * `{{` / `}}` anywhere but in a trailing `{{SessionName}}`.
 */
export function guardrailViolations(body: unknown): string[] {
  return [...requestGuardrailViolations(body), ...identityViolations(body)];
}

/** AWS managed policies no link may carry (administration or identity control), restated from the issue. */
const FORBIDDEN_AWS_POLICY =
  /^(AdministratorAccess.*|PowerUserAccess|IAMFullAccess|IAMUserChangePassword|AWSOrganizations.*|AWSSSO.*Administrator.*|AWSLambda_FullAccess)$/;

/**
 * The identity and target-permission rules a body breaks (issue 14): mode `principal` needs
 * a role ARN of the `aws` partition in the source account, not Tether's own (`/tether/`,
 * `tether-*`) nor the hub's, no direct access and no NAT egress (the default); a
 * `principalArn` is for mode `principal` only and `directAccess` for `irsa` only; a target's
 * `awsPolicies` are managed policy ARNs of the `aws` partition, AWS managed (not one that
 * hands out administration or identity control) or of the target account (not under
 * `/tether/`), and never with direct access; mode `pod-identity` has one target.
 */
export function identityViolations(body: unknown): string[] {
  const b = body as {
    source?: { accountId?: unknown; namespace?: unknown; serviceAccount?: unknown };
    identity?: { mode?: unknown; principalArn?: unknown; directAccess?: unknown; caCertificate?: unknown };
    network?: { mode?: unknown };
    targets?: { accountId?: unknown; awsPolicies?: unknown }[];
  };
  const found: string[] = [];
  const identity = b?.identity ?? { mode: 'irsa' };
  const direct = identity.mode === 'irsa' && identity.directAccess === true;
  if (identity.mode === 'principal') {
    const arn = identity.principalArn;
    const m = typeof arn === 'string' ? /^arn:([^:]+):iam::(\d{12}):role(\/.*\/|\/)([^/]+)$/.exec(arn) : null;
    if (!m) found.push(`/identity/principalArn ${String(arn)}`);
    else if (m[1] !== 'aws' || m[2] !== b?.source?.accountId || m[2] === '000000000000')
      found.push(`/identity/principalArn ${String(arn)}`);
    else if (m[3] === '/tether/' || m[4]?.startsWith('tether-'))
      found.push(`/identity/principalArn ${String(arn)}`);
    if (identity.directAccess === true) found.push('/identity/directAccess');
    if ((b?.network?.mode ?? 'nat') === 'nat') found.push('/network/mode nat');
  } else {
    if (identity.principalArn !== undefined) found.push('/identity/principalArn');
    if (identity.directAccess === true && identity.mode !== 'irsa') found.push('/identity/directAccess');
  }
  // Mode roles-anywhere (issue 15): a caCertificate is one PEM CA certificate valid now, with
  // no private key beside it; it belongs to that mode only; the workload's certificate CN
  // (`<serviceAccount>.<namespace>`) fits X.509's 64 characters.
  const ca = identity.caCertificate;
  if (identity.mode !== 'roles-anywhere') {
    if (ca !== undefined) found.push('/identity/caCertificate');
  } else {
    if (ca !== undefined && !isCaCertificateNow(ca)) found.push('/identity/caCertificate');
    const w = b?.source as { namespace?: unknown; serviceAccount?: unknown } | undefined;
    if (`${String(w?.serviceAccount)}.${String(w?.namespace)}`.length > 64)
      found.push('/source/serviceAccount');
  }
  // Mode pod-identity: the service account's one association names one target role (issue 15).
  if (identity.mode === 'pod-identity' && Array.isArray(b?.targets) && b.targets.length > 1)
    found.push('/targets/1 pod-identity has one target');
  (Array.isArray(b?.targets) ? b.targets : []).forEach((t, i) => {
    const policies = Array.isArray(t?.awsPolicies) ? (t.awsPolicies as unknown[]) : [];
    if (policies.length && direct) found.push(`/targets/${i}/awsPolicies with direct access`);
    policies.forEach((arn, j) => {
      const m =
        typeof arn === 'string' ? /^arn:([^:]+):iam::([^:]+):policy(\/.*\/|\/)([^/]+)$/.exec(arn) : null;
      const bad =
        m?.[1] !== 'aws' ||
        (m[2] === 'aws'
          ? FORBIDDEN_AWS_POLICY.test(m[4] ?? '')
          : m[2] !== t?.accountId || m[3] === '/tether/');
      if (bad) found.push(`/targets/${i}/awsPolicies/${j} ${String(arn)}`);
    });
  });
  return found;
}

/** The request guardrails of the access and Regions (see {@link guardrailViolations}). */
function requestGuardrailViolations(body: unknown): string[] {
  const b = body as {
    source?: { region?: unknown };
    targets?: { region?: unknown; access?: { policyArn?: unknown; groups?: unknown; username?: unknown } }[];
  };
  const found: string[] = [];
  const region = (at: string, r: unknown) => {
    if (typeof r === 'string' && OTHER_PARTITION_REGION.test(r)) found.push(`${at}/region ${r}`);
  };
  region('/source', b?.source?.region);
  (Array.isArray(b?.targets) ? b.targets : []).forEach((t, i) => {
    const at = `/targets/${i}`;
    region(at, t?.region);
    const a = t?.access;
    if (typeof a?.policyArn === 'string' && !WORKLOAD_ACCESS_POLICIES.has(a.policyArn))
      found.push(`${at}/access/policyArn ${a.policyArn}`);
    for (const g of Array.isArray(a?.groups) ? a.groups : [])
      if (typeof g === 'string' && g.startsWith('system:')) found.push(`${at}/access/groups ${g}`);
    const u = a?.username;
    if (typeof u === 'string') {
      const rest = u.endsWith('{{SessionName}}') ? u.slice(0, -'{{SessionName}}'.length) : u;
      if (/^(system|eks|aws|amazon|iam):/.test(u) || rest.includes('{{') || rest.includes('}}'))
        found.push(`${at}/access/username ${u}`);
    }
  });
  return found;
}

/** Whether `text` is a single PEM CA certificate, valid now, with no private key (Node's parser). */
function isCaCertificateNow(text: unknown): boolean {
  if (typeof text !== 'string' || text.includes('PRIVATE KEY')) return false;
  if ((text.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length !== 1) return false;
  try {
    const cert = new X509Certificate(text);
    const now = Date.now();
    return cert.ca && Date.parse(cert.validFrom) <= now && Date.parse(cert.validTo) > now;
  } catch {
    return false;
  }
}
