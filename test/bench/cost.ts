/**
 * The cost of one link on AWS, from a real run on the local runtime: one onboard (POST
 * /links with one target, GETs until ACTIVE) and one offboard (DELETE, GETs until DELETED)
 * of a fresh workload, priced with the published us-east-1 prices of `prices.ts`.
 *
 * - Step Functions: the state transitions of the recorded execution history, counted as
 *   Standard workflows bill them — every state entered (Map, Parallel, Pass and Task
 *   alike) is one transition, and every retry is one more (docs/aws-facts.md#step-functions).
 * - Lambda: one invocation per Task attempt (retries included) plus one per API request
 *   (API Gateway invokes the API function); duration measured locally and billed rounded
 *   up to 1 ms, at the configured memory (COST_MEMORY_MB, default 256 MB, arm64). Task
 *   durations come from the history (StateEntered/StateRetried → StateExited/StateFailed),
 *   API durations from the client's round trip (an upper bound of the handler's time).
 * - DynamoDB: read and write request units counted by `DynamoMeter` on the runtime's client.
 * - API Gateway HTTP API: every request the client makes (POST, the GETs, DELETE).
 *
 * AWS calls into member accounts (IAM, STS, EKS, EC2) have no per-request charge; they are
 * listed per service for reference. The first run warms the JIT and is left out; each run
 * uses a fresh workload, so every run makes (and removes) the cluster's OIDC provider and
 * the workload role, the most a link can cost.
 */
import '#local/polyfills';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DEMO_REQUEST } from '#local/demo';
import { type LocalRuntime, startLocalRuntime } from '#local/runtime';
import type { HistoryEvent } from '#local/adapters/stepfunctions';
import { DynamoMeter, type OperationUnits } from './dynamo-meter';
import { PRICE_REGION, PRICES, PRICES_CHECKED } from './prices';
import { median, usd } from './stats';

export interface CostOptions {
  /** Lambda memory in MB. @default 256 (COST_MEMORY_MB) */
  readonly memoryMb?: number;
  /** Measured runs after the warm-up run. @default 5 (COST_RUNS) */
  readonly runs?: number;
  /** The client's polling interval in ms. @default 1000 (COST_POLL_MS) */
  readonly pollMs?: number;
}

interface WorkflowUsage {
  readonly workflow: string;
  readonly transitions: number;
  readonly retries: number;
  /** Task attempts, i.e. Lambda invocations. */
  readonly taskInvocations: number;
  /** Billed ms of every Task attempt, by state name. */
  readonly taskMs: Record<string, number[]>;
}

export interface PhaseUsage {
  readonly phase: 'onboard' | 'offboard';
  readonly workflow: WorkflowUsage;
  /** API requests by method, and their billed ms (client round trip, rounded up). */
  readonly apiRequests: Record<string, number>;
  readonly apiMs: number[];
  readonly dynamo: Record<string, OperationUnits>;
  /** Calls into member accounts, by service (no per-request charge). */
  readonly awsCalls: Record<string, number>;
  readonly wallMs: number;
}

export interface PhaseCost {
  readonly stepFunctions: number;
  readonly lambdaRequests: number;
  readonly lambdaDuration: number;
  readonly dynamoDb: number;
  readonly apiGateway: number;
  readonly total: number;
}

const billedMs = (ms: number) => Math.max(1, Math.ceil(ms));

/** Transitions, retries and Task attempts with their durations, from a recorded history. */
export function workflowUsage(workflow: string, history: readonly HistoryEvent[]): WorkflowUsage {
  let transitions = 0;
  let retries = 0;
  let taskInvocations = 0;
  const open = new Map<string, number>();
  const taskMs: Record<string, number[]> = {};
  for (const e of history) {
    const key = `${e.state}#${e.index ?? ''}`;
    const isTask = e.stateType === 'Task';
    if (e.type === 'StateEntered') transitions++;
    if (e.type === 'StateRetried') {
      transitions++;
      retries++;
    }
    if (!isTask) continue;
    if (e.type === 'StateEntered' || e.type === 'StateRetried') {
      taskInvocations++;
      open.set(key, Date.parse(e.timestamp));
    } else if (e.type === 'StateExited' || e.type === 'StateFailed') {
      const start = open.get(key);
      if (start === undefined) continue;
      open.delete(key);
      const list = taskMs[e.state ?? '?'] ?? [];
      list.push(billedMs(Date.parse(e.timestamp) - start));
      taskMs[e.state ?? '?'] = list;
    }
  }
  return { workflow, transitions, retries, taskInvocations, taskMs };
}

export function phaseCost(u: PhaseUsage, memoryMb: number): PhaseCost {
  const apiCount = Object.values(u.apiRequests).reduce((a, b) => a + b, 0);
  const taskMs = Object.values(u.workflow.taskMs).flat();
  const gbSeconds = ([...taskMs, ...u.apiMs].reduce((a, b) => a + b, 0) / 1000) * (memoryMb / 1024);
  const dynamo = DynamoMeter.total(u.dynamo);
  const stepFunctions = u.workflow.transitions * PRICES.stepFunctionsPerTransition;
  const lambdaRequests = (u.workflow.taskInvocations + apiCount) * PRICES.lambdaPerRequest;
  const lambdaDuration = gbSeconds * PRICES.lambdaArmPerGbSecond;
  const dynamoDb = dynamo.rru * PRICES.dynamoDbPerRru + dynamo.wru * PRICES.dynamoDbPerWru;
  const apiGateway = apiCount * PRICES.httpApiPerRequest;
  return {
    stepFunctions,
    lambdaRequests,
    lambdaDuration,
    dynamoDb,
    apiGateway,
    total: stepFunctions + lambdaRequests + lambdaDuration + dynamoDb + apiGateway,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function request(
  rt: LocalRuntime,
  method: string,
  path: string,
  body: unknown,
  log: { apiRequests: Record<string, number>; apiMs: number[] },
) {
  const t0 = performance.now();
  const res = await fetch(`${rt.url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as any;
  log.apiMs.push(billedMs(performance.now() - t0));
  log.apiRequests[method] = (log.apiRequests[method] ?? 0) + 1;
  return { status: res.status, body: json };
}

function awsCallsByService(rt: LocalRuntime): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of rt.sandbox.calls()) out[c.service] = (out[c.service] ?? 0) + 1;
  return out;
}

async function onePhase(
  rt: LocalRuntime,
  meter: DynamoMeter,
  phase: 'onboard' | 'offboard',
  pollMs: number,
  start: (log: { apiRequests: Record<string, number>; apiMs: number[] }) => Promise<string>,
  done: string,
): Promise<PhaseUsage> {
  meter.reset();
  rt.sandbox.resetCalls();
  const log = { apiRequests: {} as Record<string, number>, apiMs: [] as number[] };
  const t0 = performance.now();
  const id = await start(log);
  for (;;) {
    await sleep(pollMs);
    const got = await request(rt, 'GET', `/links/${id}`, undefined, log);
    if (got.body.status === done) break;
    if (got.body.status === 'FAILED')
      throw new Error(`${phase}: link ${id} FAILED: ${JSON.stringify(got.body.error)}`);
  }
  const link = await rt.links.get(id);
  const arn = link.lastExecution?.arn;
  if (!arn) throw new Error(`${phase}: link ${id} names no execution`);
  const execution = await rt.stepFunctions.waitFor(arn);
  const wallMs = performance.now() - t0;
  return {
    phase,
    workflow: workflowUsage(execution.workflow, rt.stepFunctions.history(arn)),
    apiRequests: log.apiRequests,
    apiMs: log.apiMs,
    dynamo: meter.snapshot(),
    awsCalls: awsCallsByService(rt),
    wallMs,
  };
}

export interface CostReport {
  readonly memoryMb: number;
  readonly pollMs: number;
  readonly runs: number;
  /** The measured run whose total cost is the median. */
  readonly onboard: PhaseUsage;
  readonly offboard: PhaseUsage;
  readonly onboardCost: PhaseCost;
  readonly offboardCost: PhaseCost;
  readonly totalRange: readonly [number, number];
}

export async function measureCost(options: CostOptions = {}): Promise<CostReport> {
  const memoryMb = options.memoryMb ?? Number(process.env.COST_MEMORY_MB ?? 256);
  const runs = options.runs ?? Number(process.env.COST_RUNS ?? 5);
  const pollMs = options.pollMs ?? Number(process.env.COST_POLL_MS ?? 1000);
  const rt = await startLocalRuntime();
  const meter = new DynamoMeter();
  meter.attach(rt.clients.dynamodb());
  const measured: { onboard: PhaseUsage; offboard: PhaseUsage; total: number }[] = [];
  try {
    for (let i = 0; i <= runs; i++) {
      const body = {
        ...DEMO_REQUEST,
        source: { ...DEMO_REQUEST.source, namespace: `cost-${i}`, serviceAccount: `cost-run-${i}` },
      };
      let id = '';
      const onboard = await onePhase(
        rt,
        meter,
        'onboard',
        pollMs,
        async (log) => {
          const res = await request(rt, 'POST', '/links', body, log);
          if (res.status !== 202)
            throw new Error(`POST /links answered ${res.status}: ${JSON.stringify(res.body)}`);
          id = res.body.links[0].id;
          return id;
        },
        'ACTIVE',
      );
      const offboard = await onePhase(
        rt,
        meter,
        'offboard',
        pollMs,
        async (log) => {
          const res = await request(rt, 'DELETE', `/links/${id}`, undefined, log);
          if (res.status !== 202)
            throw new Error(`DELETE answered ${res.status}: ${JSON.stringify(res.body)}`);
          return id;
        },
        'DELETED',
      );
      if (i === 0) continue; // warm-up
      const total = phaseCost(onboard, memoryMb).total + phaseCost(offboard, memoryMb).total;
      measured.push({ onboard, offboard, total });
    }
  } finally {
    await rt.close();
  }
  const sorted = [...measured].sort((a, b) => a.total - b.total);
  const pick = sorted[Math.floor((sorted.length - 1) / 2)];
  if (!pick) throw new Error('no measured run');
  return {
    memoryMb,
    pollMs,
    runs,
    onboard: pick.onboard,
    offboard: pick.offboard,
    onboardCost: phaseCost(pick.onboard, memoryMb),
    offboardCost: phaseCost(pick.offboard, memoryMb),
    totalRange: [sorted[0]!.total, sorted[sorted.length - 1]!.total],
  };
}

function usageRow(u: PhaseUsage, memoryMb: number) {
  const taskMs = Object.values(u.workflow.taskMs).flat();
  const apiCount = Object.values(u.apiRequests).reduce((a, b) => a + b, 0);
  const d = DynamoMeter.total(u.dynamo);
  const ms = taskMs.reduce((a, b) => a + b, 0) + u.apiMs.reduce((a, b) => a + b, 0);
  return {
    phase: u.phase,
    'SFN transitions': u.workflow.transitions,
    'SFN retries': u.workflow.retries,
    'Lambda invocations (tasks + API)': `${u.workflow.taskInvocations} + ${apiCount}`,
    'Lambda billed ms': ms,
    'Lambda GB-s': +((ms / 1000) * (memoryMb / 1024)).toFixed(4),
    'DynamoDB calls': d.calls,
    RRU: d.rru,
    WRU: d.wru,
    'HTTP API requests': `${apiCount} (${Object.entries(u.apiRequests)
      .map(([m, n]) => `${n} ${m}`)
      .join(', ')})`,
    'member-account AWS calls (free)': Object.entries(u.awsCalls)
      .map(([s, n]) => `${s} ${n}`)
      .join(', '),
  };
}

const COST_KEYS = [
  'stepFunctions',
  'lambdaRequests',
  'lambdaDuration',
  'dynamoDb',
  'apiGateway',
  'total',
] as const;
const COST_LABELS: Record<(typeof COST_KEYS)[number], string> = {
  stepFunctions: 'Step Functions (transitions)',
  lambdaRequests: 'Lambda requests',
  lambdaDuration: 'Lambda duration (GB-s)',
  dynamoDb: 'DynamoDB on-demand',
  apiGateway: 'API Gateway HTTP API',
  total: 'TOTAL',
};

export function printCost(r: CostReport): void {
  console.log(
    `\nCost of a link on AWS (${PRICE_REGION} list prices of ${PRICES_CHECKED}, free tiers ignored; ` +
      `Lambda ${r.memoryMb} MB arm64; client polls every ${r.pollMs} ms; median of ${r.runs} runs after a warm-up)`,
  );
  console.table([usageRow(r.onboard, r.memoryMb), usageRow(r.offboard, r.memoryMb)]);
  console.log('Lambda billed ms per Task state (median attempt):');
  console.table(
    [r.onboard, r.offboard].flatMap((u) =>
      Object.entries(u.workflow.taskMs).map(([state, ms]) => ({
        workflow: u.workflow.workflow,
        state,
        attempts: ms.length,
        'billed ms': median(ms),
      })),
    ),
  );
  console.log('DynamoDB request units per operation (onboard / offboard):');
  const ops = new Set([...Object.keys(r.onboard.dynamo), ...Object.keys(r.offboard.dynamo)]);
  console.table(
    [...ops].map((op) => {
      const a = r.onboard.dynamo[op];
      const b = r.offboard.dynamo[op];
      return {
        operation: op,
        calls: `${a?.calls ?? 0} / ${b?.calls ?? 0}`,
        RRU: `${a?.rru ?? 0} / ${b?.rru ?? 0}`,
        WRU: `${a?.wru ?? 0} / ${b?.wru ?? 0}`,
        'failed conditions': `${a?.conditionalFailures ?? 0} / ${b?.conditionalFailures ?? 0}`,
      };
    }),
  );
  const total = Object.fromEntries(COST_KEYS.map((k) => [k, r.onboardCost[k] + r.offboardCost[k]])) as Record<
    (typeof COST_KEYS)[number],
    number
  >;
  console.table(
    COST_KEYS.map((k) => ({
      service: COST_LABELS[k],
      'onboard / link': usd(r.onboardCost[k]),
      'offboard / link': usd(r.offboardCost[k]),
      'total / link': usd(total[k]),
      share: `${((100 * total[k]) / total.total).toFixed(1)}%`,
      '1,000 links on+offboarded': usd(1000 * total[k]),
    })),
  );
  const extraGet =
    PRICES.httpApiPerRequest +
    PRICES.lambdaPerRequest +
    (median(r.onboard.apiMs) / 1000) * (r.memoryMb / 1024) * PRICES.lambdaArmPerGbSecond +
    PRICES.dynamoDbPerRru;
  const invocations = r.onboard.workflow.taskInvocations + r.offboard.workflow.taskInvocations;
  console.log(
    `total per link ${usd(total.total)} (min..max over runs ${usd(r.totalRange[0])}..${usd(r.totalRange[1])}); ` +
      `1,000 links ${usd(1000 * total.total)}.\n` +
      `Sensitivity: each extra GET poll ≈ ${usd(extraGet)}; every +100 ms per workflow Lambda ` +
      `(real AWS API latency instead of the sandbox's) adds ${usd(invocations * 0.1 * (r.memoryMb / 1024) * PRICES.lambdaArmPerGbSecond)} per link.`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printCost(await measureCost());
}
