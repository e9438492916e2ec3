/**
 * `npm run bench`: figures, not assertions. For the demo link of the cross-account IRSA runbook and for one
 * request with 20 targets, on the local runtime (in memory, retry waits shortened): wall
 * time from POST /links to every link ACTIVE, and AWS calls per link (mutating and
 * read-only) as the sandbox counted them; then the same request again (idempotent re-run).
 * Then the calls per link against the minimum and the propagation budget (`scale.ts`), the
 * cost of a link on AWS (`cost.ts`), a NAT change affecting 10 links of 1,000 and of 10,000
 * and the monthly cost of the hourly drift sweep over 10,000 links (`sweep.ts`), a short load run (`load.ts`, LOAD_SECONDS, 15 s here;
 * `npm run bench:load` runs 60 s), and last 1,000 links of one workload (`scale.ts`,
 * SCALE_LINKS).
 */
import '#local/polyfills';
import { performance } from 'node:perf_hooks';
import { type LocalRuntime, startLocalRuntime } from '#local/runtime';
import { DEMO_REQUEST } from '#local/demo';
import { measureCost, printCost } from './cost';
import { printLoad, runLoad } from './load';
import { measureNatChange, measureSweep, monthlySweepCost, printNatChange, printSweep } from './sweep';
import {
  measureCallsPerLink,
  measureOneWorkload,
  printCallsPerLink,
  printOneWorkload,
  printPropagationBudget,
} from './scale';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

async function post(rt: LocalRuntime, body: unknown) {
  const res = await fetch(`${rt.url}/links`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function untilSettled(rt: LocalRuntime, ids: string[]) {
  for (;;) {
    const links = await Promise.all(ids.map((id) => rt.links.get(id)));
    if (links.every((l) => !['PENDING', 'PROVISIONING'].includes(l.status))) return links;
    await new Promise((r) => setTimeout(r, 2));
  }
}

function twentyTargets(rt: LocalRuntime) {
  const targets = [];
  for (let i = 0; i < 20; i++) {
    const accountId = String(500000000000 + Math.floor(i / 5));
    rt.sandbox.addAccount(accountId);
    const name = `fleet-${i}`;
    rt.sandbox.addEksCluster({
      accountId,
      region: 'eu-west-1',
      name,
      authenticationMode: i % 4 === 3 ? 'API' : 'API_AND_CONFIG_MAP',
    });
    targets.push({
      accountId,
      region: 'eu-west-1',
      cluster: name,
      access: {
        policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
        scope: { type: 'cluster' },
      },
    });
  }
  return { ...DEMO_REQUEST, targets };
}

interface Figures {
  ms: number;
  links: number;
  mutating: number;
  reads: number;
  rerunMs: number;
  rerunMutating: number;
  rerunReads: number;
}

async function measure(makeBody: (rt: LocalRuntime) => unknown): Promise<Figures> {
  const rt = await startLocalRuntime({ retryIntervalMs: 1 });
  try {
    const body = makeBody(rt);
    rt.sandbox.resetCalls();
    const t0 = performance.now();
    const res = await post(rt, body);
    if (res.status !== 202)
      throw new Error(`POST /links answered ${res.status}: ${JSON.stringify(res.body)}`);
    const ids = res.body.links.map((l: any) => l.id);
    const links = await untilSettled(rt, ids);
    const ms = performance.now() - t0;
    const bad = links.filter((l) => l.status !== 'ACTIVE');
    if (bad.length)
      throw new Error(`Not ACTIVE: ${JSON.stringify(bad.map((l) => [l.id, l.status, l.error]))}`);
    const mutating = rt.sandbox.callCounts({ mutating: true });
    const reads = rt.sandbox.callCounts({ mutating: false });
    rt.sandbox.resetCalls();
    const t1 = performance.now();
    const again = await post(rt, body);
    if (again.status !== 200) throw new Error(`re-run answered ${again.status}`);
    const rerunMs = performance.now() - t1;
    return {
      ms,
      links: ids.length,
      mutating,
      reads,
      rerunMs,
      rerunMutating: rt.sandbox.callCounts({ mutating: true }),
      rerunReads: rt.sandbox.callCounts({ mutating: false }),
    };
  } finally {
    await rt.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function scenario(name: string, makeBody: (rt: LocalRuntime) => unknown) {
  const runs: Figures[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await measure(makeBody));
  const f = runs[0]!;
  return {
    scenario: name,
    links: f.links,
    'ms to ACTIVE (median)': Math.round(median(runs.map((r) => r.ms))),
    'ms to ACTIVE (min..max)': `${Math.round(Math.min(...runs.map((r) => r.ms)))}..${Math.round(Math.max(...runs.map((r) => r.ms)))}`,
    'mutating calls / link': +(f.mutating / f.links).toFixed(2),
    'read-only calls / link': +(f.reads / f.links).toFixed(2),
    're-run ms (median)': Math.round(median(runs.map((r) => r.rerunMs))),
    're-run mutating calls': f.rerunMutating,
    're-run read-only calls': f.rerunReads,
  };
}

const rows = [
  await scenario('demo link (the cross-account IRSA runbook)', () => DEMO_REQUEST),
  await scenario('one request, 20 targets', twentyTargets),
];
console.log(
  `Tether local runtime, Node ${process.version}, ${RUNS} runs each (in-memory state, retry waits 1 ms)`,
);
console.table(rows);
console.log(`peak RSS ${Math.round(process.memoryUsage().rss / 1048576)} MiB`);

printCallsPerLink(await measureCallsPerLink());
printPropagationBudget();

printCost(await measureCost());

// Keeping a fleet true (`sweep.ts`): a NAT change found through the index, at two fleet sizes,
// and the hourly sweep over SWEEP_LINKS (10,000) links and its monthly cost.
const natChanges = [await measureNatChange(1_000), await measureNatChange(10_000)];
printNatChange(natChanges);
if (new Set(natChanges.map((r) => r.dynamo.items)).size !== 1) process.exitCode = 1;
const swept = await measureSweep(Number(process.env.SWEEP_LINKS ?? 10_000));
printSweep(swept);
if (monthlySweepCost(swept, 0).total > 10) process.exitCode = 1;
const load = await runLoad({ seconds: Number(process.env.LOAD_SECONDS ?? 15) });
printLoad(load);
if (load.serverErrors || load.networkErrors || load.lost.length || load.orphans.length) process.exitCode = 1;

// Last, so the load run does not share the process with the aftermath of 1,000 links.
const oneWorkload = await measureOneWorkload(Number(process.env.SCALE_LINKS ?? 1000));
printOneWorkload(oneWorkload);
if (oneWorkload.active !== oneWorkload.links || oneWorkload.sourceIamWritesAfterFirst !== 0)
  process.exitCode = 1;
