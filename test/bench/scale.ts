/**
 * Calls at the minimum, and a workload with 1,000 links (part of `npm run bench`; alone:
 * `npx tsx test/bench/scale.ts`).
 *
 * - **Calls per link against the minimum.** The mutating AWS calls of one link, as the
 *   sandbox counted them, next to the fewest the link needs: the first link of a workload
 *   whose source has 3 NAT IPs needs 8 (OIDC provider; workload role and its policy;
 *   target role and its policy; access entry; access policy; one UpdateClusterConfig that
 *   merges every NAT /32 into cluster-b's publicAccessCidrs), a further link of the same
 *   workload to cluster-d 4 (the target side alone: nothing in the source account, and no
 *   allowance: cluster-d's public endpoint is open to all). Reads are held to at most one per write plus the resolves (the plan's
 *   and the resolve step's DescribeCluster and DescribeNatGateways, and the agent-role
 *   sessions).
 * - **1,000 links of one workload.** Every link ACTIVE, the workload role's policy size (in
 *   characters other than whitespace, as IAM counts it: docs/aws-facts.md#iam-quotas) next to
 *   the size the old policy, which listed every target role ARN, would have at 100 and 1,000
 *   links, and the IAM writes in the source account after the first link.
 * - **The propagation budget**, from the ASL files (docs/architecture.md#retries).
 */
import '#local/polyfills';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { GetRolePolicyCommand } from '@aws-sdk/client-iam';
import { DEMO_REQUEST } from '#local/demo';
import type { CallRecord } from '#local/sandbox/sandbox';
import { type LocalRuntime, startLocalRuntime } from '#local/runtime';
import { retriersFor, retryBudget } from './retry-budget';

const SOURCE = DEMO_REQUEST.source.accountId;
const VIEW = {
  policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
  scope: { type: 'cluster' },
} as const;

async function post(rt: LocalRuntime, body: unknown): Promise<string[]> {
  const res = await fetch(`${rt.url}/links`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { links?: { id: string }[] };
  if (res.status !== 202) throw new Error(`POST /links answered ${res.status}: ${JSON.stringify(json)}`);
  return (json.links ?? []).map((l) => l.id);
}

async function settled(rt: LocalRuntime, ids: readonly string[]) {
  await rt.stepFunctions.idle();
  return Promise.all(ids.map((id) => rt.links.get(id)));
}

const countBy = (calls: readonly CallRecord[]) => {
  const out = new Map<string, number>();
  for (const c of calls)
    out.set(`${c.service}:${c.operation}`, (out.get(`${c.service}:${c.operation}`) ?? 0) + 1);
  return [...out].map(([op, n]) => (n > 1 ? `${op} ×${n}` : op)).join(', ');
};

export interface CallsRow {
  readonly link: string;
  readonly 'mutating calls': number;
  readonly minimum: number;
  readonly 'source-account writes': number;
  readonly 'read-only calls': number;
  /** The checks of `POST /links` (the plan: clusters, NAT IPs, quotas, conflicts), before anything is written. */
  readonly 'plan reads': number;
  /** The resolve step: both clusters and the source's NAT gateways. */
  readonly resolves: number;
  /** What the ensures read to decide a write (the read before each write). */
  readonly 'ensure reads': number;
  /** DescribeUpdate while a cluster update runs (minutes on AWS: a poll, not a decision). */
  readonly 'update follow': number;
  /** The verify step's read-back of every document, entry and rule (as `POST /links/{id}/verify`). */
  readonly 'verify reads': number;
  /** Agent-role sessions (STS AssumeRole in the hub). */
  readonly sessions: number;
  readonly writes: string;
  readonly readsByPhase: string;
}

/** The operations of the resolve step ("Resolve clusters and NAT IPs"). */
const RESOLVE_STEP_OPERATIONS = new Set(['DescribeCluster', 'DescribeNatGateways']);

/**
 * The calls of the demo link (first of its workload, 3 NAT IPs) and of a further link of the
 * same workload, the reads told apart by phase: the API's plan (its own session,
 * `tether-api`), the agent sessions (`tether-hub`), and the link's run (`tether-<link>-<run>`),
 * whose verify step is measured alone as `POST /links/{id}/verify` (the same function,
 * `#resources/verify`) and taken out of the run's reads.
 */
export async function measureCallsPerLink(): Promise<CallsRow[]> {
  const rt = await startLocalRuntime({ retryIntervalMs: 1 });
  try {
    const row = async (link: string, body: unknown, minimum: number): Promise<CallsRow> => {
      rt.sandbox.resetCalls();
      const [l] = await settled(rt, await post(rt, body));
      if (l?.status !== 'ACTIVE') throw new Error(`${link}: ${l?.status} ${JSON.stringify(l?.error)}`);
      const calls = rt.sandbox.calls();
      const writes = calls.filter((c) => c.mutating);
      const reads = calls.filter((c) => !c.mutating);
      const plan = reads.filter((c) => c.sessionName === 'tether-api');
      const sessions = reads.filter((c) => c.operation === 'AssumeRole');
      const run = reads.filter((c) => c.sessionName?.startsWith(`tether-${l.id}-`));
      rt.sandbox.resetCalls();
      const verified = await fetch(`${rt.url}/links/${l.id}/verify`, { method: 'POST' });
      if (verified.status !== 200) throw new Error(`${link}: verify answered ${verified.status}`);
      const verify = rt.sandbox.calls().filter((c) => !c.mutating && c.operation !== 'AssumeRole');
      // The run's reads without its verify step: take out one call of each the verify made.
      const rest = [...run];
      for (const v of verify) {
        const i = rest.findLastIndex((c) => c.operation === v.operation && c.accountId === v.accountId);
        if (i >= 0) rest.splice(i, 1);
      }
      const resolveCalls = rest.filter((c) => RESOLVE_STEP_OPERATIONS.has(c.operation)).slice(0, 3);
      const follow = rest.filter((c) => c.operation === 'DescribeUpdate');
      const ensure = rest.filter((c) => !resolveCalls.includes(c) && !follow.includes(c));
      return {
        link,
        'mutating calls': writes.length,
        minimum,
        'source-account writes': writes.filter((c) => c.accountId === SOURCE).length,
        'read-only calls': reads.length,
        'plan reads': plan.length,
        resolves: resolveCalls.length,
        'ensure reads': ensure.length,
        'update follow': follow.length,
        'verify reads': verify.length,
        sessions: sessions.length,
        writes: countBy(writes),
        readsByPhase: `plan: ${countBy(plan)}\n    ensures: ${countBy(ensure)}\n    verify: ${countBy(verify)}`,
      };
    };
    return [
      await row('first link of a workload, 3 NAT IPs (demo)', DEMO_REQUEST, 8),
      await row(
        'a further link of the same workload',
        {
          ...DEMO_REQUEST,
          targets: [{ accountId: '333333333333', region: 'eu-west-1', cluster: 'cluster-d', access: VIEW }],
        },
        4,
      ),
    ];
  } finally {
    await rt.close();
  }
}

export function printCallsPerLink(rows: readonly CallsRow[]): void {
  console.log('\nAWS calls per link against the minimum the link needs (sandbox call log)');
  console.table(rows.map(({ writes: _, readsByPhase: __, ...r }) => r));
  for (const r of rows) {
    // Issue 10's bound: at most one read per write, plus the resolves.
    const run = r.resolves + r['ensure reads'] + r['update follow'];
    const bound = r['mutating calls'] + r.resolves;
    console.log(
      `  ${r.link}: ${r.writes}\n    the run's reads ${run} (resolves ${r.resolves} + ensures ${r['ensure reads']} + update follow ${r['update follow']}) for ${r['mutating calls']} writes + ${r.resolves} resolves = ${bound}: ${run <= bound ? 'within' : 'OVER'} one read per write plus the resolves\n    ${r.readsByPhase}`,
    );
  }
}

/** What `{@link measureOneWorkload}` reports. */
export interface OneWorkloadReport {
  readonly links: number;
  readonly active: number;
  readonly ms: number;
  /** Non-whitespace characters of the workload role's policy, after the first link and after all. */
  readonly policyChars: { readonly first: number; readonly last: number };
  /** The size the old policy (every target role ARN listed) would have, at 100 links and at all. */
  readonly listPolicyChars: { readonly at100: number; readonly atAll: number };
  readonly sourceIamWritesAfterFirst: number;
  readonly mutatingCallsPerLink: number;
}

/** The policy the workload role had before: `sts:AssumeRole` on every target role ARN, listed. */
function listPolicy(arns: readonly string[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AssumeTetherTargetRoles',
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: [...arns].sort(),
      },
    ],
  });
}

const iamChars = (text: string) => text.replace(/\s+/g, '').length;

/**
 * `n` links of one workload (the demo workload) to `n` target clusters, 40 to an account:
 * one request with the first target, then requests of 20 targets (the API's most), a few
 * in flight at once.
 */
export async function measureOneWorkload(n = 1000, inFlight = 4): Promise<OneWorkloadReport> {
  const rt = await startLocalRuntime({ retryIntervalMs: 1 });
  try {
    const targets = [];
    for (let i = 0; i < n; i++) {
      const accountId = String(800000000000 + Math.floor(i / 40));
      if (i % 40 === 0) rt.sandbox.addAccount(accountId);
      const cluster = `fleet-${i}`;
      rt.sandbox.addEksCluster({
        accountId,
        region: 'eu-west-1',
        name: cluster,
        authenticationMode: 'API',
        vpc: { natIps: [] },
      });
      targets.push({ accountId, region: 'eu-west-1', cluster, access: VIEW });
    }
    const iam = rt.clients.iam(SOURCE);
    const policy = async (roleName: string) =>
      decodeURIComponent(
        (
          await iam.send(
            new GetRolePolicyCommand({ RoleName: roleName, PolicyName: 'tether-assume-target-roles' }),
          )
        ).PolicyDocument ?? '',
      );
    const t0 = performance.now();
    const [first] = await settled(rt, await post(rt, { ...DEMO_REQUEST, targets: targets.slice(0, 1) }));
    if (first?.status !== 'ACTIVE')
      throw new Error(`first link: ${first?.status} ${JSON.stringify(first?.error)}`);
    const roleName = first.outputs.workloadRoleArn?.split('/').pop() ?? '';
    const firstPolicy = await policy(roleName);
    rt.sandbox.resetCalls();
    const batches: (typeof targets)[] = [];
    for (let i = 1; i < n; i += 20) batches.push(targets.slice(i, i + 20));
    const ids: string[] = [first.id];
    for (let i = 0; i < batches.length; i += inFlight) {
      const wave = batches.slice(i, i + inFlight);
      const waveIds = (await Promise.all(wave.map((b) => post(rt, { ...DEMO_REQUEST, targets: b })))).flat();
      await rt.stepFunctions.idle();
      ids.push(...waveIds);
    }
    const links = await settled(rt, ids);
    const ms = performance.now() - t0;
    const calls = rt.sandbox.calls();
    const lastPolicy = await policy(roleName);
    const arns = links.map((l) => l.outputs.targetRoleArn ?? '');
    return {
      links: links.length,
      active: links.filter((l) => l.status === 'ACTIVE').length,
      ms,
      policyChars: { first: iamChars(firstPolicy), last: iamChars(lastPolicy) },
      listPolicyChars: { at100: iamChars(listPolicy(arns.slice(0, 100))), atAll: iamChars(listPolicy(arns)) },
      sourceIamWritesAfterFirst: calls.filter(
        (c) => c.accountId === SOURCE && c.service === 'iam' && c.mutating,
      ).length,
      mutatingCallsPerLink: +(calls.filter((c) => c.mutating).length / (links.length - 1)).toFixed(2),
    };
  } finally {
    await rt.close();
  }
}

export function printOneWorkload(r: OneWorkloadReport): void {
  console.log(
    `\n${r.links.toLocaleString('en-US')} links of one workload (requests of 20 targets, retry waits 1 ms)`,
  );
  console.table([
    {
      links: r.links,
      ACTIVE: r.active,
      's to all ACTIVE': +(r.ms / 1000).toFixed(1),
      'workload policy chars (after link 1 → all)': `${r.policyChars.first} → ${r.policyChars.last}`,
      'mutating IAM calls in the source account after the first link': r.sourceIamWritesAfterFirst,
      'mutating calls / further link': r.mutatingCallsPerLink,
    },
  ]);
  console.log(
    `  The old policy listing every target role ARN: ${r.listPolicyChars.at100.toLocaleString('en-US')} chars at 100 links, ` +
      `${r.listPolicyChars.atAll.toLocaleString('en-US')} at ${r.links.toLocaleString('en-US')} ` +
      `(IAM allows 10,240 for all of a role's inline policies).`,
  );
}

/** The `NotYetPropagatedError` budget of every ASL file, from the files themselves. */
export function printPropagationBudget(): void {
  const dir = new URL('../../statemachines/', import.meta.url).pathname;
  const rows = ['onboard.asl.json', 'offboard.asl.json'].map((file) => {
    const definition = JSON.parse(readFileSync(`${dir}${file}`, 'utf8'));
    const budgets = retriersFor(definition, 'NotYetPropagatedError').map(([, r]) =>
      r ? retryBudget(r) : { worst: 0, median: 0 },
    );
    return {
      file,
      'Task states': budgets.length,
      'worst case s (least of the states)': Math.min(...budgets.map((b) => b.worst)),
      'median s, full jitter (least)': Math.min(...budgets.map((b) => b.median)),
    };
  });
  console.log('\nPropagation budget: how long a Task keeps retrying NotYetPropagatedError (from the ASL)');
  console.table(rows);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printCallsPerLink(await measureCallsPerLink());
  printOneWorkload(await measureOneWorkload(Number(process.env.SCALE_LINKS ?? 1000)));
  printPropagationBudget();
}
