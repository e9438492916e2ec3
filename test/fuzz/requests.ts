/** Arbitraries of whole HTTP requests to the API, per concern of the fuzz suite. */
import fc from 'fast-check';
import type { FuzzRequest } from './http';
import { type Json, mutated, nastyString, rawBodies } from './mutations';
import { anyOnboardingRequest, arbitraryFor, demoOnboardingRequest, loadSpec } from './spec-arbitrary';
import { cidrListAllowed } from './oracle';

const JSON_TYPE = { 'content-type': 'application/json' };

/** Idempotency keys: a few valid ones (so some are reused), and bad shapes. */
export const validIdempotencyKey = fc.constantFrom('fuzz-key-1', 'fuzz-key-2', 'fuzz:key.3', 'K');

const badIdempotencyKey: fc.Arbitrary<string | string[]> = fc.oneof(
  fc.constantFrom('', ' ', 'a b', 'key/1', 'a,b', 'x'.repeat(129), 'k'.repeat(5000), '%00', 'é', '\tkey'),
  fc
    .string({ unit: 'binary-ascii', minLength: 1, maxLength: 40 })
    .map((s) => s.replace(/[^\t\x20-\x7e]/g, '')),
  fc.tuple(validIdempotencyKey, validIdempotencyKey).map(([a, b]) => [a, b]),
);

/** Request headers for a JSON body, sometimes with an Idempotency-Key (valid or not). */
const bodyHeaders = (withKey: boolean, badKeys: boolean): fc.Arbitrary<Record<string, string | string[]>> => {
  if (!withKey) return fc.constant({ ...JSON_TYPE });
  const key = badKeys
    ? fc.oneof({ weight: 3, arbitrary: validIdempotencyKey }, { weight: 1, arbitrary: badIdempotencyKey })
    : validIdempotencyKey;
  return key.map((k) => ({ ...JSON_TYPE, 'idempotency-key': k }));
};

/** POST /links with spec-valid bodies restricted to the demo world: some are accepted. */
export const validDemoLinkRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    demoOnboardingRequest(),
    fc.boolean().chain((withKey) => bodyHeaders(withKey, false)),
  )
  .map(([body, headers]) => ({
    kind: 'valid demo body',
    method: 'POST',
    path: '/links',
    headers,
    body: JSON.stringify(body),
  }));

/** POST /plans with any spec-valid body (any account, any names). */
export const validPlanRequest: fc.Arbitrary<FuzzRequest> = fc
  .oneof(anyOnboardingRequest(), demoOnboardingRequest())
  .map((body) => ({
    kind: 'valid body',
    method: 'POST',
    path: '/plans',
    headers: JSON_TYPE,
    body: JSON.stringify(body),
  }));

const onboardingPath = fc.constantFrom('/links', '/plans');

/** One guardrail a body can break, by the field it puts the mistake in (a JSON Pointer). */
const guardrailMistake: fc.Arbitrary<{ pointer: string; value: unknown }> = fc.oneof(
  fc
    .constantFrom('cn-north-1', 'cn-northwest-1', 'us-gov-west-1', 'us-gov-east-1', 'us-iso-east-1')
    .chain((region) =>
      fc.constantFrom(
        { pointer: '/source/region', value: region },
        { pointer: '/targets/0/region', value: region },
      ),
    ),
  fc
    .constantFrom('xx-fake-1', 'us-east-9', 'eu-middle-1', 'ap-southeast-0')
    .map((value) => ({ pointer: '/targets/0/region', value })),
  fc
    .constantFrom(
      'AmazonEKSViewerPolicy',
      'AmazonEKSAutoNodePolicy',
      'AmazonEKSNetworkingPolicy',
      'AdministratorAccess',
    )
    .map((name) => ({
      pointer: '/targets/0/access',
      value: { policyArn: `arn:aws:eks::aws:cluster-access-policy/${name}`, scope: { type: 'cluster' } },
    })),
  fc
    .constantFrom('system:masters', 'system:authenticated', 'system:nodes')
    .map((group) => ({ pointer: '/targets/0/access', value: { groups: ['readers', group] } })),
  fc
    .constantFrom(
      'system:admin',
      'eks:ci',
      'aws:x',
      'amazon:x',
      'iam:x',
      '{{AccountID}}',
      'x}}{{SessionName}}',
    )
    .map((username) => ({ pointer: '/targets/0/access', value: { groups: ['readers'], username } })),
);

/** Sets the value at a JSON Pointer of an object (the path exists up to its last part). */
function setAt(body: Record<string, unknown>, pointer: string, value: unknown): void {
  const parts = pointer.split('/').slice(1);
  const last = parts.pop() ?? '';
  const parent = parts.reduce<any>((node, part) => node[part], body);
  parent[last] = value;
}

/**
 * A demo body within every other guardrail: CIDRs the guardrails let through (the oracle's
 * `cidrListAllowed`), and no workload linked to its own cluster.
 */
const withinGuardrails = demoOnboardingRequest().filter((body) => {
  const b = body as {
    source: { accountId: string; region: string; cluster: string };
    network?: { cidrs?: string[] };
    targets: { accountId: string; region: string; cluster: string }[];
  };
  const own = (t: (typeof b.targets)[number]) =>
    t.accountId === b.source.accountId && t.region === b.source.region && t.cluster === b.source.cluster;
  return cidrListAllowed(b.network?.cidrs ?? []) && !b.targets.some(own);
});

/** POST /links and /plans with a demo body that breaks one guardrail, with or without an Idempotency-Key. */
export const guardrailMistakeRequest: fc.Arbitrary<FuzzRequest & { readonly mistake: string }> = fc
  .tuple(
    onboardingPath,
    withinGuardrails,
    guardrailMistake,
    fc.boolean().chain((withKey) => bodyHeaders(withKey, false)),
  )
  .map(([path, body, { pointer, value }, headers]) => {
    const broken = structuredClone(body);
    setAt(broken, pointer, value);
    return {
      kind: 'guardrail mistake',
      mistake: pointer,
      method: 'POST',
      path,
      headers,
      body: JSON.stringify(broken),
    };
  });

/** POST /links and /plans with mutated bodies (wrong types, hostile strings, unknown fields, …). */
export const mutatedBodyRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    onboardingPath,
    mutated(fc.oneof(demoOnboardingRequest(), anyOnboardingRequest()) as fc.Arbitrary<Json>),
    fc.boolean().chain((withKey) => bodyHeaders(withKey, true)),
  )
  .map(([path, body, headers]) => ({
    kind: 'mutated body',
    method: 'POST',
    path,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }));

const contentType: fc.Arbitrary<string | undefined> = fc.constantFrom(
  undefined,
  '',
  'application/json',
  'application/json; charset=utf-8',
  'application/json;charset="UTF-8"',
  'application/json; charset=utf-16',
  'application/json; charset=iso-8859-1',
  'APPLICATION/JSON',
  'application/json; foo=bar',
  'application/problem+json',
  'application/merge-patch+json',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/xml',
  ';',
  'application/json, text/plain',
);

const contentTypeHeader = (type: string | undefined): Record<string, string> =>
  type === undefined ? {} : { 'content-type': type };

/** POST /links and /plans with raw bodies: duplicated keys, truncated JSON, bad bytes, any content type. */
export const rawBodyRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    onboardingPath,
    rawBodies(demoOnboardingRequest() as fc.Arbitrary<Json>),
    fc.oneof(
      { weight: 3, arbitrary: fc.constant('application/json') },
      { weight: 2, arbitrary: contentType },
    ),
  )
  .map(([path, { label, body }, type]) => ({
    kind: `raw body: ${label}`,
    method: 'POST',
    path,
    headers: contentTypeHeader(type),
    body,
  }));

/** A valid body with a bad content type or none at all, or no body. */
export const mediaTypeRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(onboardingPath, demoOnboardingRequest(), contentType, fc.boolean())
  .map(([path, body, type, withBody]) => ({
    kind: 'media type',
    method: 'POST',
    path,
    headers: contentTypeHeader(type),
    ...(withBody ? { body: JSON.stringify(body) } : {}),
  }));

// ---- query parameters -------------------------------------------------------------------

interface QueryParameter {
  readonly name: string;
  readonly schema: Record<string, unknown>;
}

function listLinksParameters(): QueryParameter[] {
  const paths = loadSpec().paths as Record<string, Record<string, Record<string, unknown>>>;
  const params = (paths['/links']?.get?.parameters ?? []) as QueryParameter[];
  return params.filter((p) => (p as unknown as { in: string }).in === 'query');
}

const base64url = (text: string | Uint8Array) => Buffer.from(text).toString('base64url');

/** Real cursors (`nextCursor` of pages the API served), edited: a character changed, cut short. */
const realCursor = (served: readonly string[]): fc.Arbitrary<string> =>
  fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('keep', 'flip', 'cut')).map(([which, at, edit]) => {
    const c = served[which % Math.max(1, served.length)] ?? 'e30';
    const i = at % c.length;
    if (edit === 'flip') return `${c.slice(0, i)}${c[i] === 'A' ? 'B' : 'A'}${c.slice(i + 1)}`;
    return edit === 'cut' ? c.slice(0, Math.max(1, i)) : c;
  });

/** Cursors: garbage, garbage base64, base64 JSON of the wrong shape, and of the right shape with odd values. */
const forgedCursor: fc.Arbitrary<string> = fc.oneof(
  fc.string({ minLength: 1, maxLength: 60 }),
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map(base64url),
  fc.uint8Array({ minLength: 1, maxLength: 60 }).map((b) => Buffer.from(b).toString('base64')),
  fc.jsonValue({ maxDepth: 3 }).map((v) => base64url(JSON.stringify(v))),
  fc
    .record({
      pk: fc.oneof(nastyString, fc.constantFrom('LINK#lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5', 'LINKS', '')),
      sk: fc.oneof(nastyString, fc.constantFrom('LINK', 'META', '')),
      gsi1pk: fc.oneof(nastyString, fc.constantFrom('LINKS', 'OTHER', '')),
      gsi1sk: fc.oneof(nastyString, fc.constantFrom('2025-01-01T00:00:00.000Z', '')),
    })
    .map((key) => base64url(JSON.stringify(key)))
    .filter((c) => c.length <= 2048),
  fc.constantFrom('', '=', '====', 'e30', 'bnVsbA', 'W10', '%', 'a'.repeat(2049)),
);

/**
 * Query parameters of GET /links: valid by the spec, hostile, repeated, unknown; cursors
 * forged, or served by the API (`served`, filled as pages come back) and edited.
 */
export function listLinksRequest(served: readonly string[]): fc.Arbitrary<FuzzRequest> {
  const params = listLinksParameters();
  const cursor = fc.oneof(forgedCursor, realCursor(served));
  const valuesOf = (p: QueryParameter): fc.Arbitrary<string> =>
    fc.oneof(
      { weight: 4, arbitrary: arbitraryFor(p.schema).map(String) },
      {
        weight: 2,
        arbitrary: fc.constantFrom('0', '-1', '101', '1e2', '25.5', ' 5', '0x10', '', 'null', 'true', '[]'),
      },
      { weight: 2, arbitrary: nastyString.filter((s) => s.length < 3000) },
      ...(p.name === 'cursor' ? [{ weight: 4, arbitrary: cursor }] : []),
    );
  const known = fc.oneof(...params.map((p) => valuesOf(p).map((v) => [p.name, v] as const)));
  const unknown = fc
    .tuple(
      fc.oneof(
        fc.constantFrom(
          'foo',
          'LIMIT',
          'limit[]',
          '',
          '__proto__',
          'constructor',
          'toString',
          'valueOf',
          'page',
          'sort',
        ),
        fc.string({ maxLength: 10 }),
      ),
      fc.string({ maxLength: 20 }),
    )
    .map(([k, v]) => [k, v] as const);
  return fc
    .array(fc.oneof({ weight: 5, arbitrary: known }, { weight: 1, arbitrary: unknown }), { maxLength: 5 })
    .map((pairs) => {
      const query = pairs.map(([k, v]) => `${encodeBytes(k)}=${encodeBytes(v)}`).join('&');
      return {
        kind: 'list query',
        method: 'GET',
        path: query === '' ? '/links' : `/links?${query}`,
        headers: {},
      };
    });
}

// ---- ids, paths, methods ----------------------------------------------------------------

const linkIdSchema = { $ref: '#/components/schemas/LinkId' };

/** Path segments standing for a link id: well-formed unknown ids, known ids, garbage. */
export function linkIdSegment(known: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: (arbitraryFor(linkIdSchema) as fc.Arbitrary<string>).map(encodeURIComponent) },
    {
      weight: 2,
      arbitrary: fc
        .nat()
        .map((i) => known[i % Math.max(1, known.length)] ?? 'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5'),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'lnk_',
        'lnk_01j9z8q4v6x2c3b5n7m9k1h3g5',
        'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3GI',
        'LNK_01J9Z8Q4V6X2C3B5N7M9K1H3G5',
        '..',
        '.',
        '%2e%2e',
        '%2F',
        'a%2Fb',
        '%00',
        '%',
        '%zz',
        '%C0%AF',
        '%ED%A0%80',
        'null',
        'undefined',
        '*',
        '~',
      ),
    },
    { weight: 2, arbitrary: nastyString.filter((s) => s.length < 3000).map(encodeBytes) },
  );
}

/**
 * Percent-encodes the UTF-8 bytes of a string (for a path segment or a query component);
 * unlike `encodeURIComponent` it takes lone surrogates (as U+FFFD).
 */
function encodeBytes(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

/** Reads of one link: GET /links/{id}, /kubeconfig, /runs. */
export function linkReadRequest(known: readonly string[]): fc.Arbitrary<FuzzRequest> {
  return fc.tuple(linkIdSegment(known), fc.constantFrom('', '/kubeconfig', '/runs')).map(([id, suffix]) => ({
    kind: 'link read',
    method: 'GET',
    path: `/links/${id}${suffix}`,
    headers: {},
  }));
}

/** DELETE /links/{id}. */
export function linkDeleteRequest(known: readonly string[]): fc.Arbitrary<FuzzRequest> {
  return linkIdSegment(known).map((id) => ({
    kind: 'link delete',
    method: 'DELETE',
    path: `/links/${id}`,
    headers: {},
  }));
}

/** POST /links/{id}/reconcile. */
export function linkReconcileRequest(known: readonly string[]): fc.Arbitrary<FuzzRequest> {
  return linkIdSegment(known).map((id) => ({
    kind: 'link reconcile',
    method: 'POST',
    path: `/links/${id}/reconcile`,
    headers: {},
  }));
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/** Any method on any path: known routes, near-misses, unknown paths, odd slashes and encodings. */
export function anyRouteRequest(known: readonly string[]): fc.Arbitrary<FuzzRequest> {
  const segment = fc.oneof(
    fc.constantFrom(
      'links',
      'plans',
      'reconcile',
      'kubeconfig',
      'runs',
      'approval',
      'LINKS',
      'link',
      'plan',
      '',
      'v1',
      'prod',
    ),
    linkIdSegment(known),
  );
  const path = fc
    .tuple(
      fc.array(segment, { minLength: 0, maxLength: 4 }),
      fc.constantFrom('', '/', '?', '?x=1', '#frag', '//'),
    )
    .map(([segments, tail]) => `/${segments.join('/')}${tail}`);
  return fc
    .tuple(
      fc.constantFrom(...METHODS),
      path,
      fc.option(fc.constantFrom('{}', '[]', 'x'), { nil: undefined }),
      fc.option(validIdempotencyKey, { nil: undefined }),
    )
    .map(([method, p, body, key]) => ({
      kind: 'any route',
      method,
      path: p,
      headers: {
        ...(body === undefined ? {} : JSON_TYPE),
        ...(key === undefined ? {} : { 'idempotency-key': key }),
      },
      ...(body === undefined || method === 'GET' || method === 'HEAD' ? {} : { body }),
    }));
}

/** Valid bodies with hostile or odd headers (Idempotency-Key shapes, repeated headers). */
export const headerRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    onboardingPath,
    demoOnboardingRequest(),
    badIdempotencyKey,
    fc.constantFrom('idempotency-key', 'Idempotency-Key', 'IDEMPOTENCY-KEY'),
  )
  .map(([path, body, key, name]) => ({
    kind: 'bad idempotency key',
    method: 'POST',
    path,
    headers: { ...JSON_TYPE, [name]: key },
    body: JSON.stringify(body),
  }));

// ---- callers, approvals, explicit CIDRs -----------------------------------------------

/**
 * Callers of the local runtime (`x-tether-caller`): none (the operator), the source account,
 * the target accounts, a stranger, and ARNs the adapter refuses.
 */
export const CALLERS = {
  alice: 'arn:aws:sts::111111111111:assumed-role/developer/alice',
  bob: 'arn:aws:sts::222222222222:assumed-role/cluster-owner/bob',
  dave: 'arn:aws:iam::333333333333:user/dave',
  mallory: 'arn:aws:iam::444444444444:user/mallory',
} as const;

const callerHeader: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({}) },
  {
    weight: 6,
    arbitrary: fc.constantFrom(...Object.values(CALLERS)).map((arn) => ({ 'x-tether-caller': arn })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        'alice',
        'arn:aws:s3:::bucket',
        'arn:aws:iam::1:user/x',
        'arn:aws:iam::111111111111:user/',
      )
      .map((arn) => ({ 'x-tether-caller': arn })),
  },
);

/** The same requests, from any caller. */
export function fromAnyCaller(requests: fc.Arbitrary<FuzzRequest>): fc.Arbitrary<FuzzRequest> {
  return fc.tuple(requests, callerHeader).map(([req, caller]) => ({
    ...req,
    kind: `${req.kind} as ${caller['x-tether-caller'] ?? 'the operator'}`,
    headers: { ...req.headers, ...caller },
  }));
}

/** POST /links/{id}/approval: decisions valid and not, on known and unknown links. */
export function approvalRequest(known: readonly string[]): fc.Arbitrary<FuzzRequest> {
  const body = fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .record({
          decision: fc.constantFrom('approve', 'reject'),
          reason: fc.string({ minLength: 1, maxLength: 40 }),
        })
        .map((b) => JSON.stringify(b)),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{}',
        '{"decision":"approve"}',
        '{"decision":"maybe","reason":"x"}',
        '{"decision":"approve","reason":""}',
        '{"decision":"approve","reason":"x","by":"me"}',
        '[]',
      ),
    },
  );
  return fc.tuple(linkIdSegment(known), body).map(([id, b]) => ({
    kind: 'approval',
    method: 'POST',
    path: `/links/${id}/approval`,
    headers: { ...JSON_TYPE },
    body: b,
  }));
}

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
const toInt = (a: number, b: number, c: number, d: number) => ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
/** The block of `bits` that holds the address (host bits cleared). */
const block = (n: number, bits: number) =>
  `${ipv4(bits === 0 ? 0 : (n >>> (32 - bits)) << (32 - bits))}/${bits}`;

/**
 * CIDRs of every kind the guardrails tell apart: public blocks within and beyond /24,
 * private and CGNAT ranges, special-purpose space, host bits set, and anything at all.
 */
export const anyCidr: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.constantFrom(3, 13, 18, 34, 44, 52, 54, 99),
        octet,
        octet,
        octet,
        fc.integer({ min: 24, max: 32 }),
      )
      .map(([a, b, c, d, bits]) => block(toInt(a, b, c, d), bits)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom([10, 0, 255], [172, 16, 31], [192, 168, 168], [100, 64, 127]),
        octet,
        octet,
        octet,
        fc.integer({ min: 8, max: 32 }),
      )
      .map(([[a, lo, hi], b, c, d, bits]) =>
        block(toInt(a as number, lo! + (b % (hi! - lo! + 1)), c, d), bits),
      ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '0.0.0.0/0',
      '0.0.0.0/8',
      '127.0.0.1/32',
      '169.254.169.254/32',
      '224.0.0.1/32',
      '239.255.255.0/24',
      '255.255.255.255/32',
      '240.1.2.0/24',
      '192.0.2.0/24',
      '198.51.100.7/32',
      '203.0.113.0/24',
      '198.18.5.0/24',
      '192.88.99.1/32',
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(18, 52),
        octet,
        octet,
        fc.integer({ min: 1, max: 255 }),
        fc.integer({ min: 8, max: 31 }),
      )
      .map(([a, b, c, d, bits]) => `${a}.${b}.${c}.${d}/${bits}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(octet, octet, octet, octet, fc.integer({ min: 0, max: 32 }))
      .map(([a, b, c, d, bits]) => `${a}.${b}.${c}.${d}/${bits}`),
  },
);

/**
 * POST /links of a new workload of the demo source to cluster-b with explicit CIDRs (each
 * request a new link, so none conflicts with another): the guardrails decide, and what they
 * let through waits for an approver.
 */
export const cidrLinkRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(fc.uniqueArray(anyCidr, { minLength: 1, maxLength: 25 }), fc.integer({ min: 0, max: 2 ** 30 }))
  .map(([cidrs, n]) => ({
    kind: 'cidrs',
    method: 'POST',
    path: '/links',
    headers: { ...JSON_TYPE },
    body: JSON.stringify({
      source: {
        accountId: '111111111111',
        region: 'ap-southeast-1',
        cluster: 'cluster-a',
        namespace: `cidrs-${n.toString(36)}`,
        serviceAccount: 'app',
      },
      network: { mode: 'cidrs', cidrs },
      targets: [
        {
          accountId: '222222222222',
          region: 'ap-southeast-1',
          cluster: 'cluster-b',
          access: {
            policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
            scope: { type: 'cluster' },
          },
        },
      ],
    }),
  }));
