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
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specsOf } from '../../functions/api/operations';
import { loadApiRouter } from '../../functions/api/router';
import type { OnboardingRequest } from '../../functions/commons/links/model';
import {
  linkNaturalKey,
  targetRoleName,
  workloadKey,
  workloadRoleName,
} from '../../functions/commons/links/names';
import { egressOwner } from '../../functions/commons/resources/egress';
import { ownershipTags } from '../../functions/commons/tags';
import { type Harness, startHarness } from '../e2e/harness';
import { apiEvent } from '../unit/api/api-events';
import { closeClient, type FuzzRequest, type FuzzResponse, send } from './http';
import { type Json, mutated } from './mutations';
import { checkResponse, describeExchange } from './oracle';
import {
  anyRouteRequest,
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
import { anyOnboardingRequest, demoOnboardingRequest } from './spec-arbitrary';

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
/** Links in the table after the last request. */
let linkTotal = 0;
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

/** Whether a response of this request may change AWS or the table: an accepted change. */
function mayChange(req: FuzzRequest, res: FuzzResponse, template: string | undefined): boolean {
  if (res.status >= 300) return false;
  if (req.method === 'POST' && template === '/links') return true;
  if (req.method === 'DELETE' && template === '/links/{id}') return true;
  return req.method === 'POST' && template === '/links/{id}/reconcile';
}

/**
 * Sends one request and checks what must hold of every request: the response (see
 * `checkResponse`), and that a request that is not an accepted change makes no mutating
 * call in the sandbox and records no new link (after every workflow it could start ran).
 */
async function exchange(req: FuzzRequest): Promise<FuzzResponse> {
  const mutatingBefore = h.rt.sandbox.callCounts({ mutating: true });
  const linksBefore = linkTotal;
  const res = await send(h.rt.url, req);
  sent++;
  await h.rt.stepFunctions.idle();
  linkTotal = await countLinks();
  const route = checkResponse(req, res);
  const about = describeExchange(req, res);
  const template = route.kind === 'operation' ? route.template : undefined;
  if (!mayChange(req, res, template)) {
    expect(
      h.rt.sandbox.callCounts({ mutating: true }) - mutatingBefore,
      `mutating calls after ${about}`,
    ).toBe(0);
    expect(linkTotal - linksBefore, `new links after ${about}`).toBe(0);
  }
  if (req.method === 'POST' && template === '/links' && res.status < 300) {
    checkAccepted(req, res, linkTotal - linksBefore, about);
  }
  return res;
}

/** An accepted POST /links: 202 (something new) or 200 (nothing new), one link per target. */
function checkAccepted(req: FuzzRequest, res: FuzzResponse, newLinks: number, about: string): void {
  expect([200, 202], about).toContain(res.status);
  const sentBody = JSON.parse(String(req.body)) as { targets: unknown[] };
  const body = res.json as { requestId: unknown; links: { id: string; created: boolean }[] };
  expect(body.links, about).toHaveLength(sentBody.targets.length);
  for (const link of body.links) {
    expect(link.id, about).toMatch(LINK_ID);
    if (!known.includes(link.id)) known.push(link.id);
  }
  const created = body.links.filter((l) => l.created).length;
  // A retry with the same Idempotency-Key and body replays the first response.
  if (req.headers['idempotency-key'] === undefined) expect(newLinks, about).toBe(created);
  else expect(newLinks, about).toBeLessThanOrEqual(created);
  if (res.status === 202) {
    expect(String(res.headers.location), about).toMatch(/^\/links(\/lnk_[0-9A-Z]{26}|\?requestId=.+)$/);
  } else {
    expect(newLinks, about).toBe(0);
    expect(body.requestId, about).toBeNull();
  }
}

function runs(
  name: string,
  numRuns: number,
  arbitrary: () => fc.Arbitrary<FuzzRequest>,
  extra?: (req: FuzzRequest, res: FuzzResponse) => void,
) {
  for (const [which, seed] of SEEDS) {
    it(`${name} (${numRuns} requests, ${which} seed ${seed})`, async () => {
      await fc.assert(
        fc.asyncProperty(arbitrary(), async (req) => {
          const res = await exchange(req);
          extra?.(req, res);
        }),
        { seed, numRuns, endOnFailure: false },
      );
    });
  }
}

beforeAll(async () => {
  h = await startHarness();
  linkTotal = await countLinks();
});

afterAll(async () => {
  closeClient();
  await h?.close();
  console.log(`API fuzz: ${sent} HTTP requests in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

/** Codes a spec-valid body may still get: the world does not have what it asks. */
const WORLD_CODES = [
  'CLUSTER_NOT_FOUND',
  'ACCOUNT_NOT_REACHABLE',
  'UNSUPPORTED_CLUSTER',
  'IDENTITY_MODE_UNSUPPORTED',
  'QUOTA_EXCEEDED',
  'IDEMPOTENCY_KEY_REUSED',
];

describe('POST /links with spec-valid bodies of the demo world', () => {
  runs(
    'accepts them or answers 422 for what the world lacks',
    150,
    () => validDemoLinkRequest,
    (req, res) => {
      const about = describeExchange(req, res);
      if (res.status >= 400) {
        expect(res.status, about).toBe(422);
        expect(WORLD_CODES, about).toContain((res.json as { code: string }).code);
      }
    },
  );

  it('accepted some of them', () => {
    expect(known.length).toBeGreaterThan(0);
  });
});

describe('POST /plans with any spec-valid body', () => {
  runs(
    'answers a plan or 422, and changes nothing',
    150,
    () => validPlanRequest,
    (req, res) => {
      const about = describeExchange(req, res);
      if (res.status >= 400) {
        expect(res.status, about).toBe(422);
        expect(WORLD_CODES, about).toContain((res.json as { code: string }).code);
        return;
      }
      const plan = res.json as { targets: { resources: { workloadRole: string; targetRole: string } }[] };
      expect(plan.targets, about).toHaveLength(
        (JSON.parse(String(req.body)) as { targets: unknown[] }).targets.length,
      );
      for (const t of plan.targets) {
        expect(t.resources.workloadRole, about).toMatch(IAM_ROLE_NAME);
        expect(t.resources.targetRole, about).toMatch(IAM_ROLE_NAME);
      }
    },
  );
});

describe('POST /links and /plans with mutated bodies', () => {
  runs('rejects or accepts them cleanly', 300, () => mutatedBodyRequest);
});

describe('POST /links and /plans with raw bodies', () => {
  runs('answers broken, ambiguous and oversized JSON with a problem', 150, () => rawBodyRequest);
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
    200,
    () => listLinksRequest,
  );
});

describe('requests on one link', () => {
  runs('reads of known, unknown and malformed ids', 100, () => linkReadRequest(known));
  runs('DELETE of known, unknown and malformed ids', 40, () => linkDeleteRequest(known));
  runs('reconcile of known, unknown and malformed ids', 40, () => linkReconcileRequest(known));
});

describe('any method on any path', () => {
  runs('routes, or answers 404/405 with a problem', 150, () => anyRouteRequest(known));
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
            // The owners Tether tags its resources with (workload-role.ts, target-role.ts,
            // access-entry.ts, egress.ts).
            const owners = [
              `workload:${workloadKey(spec.source)}`,
              `link:${linkNaturalKey(spec)}`,
              ...(spec.network.mode === 'cidrs'
                ? spec.network.cidrs.map((cidr) => egressOwner('sg-0123456789abcdef0', cidr))
                : []),
            ];
            for (const owner of owners) {
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

    it(`keep the whole owner key in the owner tag (1000 bodies, ${which} seed ${seed})`, () => {
      // A truncated owner tag no longer equals the owner the next run compares it with
      // (roles.ts assertOwnedRole, access-entry.ts), so the resource looks like someone else's.
      fc.assert(
        fc.property(bodies, (body) => {
          const request = accept(body);
          if (request === undefined) return;
          for (const spec of specsOf(request)) {
            for (const owner of [`workload:${workloadKey(spec.source)}`, `link:${linkNaturalKey(spec)}`]) {
              expect(ownershipTags(owner).find((t) => t.Key === 'tether:owner')?.Value).toBe(owner);
            }
          }
        }),
        { seed, numRuns: 1000 },
      );
    });
  }
});
