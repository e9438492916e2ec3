/**
 * POST /links under concurrency (issue 6, item 1, "How it is checked"): many POSTs for the
 * same workload → target at once, without an Idempotency-Key, must make exactly one link
 * and start exactly one onboard run for it; every other answer is 200 with that link, or
 * 409 `LINK_SPEC_MISMATCH` when it asked for another spec. Three kinds of request go at
 * once, interleaved by a seeded generator:
 *
 * - identical: N copies of one request (one workload → cluster-b, view access);
 * - conflicting: N requests for one workload → cluster-d, each asking view or cluster-admin;
 * - multi-target: N requests of a third workload for a random subset of cluster-b and
 *   cluster-d, each target with a random access of two. A request that gets 409 makes
 *   nothing, not even the links of its other targets.
 *
 * Afterwards every link settles ACTIVE, nothing was made twice or undone (no role deleted,
 * no access policy disassociated), the sandbox holds exactly what the links need, and no
 * natural-key item is left that no live link holds. Each seed prints its figures; replay a
 * failure with `TETHER_CAMPAIGN_SEED=<seed> npx vitest run test/campaigns/post-concurrency`.
 */
import { describe, expect, it } from 'vitest';
import { DEMO_REQUEST } from '#local/demo';
import type { ClusterRef, Link, WorkloadRef } from '#link/model';
import { linkNaturalKey } from '#link/names';
import { startLocalRuntime } from '#local/runtime';
import { type ApiResponse, type Harness, harnessFor } from '../e2e/harness';
import {
  allLinks,
  ownershipDiff,
  recordMismatches,
  seededRandom,
  sleep,
  tableMismatches,
  untaggedChanges,
  untaggedFingerprint,
  verifiedOk,
} from './support';

const VIEW = {
  policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
  scope: { type: 'cluster' },
} as const;
// Another access than VIEW that no approver has to allow (cluster admin would wait for one).
const ADMIN_VIEW = {
  policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy',
  scope: { type: 'cluster' },
} as const;
const EDIT_APPS = {
  policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
  scope: { type: 'namespace', namespaces: ['apps'] },
} as const;

const CLUSTER_B = { accountId: '222222222222', region: 'ap-southeast-1', cluster: 'cluster-b' } as const;
const CLUSTER_D = { accountId: '333333333333', region: 'eu-west-1', cluster: 'cluster-d' } as const;

const workload = (namespace: string, serviceAccount: string) => ({
  ...DEMO_REQUEST.source,
  namespace,
  serviceAccount,
});
const IDENTICAL = workload('payments', 'api');
const CONFLICTING = workload('payments', 'worker');
const MULTI = workload('search', 'indexer');

type Kind = 'identical' | 'conflicting' | 'multi-target';

interface Sent {
  readonly kind: Kind;
  readonly body: { source: WorkloadRef; targets: (ClusterRef & { access: unknown })[] };
  res?: ApiResponse;
}

const FIXED_SEEDS = [1, 42, 20240607];
const RANDOM_SEED = Number(process.env.TETHER_CAMPAIGN_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** The requests of one seed, in the order they are sent (each after its own small pause). */
function requestsFor(rng: ReturnType<typeof seededRandom>): { sent: Sent; pauseMs: number }[] {
  const out: Sent[] = [];
  const identical = rng.int(10, 30);
  for (let i = 0; i < identical; i++)
    out.push({
      kind: 'identical',
      body: { source: IDENTICAL, targets: [{ ...CLUSTER_B, access: VIEW }] },
    });
  const conflicting = rng.int(10, 30);
  for (let i = 0; i < conflicting; i++)
    out.push({
      kind: 'conflicting',
      body: { source: CONFLICTING, targets: [{ ...CLUSTER_D, access: rng.chance(0.5) ? VIEW : ADMIN_VIEW }] },
    });
  const multi = rng.int(6, 16);
  for (let i = 0; i < multi; i++) {
    const clusters = rng.subset([CLUSTER_B, CLUSTER_D], 2);
    out.push({
      kind: 'multi-target',
      body: {
        source: MULTI,
        targets: clusters.map((c) => ({ ...c, access: rng.chance(0.5) ? VIEW : EDIT_APPS })),
      },
    });
  }
  // Fisher–Yates: the three kinds interleave.
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j] as Sent, out[i] as Sent];
  }
  return out.map((sent) => ({ sent, pauseMs: rng.int(0, 3) }));
}

/** Onboard executions per link id (an execution's input names the links it drives). */
function onboardRuns(h: Harness): Map<string, string[]> {
  const sfn = h.rt.stepFunctions;
  const runs = new Map<string, string[]>();
  const { executions } = sfn.listExecutions({ stateMachineArn: h.rt.runtime.stateMachines.onboard });
  for (const e of executions) {
    const input = JSON.parse(sfn.execution(e.executionArn)?.input ?? '{}') as { linkIds?: string[] };
    for (const id of input.linkIds ?? []) runs.set(id, [...(runs.get(id) ?? []), e.name]);
  }
  return runs;
}

const keyOf = (source: WorkloadRef, target: ClusterRef) =>
  linkNaturalKey({
    source,
    target: { accountId: target.accountId, region: target.region, cluster: target.cluster },
  });

describe('concurrent POST /links for the same workload → target', () => {
  it.each([...FIXED_SEEDS, RANDOM_SEED])(
    'makes one link and starts one run per workload → target; the others get it or 409 (seed %i)',
    async (seed) => {
      console.log(`POST concurrency campaign seed ${seed} (replay: TETHER_CAMPAIGN_SEED=${seed})`);
      const startedAt = Date.now();
      const h = harnessFor(await startLocalRuntime({ retryIntervalMs: 5 }));
      try {
        const sb = h.rt.sandbox;
        const untagged = untaggedFingerprint(sb);
        const plan = requestsFor(seededRandom(seed));
        await Promise.all(
          plan.map(async ({ sent, pauseMs }, i) => {
            await sleep(pauseMs + (i % 3));
            sent.res = await h.api('POST', '/links', sent.body);
          }),
        );
        await h.rt.stepFunctions.idle();

        const links = await allLinks(h.rt);
        const byKey = new Map<string, Link[]>();
        for (const l of links) {
          const k = linkNaturalKey(l.spec);
          byKey.set(k, [...(byKey.get(k) ?? []), l]);
        }
        const runs = onboardRuns(h);
        const statuses: Record<string, number> = {};
        for (const { sent } of plan) {
          const s = `${sent.res?.status} ${sent.res?.status === 409 ? sent.res.body.code : ''}`.trim();
          statuses[s] = (statuses[s] ?? 0) + 1;
        }
        const sentPerKind = (kind: Kind) => plan.filter((p) => p.sent.kind === kind).length;
        const runCounts = links.map((l) => runs.get(l.id)?.length ?? 0);
        console.log(
          `seed ${seed}: ${plan.length} POSTs at once (${sentPerKind('identical')} identical, ${sentPerKind('conflicting')} conflicting, ${sentPerKind('multi-target')} multi-target) → ` +
            `${links.length} links for ${byKey.size} workload → target pairs (per pair: ${[...byKey.values()].map((ls) => ls.length).join('/')}), ` +
            `${runCounts.reduce((a, b) => a + b, 0)} onboard runs started (per link: ${runCounts.join('/')}), answers ${JSON.stringify(statuses)}, ${Date.now() - startedAt} ms`,
        );

        // Exactly one link per workload → target that was asked for, and one run per link.
        for (const [k, ls] of byKey)
          expect(
            ls.map((l) => l.id),
            k,
          ).toHaveLength(1);
        for (const l of links) expect(runs.get(l.id) ?? [], l.id).toHaveLength(1);
        expect(byKey.has(keyOf(IDENTICAL, CLUSTER_B))).toBe(true);
        expect(byKey.has(keyOf(CONFLICTING, CLUSTER_D))).toBe(true);
        const linkOf = (source: WorkloadRef, target: ClusterRef) => byKey.get(keyOf(source, target))?.[0];

        // Every answer: 202 from the request that made the link, 200 with the same link, or
        // 409 LINK_SPEC_MISMATCH for another spec.
        const madeBy = new Map<string, string>(); // link id → requestId of the 202 that made it
        for (const { sent } of plan) {
          const res = sent.res!;
          const about = `${sent.kind} ${JSON.stringify(sent.body.targets)} → ${res.status} ${res.text.slice(0, 300)}`;
          const mine = sent.body.targets.map((t) => linkOf(sent.body.source, t));
          const sameSpec = sent.body.targets.every(
            (t, i) => JSON.stringify(mine[i]?.spec.access) === JSON.stringify(t.access),
          );
          if (res.status === 409) {
            expect(res.body.code, about).toBe('LINK_SPEC_MISMATCH');
            expect(sameSpec, `${about}: refused, yet every link it asks for exists with its spec`).toBe(
              false,
            );
            continue;
          }
          expect([200, 202], about).toContain(res.status);
          expect(sameSpec, about).toBe(true);
          expect(
            res.body.links.map((l: { id: string }) => l.id),
            about,
          ).toEqual(mine.map((l) => l?.id));
          for (const l of res.body.links as { id: string; created: boolean; redriven: boolean }[]) {
            expect(l.redriven, about).toBe(false);
            if (l.created) {
              expect(madeBy.has(l.id), `${about}: ${l.id} made twice`).toBe(false);
              madeBy.set(l.id, res.body.requestId);
            }
          }
          const anyCreated = res.body.links.some((l: { created: boolean }) => l.created);
          expect(res.status, about).toBe(anyCreated ? 202 : 200);
        }
        // Each link was made by exactly one request, the one whose id it carries; a request
        // that was refused made nothing.
        for (const l of links) expect(madeBy.get(l.id), l.id).toBe(l.requestId);

        // Every link settles ACTIVE; nothing was made twice or undone.
        const settled = await Promise.all(links.map((l) => h.settle(l.id, 60_000)));
        for (const l of settled) {
          expect(l.status, `${l.id} ${JSON.stringify(l.error)}`).toBe('ACTIVE');
          expect(verifiedOk(l), l.id).toBe(true);
          expect(recordMismatches(sb, l), l.id).toEqual([]);
        }
        const undone = sb
          .calls()
          .filter(
            (c) =>
              c.ok &&
              [
                'DeleteRole',
                'DeleteAccessEntry',
                'DisassociateAccessPolicy',
                'RevokeSecurityGroupIngress',
              ].includes(c.operation),
          )
          .map((c) => `${c.service}:${c.operation}`);
        expect(undone).toEqual([]);
        const associations = sb.calls().filter((c) => c.ok && c.operation === 'AssociateAccessPolicy');
        expect(associations).toHaveLength(settled.filter((l) => 'policyArn' in l.spec.access).length);
        expect(ownershipDiff(sb, settled)).toEqual({ orphans: [], missing: [] });
        expect(await tableMismatches(h.rt, settled)).toEqual([]);
        expect(untaggedChanges(untagged, untaggedFingerprint(sb))).toEqual([]);
      } finally {
        await h.close();
      }
    },
    60_000,
  );
});
