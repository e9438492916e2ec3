/**
 * Concurrency (issue 4, "How it is checked"): 50 links across 5 workloads, 3 target
 * clusters and 2 source VPCs, onboarded and offboarded at once in random interleavings
 * from a seeded generator. Afterwards every link is where it was driven (ACTIVE or
 * DELETED), the sandbox holds exactly the resources the live links need, and each
 * workload role's policy names exactly the target roles of that workload's live links.
 *
 * Each workload has a driver; the five run at once. A driver holds one slot per target
 * cluster and, until it has made its share of links, either POSTs a random subset of its
 * free slots (one request, several targets) or DELETEs one of its links (409 LINK_BUSY
 * while it is being made: tried again later), with random pauses. A POST for a slot whose
 * previous link is still DELETING gets that link back (200) and is tried again later.
 * Choices come from the seed; the timing of the workflows adds the rest of the interleaving.
 */
import { DEMO_REQUEST } from '#local/demo';
import { describe, expect, it } from 'vitest';
import type { Link, WorkloadRef } from '#link/model';
import { workloadKey } from '#link/names';
import { startLocalRuntime } from '#local/runtime';
import { type Harness, harnessFor } from '../e2e/harness';
import {
  allLinks,
  ownershipDiff,
  recordMismatches,
  seededRandom,
  settleAsClient,
  sleep,
  tableMismatches,
  untaggedChanges,
  untaggedFingerprint,
  verifiedOk,
  withoutPath,
  workloadPolicyTargets,
} from './support';

const LINKS_PER_WORKLOAD = 10;

const TARGETS = [
  DEMO_REQUEST.targets[0],
  {
    accountId: '444444444444',
    region: 'us-east-1',
    cluster: 'cluster-e',
    access: {
      policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
      scope: { type: 'namespace', namespaces: ['apps'] },
    },
  },
  // aws-auth only (CONFIG_MAP mode): every link edits one shared ConfigMap.
  {
    accountId: '555555555555',
    region: 'eu-central-1',
    cluster: 'cluster-f',
    access: { groups: ['tether-readers'] },
  },
] as const;

const NODE_ENTRY =
  '- rolearn: arn:aws:iam::555555555555:role/cluster-f-nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n    - system:bootstrappers\n    - system:nodes\n';

const SOURCE_A = { accountId: '111111111111', region: 'ap-southeast-1', cluster: 'cluster-a' };
/** The second source VPC: another cluster of the source account, with its own NAT IPs. */
const SOURCE_S = { accountId: '111111111111', region: 'ap-southeast-1', cluster: 'cluster-s' };

const WORKLOADS: readonly WorkloadRef[] = [
  { ...SOURCE_A, namespace: 'payments', serviceAccount: 'api' },
  { ...SOURCE_A, namespace: 'payments', serviceAccount: 'worker' },
  { ...SOURCE_A, namespace: 'kubeai-chatbot', serviceAccount: 'kubeai-chatbot' },
  { ...SOURCE_S, namespace: 'search', serviceAccount: 'indexer' },
  // Same namespace and service account as a cluster-a workload: a different workload.
  { ...SOURCE_S, namespace: 'kubeai-chatbot', serviceAccount: 'kubeai-chatbot' },
];

const FIXED_SEEDS = [1, 42, 20240607];
const RANDOM_SEED = Number(process.env.TETHER_CAMPAIGN_SEED ?? Math.floor(Math.random() * 2 ** 31));

interface Slot {
  readonly target: number;
  state: 'down' | 'up';
  /** A request for this slot is in flight (one at a time per slot; slots of a workload go at once). */
  busy: boolean;
  /** Every link made for this slot, in order; the last is the current one. */
  readonly ids: string[];
}

interface Tally {
  created: number;
  posts: number;
  multiTargetPosts: number;
  deletes: number;
  busy: number;
  stillDeleting: number;
  clientRetries: number;
  readonly anomalies: string[];
}

function requestFor(w: WorkloadRef, targets: readonly number[]) {
  return { source: w, targets: targets.map((i) => TARGETS[i]) };
}

const nameOf = (w: WorkloadRef) => `${w.cluster}/${w.namespace}/${w.serviceAccount}`;

/**
 * One workload's driver: makes `budget` links over its three slots, deleting as it goes, then
 * deletes until at most `finalUp` of its links are left. Requests for different slots are in
 * flight at once; each action is followed by a random pause.
 */
async function driveWorkload(
  h: Harness,
  w: WorkloadRef,
  rng: ReturnType<typeof seededRandom>,
  budget: number,
  finalUp: number,
  tally: Tally,
  deadline: number,
): Promise<Slot[]> {
  const slots: Slot[] = TARGETS.map((_, target) => ({ target, state: 'down', busy: false, ids: [] }));
  const inflight = new Set<Promise<void>>();
  let created = 0;
  let reserved = 0; // slots of POSTs in flight, each maybe a new link
  const launch = (work: Promise<void>) => {
    const p = work.finally(() => inflight.delete(p));
    inflight.add(p);
  };

  const post = async (chosen: Slot[]) => {
    const res = await h.api(
      'POST',
      '/links',
      requestFor(
        w,
        chosen.map((s) => s.target),
      ),
    );
    tally.posts += 1;
    if (chosen.length > 1) tally.multiTargetPosts += 1;
    if (res.status !== 200 && res.status !== 202) {
      tally.anomalies.push(`POST ${nameOf(w)} → ${chosen.map((s) => s.target)}: ${res.status} ${res.text}`);
      return;
    }
    res.body.links.forEach((l: { id: string; status: string; created: boolean }, i: number) => {
      const slot = chosen[i];
      if (!slot) return;
      if (l.created) {
        slot.state = 'up';
        slot.ids.push(l.id);
        created += 1;
        tally.created += 1;
      } else if (l.status === 'DELETING') {
        tally.stillDeleting += 1; // the slot's previous link is still leaving: again later
      } else {
        // Only a link whose offboard did not finish comes back here: the POST re-drives it.
        tally.anomalies.push(`POST gave back ${l.id} (${l.status}), whose DELETE was accepted`);
        slot.state = 'up';
      }
    });
  };

  const remove = async (slot: Slot) => {
    const id = slot.ids.at(-1) ?? '';
    const res = await h.api('DELETE', `/links/${id}`);
    if (res.status === 202) {
      slot.state = 'down';
      tally.deletes += 1;
    } else if (res.status === 409 && res.body.code === 'LINK_BUSY') {
      tally.busy += 1; // still being made: again later
    } else {
      tally.anomalies.push(`DELETE ${id}: ${res.status} ${res.text}`);
    }
  };

  for (;;) {
    if (Date.now() > deadline) throw new Error(`the driver of ${nameOf(w)} ran out of time`);
    const up = slots.filter((s) => s.state === 'up');
    if (created >= budget && up.length <= finalUp && inflight.size === 0) return slots;
    const free = slots.filter((s) => !s.busy);
    const freeDown = free.filter((s) => s.state === 'down');
    const freeUp = free.filter((s) => s.state === 'up');
    const room = budget - created - reserved;
    // While links are still to be made, free a slot when the budget needs it (and, far from
    // the end, now and then anyway); afterwards, delete down to `finalUp`.
    const down = slots.length - up.length;
    const wantsDelete =
      freeUp.length > 0 &&
      (room > 0 ? down < room || (room > slots.length && rng.chance(0.25)) : up.length > finalUp);
    if (room > 0 && freeDown.length && (!wantsDelete || rng.chance(0.55))) {
      const chosen = rng.subset(freeDown, room);
      for (const s of chosen) s.busy = true;
      reserved += chosen.length;
      launch(
        post(chosen).finally(() => {
          reserved -= chosen.length;
          for (const s of chosen) s.busy = false;
        }),
      );
    } else if (wantsDelete) {
      const slot = rng.pick(freeUp);
      slot.busy = true;
      launch(
        remove(slot).finally(() => {
          slot.busy = false;
        }),
      );
    }
    await sleep(rng.int(0, 25));
  }
}

describe('concurrent onboard and offboard of 50 links', () => {
  it.each([...FIXED_SEEDS, RANDOM_SEED])(
    'ends every link where it was driven with exactly the resources the live links need (seed %i)',
    async (seed) => {
      console.log(`concurrency campaign seed ${seed} (replay: TETHER_CAMPAIGN_SEED=${seed})`);
      const startedAt = Date.now();
      const h = harnessFor(await startLocalRuntime({ retryIntervalMs: 20 }));
      try {
        const sb = h.rt.sandbox;
        sb.addEksCluster({
          ...SOURCE_S,
          name: SOURCE_S.cluster,
          authenticationMode: 'API',
          vpc: { natIps: ['52.10.0.1', '52.10.0.2'] },
        });
        sb.addEksCluster({
          accountId: '444444444444',
          region: 'us-east-1',
          name: 'cluster-e',
          authenticationMode: 'API',
        });
        sb.addEksCluster({
          accountId: '555555555555',
          region: 'eu-central-1',
          name: 'cluster-f',
          authenticationMode: 'CONFIG_MAP',
          vpc: { natIps: ['34.20.0.9'] },
        });
        // cluster-f's node group mapped its role in aws-auth before Tether came.
        await sb.invoke(
          'kubernetes',
          'CreateConfigMap',
          {
            clusterName: 'cluster-f',
            namespace: 'kube-system',
            name: 'aws-auth',
            data: { mapRoles: NODE_ENTRY },
          },
          { accessKeyId: sb.rootCredentials('555555555555').accessKeyId, region: 'eu-central-1' },
        );
        const untagged = untaggedFingerprint(sb);

        const root = seededRandom(seed);
        const tally: Tally = {
          created: 0,
          posts: 0,
          multiTargetPosts: 0,
          deletes: 0,
          busy: 0,
          stillDeleting: 0,
          clientRetries: 0,
          anomalies: [],
        };
        const deadline = Date.now() + 100_000;
        // Each workload: its own generator, and how many of its links may stay live at the end.
        const plans = WORKLOADS.map(() => ({
          seed: root.int(0, 2 ** 31),
          finalUp: root.int(0, TARGETS.length),
        }));
        const slotsByWorkload = await Promise.all(
          WORKLOADS.map((w, i) =>
            driveWorkload(
              h,
              w,
              seededRandom(plans[i]?.seed ?? 0),
              LINKS_PER_WORKLOAD,
              plans[i]?.finalUp ?? 0,
              tally,
              deadline,
            ),
          ),
        );
        await h.rt.stepFunctions.idle();

        // Every link ends where it was driven.
        const expected = new Map<string, 'ACTIVE' | 'DELETED'>();
        const workloadOf = new Map<string, WorkloadRef>();
        const targetOf = new Map<string, number>();
        for (const [w, slots] of slotsByWorkload.entries()) {
          for (const slot of slots) {
            slot.ids.forEach((id, i) => {
              workloadOf.set(id, WORKLOADS[w] ?? WORKLOADS[0]!);
              targetOf.set(id, slot.target);
              expected.set(id, i === slot.ids.length - 1 && slot.state === 'up' ? 'ACTIVE' : 'DELETED');
            });
          }
        }
        // A link driven to ACTIVE that FAILED with CONCURRENT_UPDATE is POSTed again, as a
        // client would (see settleAsClient); any other FAILED is a finding.
        const settled = new Map<string, Link>();
        for (const [id, status] of expected) {
          const { link, retries } = await settleAsClient(
            h,
            id,
            requestFor(workloadOf.get(id) ?? WORKLOADS[0]!, [targetOf.get(id) ?? 0]),
            status === 'ACTIVE' ? 3 : 0,
          );
          settled.set(id, link);
          tally.clientRetries += retries;
        }
        const wrong = [...expected]
          .filter(([id, status]) => settled.get(id)?.status !== status)
          .map(([id, status]) => {
            const l = settled.get(id);
            return `${id} ${l?.spec.target.cluster}: ${l?.status} (driven to ${status}) ${JSON.stringify(l?.error ?? {})}`;
          });
        const links = await allLinks(h.rt);
        const active = links.filter((l) => l.status === 'ACTIVE');
        console.log(
          `seed ${seed}: ${tally.created} links made in ${tally.posts} POSTs (${tally.multiTargetPosts} with several targets), ` +
            `${tally.deletes} DELETEs (${tally.busy} LINK_BUSY answers retried, ${tally.stillDeleting} POSTs found the previous link still DELETING, ${tally.clientRetries} POSTed again after CONCURRENT_UPDATE), ` +
            `${active.length} ACTIVE at the end (live links per workload ${slotsByWorkload.map((ss) => ss.filter((x) => x.state === 'up').length).join('/')}), ${Date.now() - startedAt} ms`,
        );
        expect(tally.anomalies).toEqual([]);
        expect(tally.created).toBe(WORKLOADS.length * LINKS_PER_WORKLOAD);
        expect(links).toHaveLength(WORKLOADS.length * LINKS_PER_WORKLOAD);
        expect(wrong).toEqual([]);
        for (const l of active) expect(verifiedOk(l), `${l.id} verify`).toBe(true);

        // The sandbox holds exactly what the live links need, and the records match it.
        expect(ownershipDiff(sb, active)).toEqual({ orphans: [], missing: [] });
        for (const l of active) expect(recordMismatches(sb, l), l.id).toEqual([]);
        expect(await tableMismatches(h.rt, links)).toEqual([]);
        expect(untaggedChanges(untagged, untaggedFingerprint(sb))).toEqual([]);
        const awsAuth =
          sb.state().accounts['555555555555']?.regions['eu-central-1']?.eks.clusters['cluster-f']?.configMaps[
            'kube-system/aws-auth'
          ]?.data.mapRoles ?? '';
        expect(awsAuth.startsWith(NODE_ENTRY), awsAuth).toBe(true); // the node group's entry is untouched

        // Each workload role allows exactly the target roles of its workload's live links.
        for (const w of WORKLOADS) {
          const live = active
            .filter((l) => workloadKey(l.spec.source) === workloadKey(w))
            .map((l) => String(l.outputs.targetRoleArn))
            .sort();
          const policy = await workloadPolicyTargets(h.rt, w);
          expect(policy, `${w.cluster}/${w.namespace}/${w.serviceAccount}`).toEqual(
            live.length ? live : undefined,
          );
        }
      } finally {
        await h.close();
      }
    },
    180_000,
  );
});

// What the campaign hit first, when cluster-f had no aws-auth yet: the local runtime's
// Kubernetes adapter (now local/adapters/kubernetes.ts) matched the sandbox's error *names*,
// which are all 'SandboxError' (the code is in `code`), so a missing aws-auth was not
// created and a stale resourceVersion was not retried.
describe('aws-auth on a CONFIG_MAP target', () => {
  const clusterC = {
    accountId: '333333333333',
    region: 'eu-west-1',
    cluster: 'cluster-c',
    access: { groups: ['viewers'] },
  };
  const source = { ...SOURCE_A, namespace: 'payments', serviceAccount: 'api' };

  it('retries when someone else writes aws-auth between its read and its write, and keeps both entries', async () => {
    const h = harnessFor(await startLocalRuntime({ retryIntervalMs: 20 }));
    try {
      const sb = h.rt.sandbox;
      const person = sb.rootCredentials('333333333333');
      const personRole = 'arn:aws:iam::333333333333:role/platform-admins';
      const original = sb.invoke.bind(sb);
      let interfered = false;
      // Right after Tether's first read of aws-auth, another writer (eksctl, a node group, a
      // person) replaces it: Tether's write carries a stale resourceVersion and gets a Conflict.
      sb.invoke = async (service, operation, input, ctx) => {
        const out = await original(service, operation, input, ctx);
        if (!interfered && service === 'kubernetes' && operation === 'GetConfigMap') {
          interfered = true;
          const cm = (out as any).configMap;
          await original(
            'kubernetes',
            'ReplaceConfigMap',
            {
              clusterName: 'cluster-c',
              namespace: 'kube-system',
              name: 'aws-auth',
              data: {
                ...cm.data,
                mapRoles: `${cm.data.mapRoles}- rolearn: ${personRole}\n  username: admin\n  groups:\n    - system:masters\n`,
              },
              resourceVersion: cm.metadata.resourceVersion,
            },
            { accessKeyId: person.accessKeyId, region: 'eu-west-1' },
          );
        }
        return out;
      };
      const res = await h.api('POST', '/links', { source, targets: [clusterC] });
      const link = await h.settle(res.body.links[0].id);
      expect(interfered).toBe(true);
      expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
      const mapRoles =
        sb.state().accounts['333333333333']?.regions['eu-west-1']?.eks.clusters['cluster-c']?.configMaps[
          'kube-system/aws-auth'
        ]?.data.mapRoles ?? '';
      expect(mapRoles).toContain(`rolearn: ${personRole}\n`);
      expect(mapRoles).toContain(`rolearn: ${withoutPath(String(link.outputs.targetRoleArn))}\n`);
      expect(recordMismatches(sb, link)).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('makes and removes a link to a CONFIG_MAP cluster that has no aws-auth ConfigMap yet', async () => {
    const h = harnessFor(await startLocalRuntime({ retryIntervalMs: 20 }));
    try {
      const sb = h.rt.sandbox;
      sb.addEksCluster({
        accountId: '666666666666',
        region: 'eu-west-1',
        name: 'cluster-g',
        authenticationMode: 'CONFIG_MAP',
      });
      const target = {
        accountId: '666666666666',
        region: 'eu-west-1',
        cluster: 'cluster-g',
        access: { groups: ['viewers'] },
      };
      const res = await h.api('POST', '/links', { source, targets: [target] });
      const link = await h.settle(res.body.links[0].id);
      expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
      expect(ownershipDiff(sb, [link])).toEqual({ orphans: [], missing: [] });
      expect(recordMismatches(sb, link)).toEqual([]);
      expect((await h.api('DELETE', `/links/${link.id}`)).status).toBe(202);
      const gone = await h.settle(link.id);
      expect(gone.status, JSON.stringify(gone.error)).toBe('DELETED');
      expect(ownershipDiff(sb, [])).toEqual({ orphans: [], missing: [] });
    } finally {
      await h.close();
    }
  });
});
