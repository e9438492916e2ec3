/**
 * Property-based fuzzing of the REST API (issue 5, item 2), against the running local API
 * over HTTP: requests generated from `api/openapi.yaml` and mutations of them. For every
 * request: no 5xx; every 4xx is problem+json with a documented code and its own status;
 * every status is documented for the route; a rejected request makes no mutating AWS call
 * in the sandbox and records no link. Then the names derived from any accepted body fit
 * IAM's and STS's rules.
 *
 * Two seeds per run: a fixed one and a random one, both printed; replay a failure with
 * `FUZZ_SEED=<seed> npx vitest run test/fuzz` (the random seed becomes that seed).
 */
import { ListRolesCommand, ListRoleTagsCommand } from '@aws-sdk/client-iam';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specsOf } from '#resources/plan';
import { loadApiRouter } from '#api/openapi/router';
import type { OnboardingRequest } from '#link/model';
import { owners, targetRoleName, workloadRoleName } from '#link/names';
import { isOwnedBy, ownerOf, ownershipTags } from '#link/tags';
import { type Harness, startHarness } from '../e2e/harness';
import { apiEvent } from '../unit/api/api-events';
import { closeClient, type FuzzRequest, type FuzzResponse, send } from './http';
import { type Json, mutated } from './mutations';
import { checkResponse, cidrListAllowed, describeExchange, guardrailViolations } from './oracle';
import {
  anyRouteRequest,
  approvalRequest,
  cidrLinkRequest,
  fromAnyCaller,
  guardrailMistakeRequest,
  headerRequest,
  linkDeleteRequest,
  linkReadRequest,
  linkReconcileRequest,
  listLinksRequest,
  mediaTypeRequest,
  mutatedBodyRequest,
  rawBodyRequest,
  validDemoLinkRequest,
  validPlanRequest,
} from './requests';
import { anyOnboardingRequest, DEMO_CLUSTERS, demoOnboardingRequest } from './spec-arbitrary';

const FIXED_SEED = 20261124;
const RANDOM_SEED =
  process.env.FUZZ_SEED !== undefined && process.env.FUZZ_SEED !== ''
    ? Number(process.env.FUZZ_SEED)
    : Math.floor(Math.random() * 2 ** 31);
const SEEDS = [
  ['fixed', FIXED_SEED],
  ['random', RANDOM_SEED],
] as const;
console.log(
  `API fuzz seeds: fixed ${FIXED_SEED}, random ${RANDOM_SEED} (replay: FUZZ_SEED=${RANDOM_SEED} npx vitest run test/fuzz)`,
);

const LINK_ID = /^lnk_[0-9A-HJKMNP-TV-Z]{26}$/;
const IAM_ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const IAM_TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const STS_SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

let h: Harness;
/** Link ids the API has returned, for requests on existing links. */
const known: string[] = [];
/** `nextCursor`s of pages the API served. */
const cursors: string[] = [];
/** Link ids the API said it created. */
const created = new Set<string>();
/** The newest link after the last request: a new link would come first. */
let newest: string | undefined;
/** HTTP requests sent by this file. */
let sent = 0;
const started = Date.now();

async function countLinks(): Promise<number> {
  let total = 0;
  let cursor: Record<string, unknown> | undefined;
  do {
    const page = await h.rt.links.list({}, 100, cursor);
    total += page.items.length;
    cursor = page.next;
  } while (cursor !== undefined);
  return total;
}

/** Links are listed newest first, so a new link changes the head of the list. */
async function newestLink(): Promise<string | undefined> {
  return (await h.rt.links.list({}, 1)).items[0]?.id;
}

/** Whether a response of this request may change AWS or the table: an accepted change. */
function mayChange(req: FuzzRequest, res: FuzzResponse, template: string | undefined): boolean {
  if (res.status >= 300) return false;
  if (req.method === 'POST' && template === '/links') return true;
  if (req.method === 'DELETE' && template === '/links/{id}') return true;
  if (req.method === 'POST' && template === '/links/{id}/approval') return true;
  return req.method === 'POST' && template === '/links/{id}/reconcile';
}

/**
 * Sends one request and checks what must hold of every request: the response (see
 * `checkResponse`), and that a request that is not an accepted change makes no mutating
 * call in the sandbox and records no new link (after every workflow it could start ran).
 */
async function exchange(req: FuzzRequest): Promise<FuzzResponse> {
  const mutatingBefore = h.rt.sandbox.callCounts({ mutating: true });
  const newestBefore = newest;
  const res = await send(h.rt.url, req);
  sent++;
  await h.rt.stepFunctions.idle();
  newest = await newestLink();
  const route = checkResponse(req, res);
  const about = describeExchange(req, res);
  const template = route.kind === 'operation' ? route.template : undefined;
  if (!mayChange(req, res, template)) {
    expect(
      h.rt.sandbox.callCounts({ mutating: true }) - mutatingBefore,
      `mutating calls after ${about}`,
    ).toBe(0);
    expect(newest, `newest link after ${about}`).toBe(newestBefore);
  }
  if (req.method === 'POST' && template === '/links' && res.status < 300) {
    await checkAccepted(req, res, about);
  }
  if (req.method === 'POST' && (template === '/links' || template === '/plans') && res.status < 300) {
    // An accepted body keeps every guardrail.
    expect(guardrailViolations(JSON.parse(String(req.body))), about).toEqual([]);
  }
  const next = (res.json as { nextCursor?: unknown } | undefined)?.nextCursor;
  if (req.method === 'GET' && template === '/links' && typeof next === 'string' && cursors.length < 50) {
    cursors.push(next);
  }
  return res;
}

/** An accepted POST /links: 202 (something new or re-driven) or 200 (nothing new), one link per target. */
async function checkAccepted(req: FuzzRequest, res: FuzzResponse, about: string): Promise<void> {
  expect([200, 202], about).toContain(res.status);
  const sentBody = JSON.parse(String(req.body)) as { targets: unknown[] };
  const body = res.json as {
    requestId: unknown;
    links: { id: string; created: boolean; redriven: boolean }[];
  };
  expect(body.links, about).toHaveLength(sentBody.targets.length);
  for (const link of body.links) {
    expect(link.id, about).toMatch(LINK_ID);
    expect((await h.rt.links.find(link.id))?.id, about).toBe(link.id);
    if (!known.includes(link.id)) known.push(link.id);
    if (link.created) created.add(link.id);
  }
  if (res.status === 202) {
    expect(String(res.headers.location), about).toMatch(/^\/links(\/lnk_[0-9A-Z]{26}|\?requestId=.+)$/);
    expect(
      body.links.some((l) => l.created || l.redriven),
      about,
    ).toBe(true);
  } else {
    expect(
      body.links.some((l) => l.created || l.redriven),
      about,
    ).toBe(false);
    expect(body.requestId, about).toBeNull();
  }
}

function runs(
  name: string,
  numRuns: number,
  arbitrary: () => fc.Arbitrary<FuzzRequest>,
  extra?: (req: FuzzRequest, res: FuzzResponse) => void,
  /** Requests that once found a bug: tried first, on every run. */
  regressions: readonly FuzzRequest[] = [],
) {
  for (const [which, seed] of SEEDS) {
    it(`${name} (${numRuns} requests, ${which} seed ${seed})`, async () => {
      const linksBefore = await countLinks();
      const createdBefore = created.size;
      await fc.assert(
        fc.asyncProperty(arbitrary(), async (req) => {
          const res = await exchange(req);
          extra?.(req, res);
        }),
        { seed, numRuns, examples: regressions.map((req) => [req] as [FuzzRequest]) },
      );
      // Every link in the table is one the API said it created.
      expect(await countLinks()).toBe(linksBefore + created.size - createdBefore);
    });
  }
}

beforeAll(async () => {
  h = await startHarness();
  newest = await newestLink();
});

afterAll(async () => {
  closeClient();
  await h?.close();
  console.log(
    `API fuzz: ${sent} HTTP requests in ${((Date.now() - started) / 1000).toFixed(1)} s; ${created.size} links created, ${cursors.length} cursors served`,
  );
});

const postRaw = (path: string, body: string): FuzzRequest => ({
  kind: 'regression',
  method: 'POST',
  path,
  headers: { 'content-type': 'application/json' },
  body,
});

const listWithCursor = (key: Record<string, string>): FuzzRequest => ({
  kind: 'regression',
  method: 'GET',
  path: `/links?cursor=${Buffer.from(JSON.stringify(key)).toString('base64url')}`,
  headers: {},
});

/**
 * Codes a spec-valid body may still get: the world does not have what it asks, or it names
 * a Region of a partition Tether does not work in (the spec lists every Region).
 */
const WORLD_CODES = [
  'CLUSTER_NOT_FOUND',
  'ACCOUNT_NOT_REACHABLE',
  'UNSUPPORTED_CLUSTER',
  'IDENTITY_MODE_UNSUPPORTED',
  'QUOTA_EXCEEDED',
  'IDEMPOTENCY_KEY_REUSED',
  'PARTITION_UNSUPPORTED',
];

/**
 * A guardrail refusal: VALIDATION_FAILED naming a target, a CIDR, an identity option (a
 * `caCertificate` that is not a CA certificate) or, in mode roles-anywhere, a workload whose
 * certificate common name is too long.
 */
function expectGuardrailFields(res: FuzzResponse, about: string): void {
  const problem = res.json as { code: string; errors: { path: string }[] };
  expect(problem.code, about).toBe('VALIDATION_FAILED');
  for (const e of problem.errors) {
    expect(e.path, about).toMatch(
      /^\/(targets\/\d+|network\/cidrs\/\d+|identity\/(principalArn|directAccess|caCertificate)|source\/serviceAccount|network\/mode|targets\/\d+\/awsPolicies(\/\d+)?)$/,
    );
  }
}

/** A refusal of AWS permissions the policies do not list (`target-aws-policies-from-the-list`). */
function isAwsPoliciesRefusal(req: FuzzRequest, res: FuzzResponse): boolean {
  const body = JSON.parse(String(req.body)) as { targets?: { awsPolicies?: unknown }[] };
  const problem = res.json as { code?: string; policies?: string[] };
  return (
    res.status === 403 &&
    problem.code === 'ACCESS_DENIED' &&
    (problem.policies ?? []).includes('target-aws-policies-from-the-list') &&
    (body.targets ?? []).some((t) => t.awsPolicies !== undefined)
  );
}

describe('POST /links with spec-valid bodies of the demo world', () => {
  runs(
    'accepts them, answers 422 for what the world lacks, or 409 for a link that exists with another spec',
    150,
    () => validDemoLinkRequest,
    (req, res) => {
      const about = describeExchange(req, res);
      if (res.status === 409) {
        // The generator reuses the demo workload, so a target it linked earlier with another
        // access or network is refused rather than changed; in mode pod-identity, so is another
        // target of a workload whose one association another link holds.
        const podIdentity =
          (JSON.parse(String(req.body)) as { identity?: { mode?: string } }).identity?.mode ===
          'pod-identity';
        const codes = podIdentity
          ? ['LINK_SPEC_MISMATCH', 'CONFLICT_UNMANAGED_RESOURCE']
          : ['LINK_SPEC_MISMATCH'];
        expect(codes, about).toContain((res.json as { code: string }).code);
      } else if (res.status === 400) {
        // The guardrails no policy lifts: a workload's own cluster, explicit CIDRs out of bounds.
        expectGuardrailFields(res, about);
      } else if (isAwsPoliciesRefusal(req, res)) {
        // AWS permissions from outside the policies' list: refused whoever asks.
      } else if (res.status >= 400) {
        expect(res.status, about).toBe(422);
        expect(WORLD_CODES, about).toContain((res.json as { code: string }).code);
      }
    },
  );

  it('accepts some of them', () => {
    expect(known.length).toBeGreaterThan(0);
  });
});

describe('POST /links with explicit CIDRs of every kind', () => {
  runs(
    'lets through exactly the lists within the guardrails, to wait for an approver; refuses the others with the CIDR',
    200,
    () => cidrLinkRequest,
    (req, res) => {
      const about = describeExchange(req, res);
      const cidrs = (JSON.parse(String(req.body)) as { network: { cidrs: string[] } }).network.cidrs;
      if (cidrListAllowed(cidrs)) {
        // Shrinking may ask again for a workload it linked already: the same spec is that link,
        // another spec a conflict; a new one waits for an approver.
        if (res.status === 409) {
          expect((res.json as { code: string }).code, about).toBe('LINK_SPEC_MISMATCH');
          return;
        }
        expect([200, 202], about).toContain(res.status);
        expect((res.json as { links: { status: string }[] }).links[0]?.status, about).toBe(
          'AWAITING_APPROVAL',
        );
      } else {
        expect(res.status, about).toBe(400);
        const problem = res.json as { code: string; errors: { path: string }[] };
        expect(problem.code, about).toBe('VALIDATION_FAILED');
        expect(problem.errors.length, about).toBeGreaterThan(0);
        for (const e of problem.errors) expect(e.path, about).toMatch(/^\/network\/cidrs\/\d+$/);
      }
    },
  );
});

describe('requests from any caller', () => {
  runs('POST /links of demo bodies: the source account and the operator may ask', 80, () =>
    fromAnyCaller(validDemoLinkRequest),
  );
  runs('reads, deletes, reconciles and approvals of known, unknown and malformed ids', 150, () =>
    fromAnyCaller(
      fc.oneof(
        linkReadRequest(known),
        linkDeleteRequest(known),
        linkReconcileRequest(known),
        approvalRequest(known),
      ),
    ),
  );
});

describe('POST /plans with any spec-valid body', () => {
  runs(
    'answers a plan or 422, and changes nothing',
    250,
    () => validPlanRequest,
    (req, res) => {
      const about = describeExchange(req, res);
      if (res.status === 400) {
        expectGuardrailFields(res, about);
        return;
      }
      if (isAwsPoliciesRefusal(req, res)) return;
      if (res.status >= 400) {
        expect(res.status, about).toBe(422);
        expect(WORLD_CODES, about).toContain((res.json as { code: string }).code);
        return;
      }
      const plan = res.json as { targets: { resources: { workloadRole: string; targetRole: string } }[] };
      expect(plan.targets, about).toHaveLength(
        (JSON.parse(String(req.body)) as { targets: unknown[] }).targets.length,
      );
      const identity = (
        JSON.parse(String(req.body)) as { identity?: { mode?: string; directAccess?: boolean } }
      ).identity;
      for (const t of plan.targets) {
        // A principal link has no workload role of Tether's; a direct one no target role.
        if (identity?.mode !== 'principal') expect(t.resources.workloadRole, about).toMatch(IAM_ROLE_NAME);
        if (identity?.directAccess !== true) expect(t.resources.targetRole, about).toMatch(IAM_ROLE_NAME);
      }
    },
  );
});

describe('POST /links and /plans with mutated bodies', () => {
  runs('rejects or accepts them cleanly', 500, () => mutatedBodyRequest, undefined, [
    // Keys named like Object.prototype methods in an array with uniqueItems (Ajv's deep equal calls them).
    postRaw('/links', '{"targets":[{},{"toString":1}]}'),
    postRaw('/plans', '{"targets":[{},{"valueOf":1}]}'),
  ]);
});

describe('POST /links and /plans with a body that breaks a guardrail', () => {
  runs(
    'refuse it with the field at fault (400, or 422 PARTITION_UNSUPPORTED), and change nothing',
    80,
    () => guardrailMistakeRequest,
    (req, res) => {
      const about = describeExchange(req, res);
      const { mistake } = req as typeof req & { mistake: string };
      const problem = res.json as { code: string; errors?: { path: string }[] };
      expect([400, 422], about).toContain(res.status);
      expect(['VALIDATION_FAILED', 'PARTITION_UNSUPPORTED'], about).toContain(problem.code);
      expect(
        problem.errors?.some((e) => e.path.startsWith(mistake)),
        about,
      ).toBe(true);
    },
  );
});

describe('POST /links and /plans with raw bodies', () => {
  runs('answers broken, ambiguous and oversized JSON with a problem', 250, () => rawBodyRequest);
  runs('answers bodies of other media types, or none, with a problem', 60, () => mediaTypeRequest);
});

describe('Idempotency-Key of bad shapes', () => {
  runs(
    'is refused on POST /links before anything is recorded',
    60,
    () => headerRequest,
    (req, res) => {
      // POST /plans takes no Idempotency-Key: it ignores the header like any other.
      if (req.path !== '/links') return;
      const key = Object.entries(req.headers).find(([name]) => name.toLowerCase() === 'idempotency-key')?.[1];
      // HTTP drops the whitespace around a header value.
      const valid = typeof key === 'string' && /^[A-Za-z0-9_.:-]{1,128}$/.test(key.trim());
      if (!valid) {
        expect(res.status, describeExchange(req, res)).toBe(400);
      }
    },
  );
});

describe('GET /links query parameters', () => {
  runs(
    'lists or refuses every combination of filters, limits, cursors and unknown parameters',
    300,
    () => listLinksRequest(cursors),
    undefined,
    [
      // A cursor of the right shape whose keys the table refuses: an empty key, another partition.
      listWithCursor({ pk: 'a', sk: 'a', gsi1pk: 'OTHER', gsi1sk: 'a' }),
      listWithCursor({ pk: 'a', sk: '', gsi1pk: 'LINKS', gsi1sk: 'a' }),
      listWithCursor({ pk: 'a', sk: 'a', gsi1pk: '', gsi1sk: 'a' }),
    ],
  );
});

describe('requests on one link', () => {
  runs('reads of known, unknown and malformed ids', 150, () => linkReadRequest(known));
  runs('DELETE of known, unknown and malformed ids', 40, () => linkDeleteRequest(known));
  runs('reconcile of known, unknown and malformed ids', 40, () => linkReconcileRequest(known));
});

describe('any method on any path', () => {
  runs('routes, or answers 404/405 with a problem', 250, () => anyRouteRequest(known));
});

describe('what the fuzzed requests made in the sandbox', () => {
  it('is IAM roles with IAM-valid names and tags', async () => {
    let roles = 0;
    for (const accountId of new Set(DEMO_CLUSTERS.map((c) => c.accountId))) {
      const iam = h.rt.clients.iam(accountId);
      let marker: string | undefined;
      do {
        const page = await iam.send(
          new ListRolesCommand({
            PathPrefix: '/tether/',
            ...(marker === undefined ? {} : { Marker: marker }),
          }),
        );
        for (const role of page.Roles ?? []) {
          roles++;
          expect(role.RoleName).toMatch(IAM_ROLE_NAME);
          const tags = (await iam.send(new ListRoleTagsCommand({ RoleName: role.RoleName }))).Tags ?? [];
          for (const tag of tags) {
            expect(tag.Value?.length, role.RoleName).toBeLessThanOrEqual(256);
            expect(tag.Value, role.RoleName).toMatch(IAM_TAG_VALUE);
          }
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker !== undefined);
    }
    expect(roles).toBeGreaterThan(0);
  });
});

describe('names derived from any body the router accepts', () => {
  const router = loadApiRouter();
  const bodies = fc.oneof(
    { weight: 3, arbitrary: anyOnboardingRequest(20, true) as fc.Arbitrary<Json> },
    { weight: 1, arbitrary: demoOnboardingRequest() as fc.Arbitrary<Json> },
    { weight: 2, arbitrary: mutated(anyOnboardingRequest(5) as fc.Arbitrary<Json>) },
  );

  /** The accepted request, or `undefined` when the router refuses the body. */
  const accept = (body: Json | undefined): OnboardingRequest | undefined => {
    try {
      return router.match(
        apiEvent('POST', '/links', body === undefined ? {} : { rawBody: JSON.stringify(body) }),
      ).body as OnboardingRequest;
    } catch {
      return undefined;
    }
  };

  for (const [which, seed] of SEEDS) {
    it(`are IAM role names, IAM tag values and STS session names (1000 bodies, ${which} seed ${seed})`, () => {
      fc.assert(
        fc.property(bodies, (body) => {
          const request = accept(body);
          if (request === undefined) return;
          for (const spec of specsOf(request)) {
            expect(workloadRoleName(spec.source)).toMatch(IAM_ROLE_NAME);
            expect(targetRoleName(spec)).toMatch(IAM_ROLE_NAME);
            for (const accountId of [spec.source.accountId, spec.target.accountId]) {
              expect(`tether-${accountId}`).toMatch(STS_SESSION_NAME);
            }
            // The owner keys Tether tags its resources with (names.ts `owners`).
            const keys = [
              owners.workload(spec.source),
              owners.link(spec),
              owners.egressGroup('sg-0123456789abcdef0'),
            ];
            for (const owner of keys) {
              for (const tag of ownershipTags(owner)) {
                expect(tag.Value.length, owner).toBeLessThanOrEqual(256);
                expect(tag.Value, owner).toMatch(IAM_TAG_VALUE);
                expect(tag.Key, owner).toMatch(IAM_TAG_VALUE);
              }
            }
          }
        }),
        { seed, numRuns: 1000 },
      );
    });

    it(`tag each owner with a value no other owner has (1000 bodies, ${which} seed ${seed})`, () => {
      // The next run finds its resources by this tag (roles.ts assertOwnedRole, access-entry.ts):
      // two workloads, or two links, that differ only past a tag value's 256 characters
      // must still get different values, each recognised as its own.
      fc.assert(
        fc.property(bodies, fc.constantFrom('a', 'b', '0'), (body, last) => {
          const request = accept(body);
          if (request === undefined) return;
          const sa = request.source.serviceAccount;
          const twin: OnboardingRequest = {
            ...request,
            source: {
              ...request.source,
              serviceAccount: `${sa.slice(0, -1)}${sa.endsWith(last) ? 'z' : last}`,
            },
          };
          const twinSpecs = specsOf(twin);
          for (const [i, spec] of specsOf(request).entries()) {
            const twinSpec = twinSpecs[i]!;
            const pairs = [
              [owners.workload(spec.source), owners.workload(twinSpec.source)],
              [owners.link(spec), owners.link(twinSpec)],
            ] as const;
            for (const [owner, other] of pairs) {
              expect(isOwnedBy(ownershipTags(owner), owner), owner).toBe(true);
              expect(ownerOf(ownershipTags(other)), owner).not.toBe(ownerOf(ownershipTags(owner)));
              expect(isOwnedBy(ownershipTags(other), owner), owner).toBe(false);
            }
          }
        }),
        { seed, numRuns: 1000 },
      );
    });
  }
});
