/**
 * Keeping a fleet true (part of `npm run bench`; alone: `npx tsx test/bench/sweep.ts`),
 * measured on the local runtime (in memory), with the fleet seeded in the table:
 *
 * - **A NAT change that affects 10 links of a fleet.** Ten real links from the demo source
 *   VPC (each to its own target, whose public endpoint lets the NAT IPs in), and the rest of
 *   the fleet seeded as link and `SOURCEVPC#…` index items of other VPCs. A NAT gateway of
 *   the demo VPC is replaced (the sandbox's CloudTrail → the local bus → the reconcile):
 *   time until the 10 links hold the new IP, and the DynamoDB items read on the way, at
 *   1,000 and at 10,000 links. The affected links are found through the index, so neither
 *   figure grows with the fleet.
 * - **The hourly drift sweep over 10,000 links**, and its monthly cost (720 sweeps) at the
 *   published prices of `prices.ts`: the fleet is the 10 real links and copies of them (the
 *   same AWS resources, so each copy is verified with the reads a link of its own needs);
 *   a sweep that finds no drift is measured (Query pages, read units, AWS reads, wall
 *   time), then the cost of one drifted link (its verification written, its reconcile run)
 *   from a sweep that finds one. Lambda's billed time in AWS is taken as the larger of the
 *   local wall time and a model of AWS latency: SWEEP_AWS_READ_MS (default 60 ms) per
 *   AWS read, `concurrency` reads at once.
 */
import '#local/polyfills';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import {
  DescribeClusterCommand,
  DescribeUpdateCommand,
  EKSClient,
  UpdateClusterConfigCommand,
} from '@aws-sdk/client-eks';
import { BatchWriteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DEMO_REQUEST } from '#local/demo';
import { replaceNatGateway } from '#local/adapters/sandbox-admin';
import { sandboxPlugin } from '#local/adapters/sdk-plugin';
import { type LocalRuntime, startLocalRuntime } from '#local/runtime';
import type { SweepReport } from '#resources/sweep';
import { DEFAULT_TABLE_NAME, keys, membership } from '#store/table';
import { workflowUsage } from './cost';
import { DynamoMeter, type OperationUnits } from './dynamo-meter';
import { PRICE_REGION, PRICES, PRICES_CHECKED } from './prices';
import { usd } from './stats';

const SOURCE = DEMO_REQUEST.source;
const AFFECTED = 10;
const SWEEPS_PER_MONTH = 24 * 30;
/** The sweep's Lambda memory (MB), and how many links it verifies at once. */
const MEMORY_MB = Number(process.env.SWEEP_MEMORY_MB ?? 256);
const CONCURRENCY = Number(process.env.SWEEP_CONCURRENCY ?? 16);
const AWS_READ_MS = Number(process.env.SWEEP_AWS_READ_MS ?? 60);
/** The scheduled invocation of each sweep, at most EventBridge's $1.00 per million (https://aws.amazon.com/eventbridge/pricing/). */
const SCHEDULER_PER_INVOCATION = 1.0 / 1_000_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One request: the demo workload → `count` targets, each a cluster of its own whose public endpoint is restricted. */
async function realLinks(rt: LocalRuntime, count = AFFECTED): Promise<string[]> {
  const targets = [];
  for (let i = 0; i < count; i++) {
    const accountId = String(600000000000 + i);
    rt.sandbox.addAccount(accountId);
    rt.sandbox.addEksCluster({
      accountId,
      region: 'eu-west-1',
      name: `kept-${i}`,
      authenticationMode: 'API',
      publicAccessCidrs: ['198.51.100.0/24'],
    });
    targets.push({
      accountId,
      region: 'eu-west-1',
      cluster: `kept-${i}`,
      access: {
        policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
        scope: { type: 'cluster' },
      },
    });
  }
  const res = await fetch(`${rt.url}/links`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...DEMO_REQUEST, targets }),
  });
  const body = (await res.json()) as { links: { id: string }[] };
  if (res.status !== 202) throw new Error(`POST /links answered ${res.status}: ${JSON.stringify(body)}`);
  const ids = body.links.map((l) => l.id);
  await rt.stepFunctions.idle();
  for (const id of ids) {
    const l = await rt.links.get(id);
    if (l.status !== 'ACTIVE') throw new Error(`${id}: ${l.status} ${JSON.stringify(l.error)}`);
  }
  return ids;
}

/**
 * Seeds `count` links as copies of the real ones (new ids, the same spec and outputs), with,
 * when `otherVpcs`, their `SOURCEVPC#…` index items under VPCs of their own (10 links each).
 */
async function seedFleet(rt: LocalRuntime, real: readonly string[], count: number, otherVpcs: boolean) {
  const db = rt.clients.dynamodb();
  const items: Record<string, unknown>[] = [];
  for (const id of real) {
    const got = await db.send(new GetCommand({ TableName: DEFAULT_TABLE_NAME, Key: keys.link(id) }));
    if (!got.Item) throw new Error(`no item for ${id}`);
    items.push(got.Item);
  }
  const vpcIndex = await db.send(
    new QueryCommand({
      TableName: DEFAULT_TABLE_NAME,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: {
        ':pk': membership.sourceVpc(
          SOURCE.accountId,
          SOURCE.region,
          (items[0] as any).outputs.resolved.source.vpcId,
        ),
      },
    }),
  );
  const member = vpcIndex.Items?.[0];
  if (!member) throw new Error('no SOURCEVPC membership item to copy');
  const puts: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const id = `lnk_fleet${String(i).padStart(8, '0')}`;
    const from = items[i % items.length] as Record<string, any>;
    const created = `2026-01-01T00:00:00.${String(i % 1000).padStart(3, '0')}Z`;
    puts.push({ ...from, ...keys.link(id), id, gsi1sk: `${created}#${id}`, createdAt: created });
    if (otherVpcs) {
      const vpcId = `vpc-f${String(Math.floor(i / AFFECTED)).padStart(16, '0')}`;
      puts.push({
        ...member,
        pk: membership.sourceVpc(SOURCE.accountId, SOURCE.region, vpcId),
        sk: membership.link(id),
        linkId: id,
      });
    }
  }
  for (let i = 0; i < puts.length; i += 25) {
    const batch = puts.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    let unprocessed: any = { [DEFAULT_TABLE_NAME]: batch };
    while (unprocessed && Object.keys(unprocessed).length) {
      const out = await db.send(new BatchWriteCommand({ RequestItems: unprocessed }));
      unprocessed = out.UnprocessedItems;
    }
  }
}

export interface NatChangeFigures {
  readonly fleet: number;
  readonly affected: number;
  readonly ms: number;
  readonly dynamo: OperationUnits;
  readonly byOperation: Record<string, OperationUnits>;
  readonly executions: number;
}

/** A NAT gateway of the demo VPC replaced, with `fleet` links in the table of which 10 are in that VPC. */
export async function measureNatChange(fleet: number): Promise<NatChangeFigures> {
  const rt = await startLocalRuntime({ retryIntervalMs: 1 });
  try {
    const real = await realLinks(rt);
    await seedFleet(rt, real, fleet - real.length, true);
    const meter = new DynamoMeter();
    meter.attach(rt.clients.dynamodb());
    const before = rt.stepFunctions.listExecutions({}).executions.length;
    const t0 = performance.now();
    const done = await replaceNatGateway(rt.sandbox, {
      accountId: SOURCE.accountId,
      region: SOURCE.region,
      publicIp: '18.0.38.139',
    });
    const newCidr = `${done.by.publicIp}/32`;
    for (;;) {
      await rt.eventBus.idle();
      await rt.stepFunctions.idle();
      const links = await Promise.all(real.map((id) => rt.links.get(id)));
      if (links.every((l) => l.status === 'ACTIVE' && l.outputs.egress?.cidrs.includes(newCidr))) break;
      if (performance.now() - t0 > 120_000) throw new Error('the NAT change was not reconciled in 120 s');
      await sleep(2);
    }
    const ms = performance.now() - t0;
    const byOperation = meter.snapshot();
    return {
      fleet,
      affected: real.length,
      ms,
      dynamo: DynamoMeter.total(byOperation),
      byOperation,
      executions: rt.stepFunctions.listExecutions({}).executions.length - before,
    };
  } finally {
    await rt.close();
  }
}

export function printNatChange(rows: readonly NatChangeFigures[]): void {
  console.log(
    `\nA NAT change affecting ${AFFECTED} links, found through the SOURCEVPC# index (replace a NAT gateway → CloudTrail → bus → reconcile)`,
  );
  console.table(
    rows.map((r) => ({
      'links in the table': r.fleet,
      'links affected': r.affected,
      'ms until all 10 hold the new IP': Math.round(r.ms),
      'DynamoDB items read': r.dynamo.items,
      'DynamoDB calls': r.dynamo.calls,
      RRU: +r.dynamo.rru.toFixed(1),
      WRU: +r.dynamo.wru.toFixed(1),
      'reconcile executions': r.executions,
      'Query items read': r.byOperation.Query?.items ?? 0,
    })),
  );
}

export interface SweepFigures {
  readonly fleet: number;
  /** The sweep that finds no drift. */
  readonly steady: {
    readonly report: SweepReport;
    readonly wallMs: number;
    readonly dynamo: OperationUnits;
    readonly awsReads: number;
    readonly awsWrites: number;
  };
  /** The first sweep, which writes every link's first verification (once in a link's life). */
  readonly first: { readonly dynamo: OperationUnits; readonly verificationsWritten: number };
  /** What one drifted link adds: its verification written, and its reconcile run. */
  readonly perDrifted: {
    readonly transitions: number;
    readonly taskInvocations: number;
    readonly taskMs: number;
    readonly dynamo: OperationUnits;
    readonly changed: unknown;
  };
}

/** The modelled billed ms of a sweep in AWS: the larger of the local wall time and the AWS reads at AWS latency, `concurrency` at once. */
const billedSweepMs = (s: SweepFigures['steady']) =>
  Math.max(s.wallMs, (s.awsReads * AWS_READ_MS) / CONCURRENCY + s.report.pages * 20);

export async function measureSweep(fleet: number): Promise<SweepFigures> {
  const rt = await startLocalRuntime({ retryIntervalMs: 1, cloudTrailEvents: false });
  try {
    // Ten links copied to make the fleet, and an eleventh of its own (kept-10) to drift alone.
    const real = await realLinks(rt, AFFECTED + 1);
    await seedFleet(rt, real.slice(0, AFFECTED), fleet - real.length, false);
    const meter = new DynamoMeter();
    meter.attach(rt.clients.dynamodb());

    const first = await rt.sweep({ concurrency: CONCURRENCY });
    const firstDynamo = DynamoMeter.total(meter.snapshot());
    if (first.drifted.length) throw new Error(`drift in a fresh fleet: ${JSON.stringify(first.drifted[0])}`);

    meter.reset();
    rt.sandbox.resetCalls();
    const t0 = performance.now();
    const report = await rt.sweep({ concurrency: CONCURRENCY });
    const wallMs = performance.now() - t0;
    const steady = {
      report,
      wallMs,
      dynamo: DynamoMeter.total(meter.snapshot()),
      awsReads: rt.sandbox.callCounts({ mutating: false }),
      awsWrites: rt.sandbox.callCounts({ mutating: true }),
    };
    if (report.drifted.length || report.reconciles.length || steady.awsWrites)
      throw new Error('a sweep with no drift changed something');

    // One drifted link: the link to kept-10 (no copies) loses a NAT IP from its target's publicAccessCidrs.
    const eks = new EKSClient({
      region: 'eu-west-1',
      credentials: rt.sandbox.rootCredentials('600000000010'),
    });
    eks.middlewareStack.use(sandboxPlugin(rt.sandbox, 'eks', eks.config as never) as never);
    const cidrs = (await eks.send(new DescribeClusterCommand({ name: 'kept-10' }))).cluster
      ?.resourcesVpcConfig?.publicAccessCidrs;
    const { update } = await eks.send(
      new UpdateClusterConfigCommand({
        name: 'kept-10',
        resourcesVpcConfig: { publicAccessCidrs: (cidrs ?? []).filter((c) => c !== '18.0.37.11/32') },
      }),
    );
    for (let i = 0; i < 3; i++)
      await eks.send(new DescribeUpdateCommand({ name: 'kept-10', updateId: update?.id }));
    eks.destroy();
    meter.reset();
    const drifted = await rt.sweep({ concurrency: CONCURRENCY });
    if (drifted.drifted.length !== 1 || drifted.reconciles.length !== 1)
      throw new Error(`expected one drifted link: ${JSON.stringify(drifted.drifted.map((d) => d.linkId))}`);
    const arn = drifted.reconciles[0]?.executionArn ?? '';
    await rt.stepFunctions.waitFor(arn);
    const usage = workflowUsage('reconcile', rt.stepFunctions.history(arn));
    const all = DynamoMeter.total(meter.snapshot());
    const link = await rt.links.get(drifted.drifted[0]?.linkId ?? '');
    if (link.status !== 'ACTIVE') throw new Error(`the drifted link ended ${link.status}`);
    return {
      fleet,
      steady,
      first: { dynamo: firstDynamo, verificationsWritten: first.verificationsWritten },
      perDrifted: {
        transitions: usage.transitions,
        taskInvocations: usage.taskInvocations,
        taskMs: Object.values(usage.taskMs)
          .flat()
          .reduce((a, b) => a + b, 0),
        // What the drifted sweep read and wrote beyond a steady one: the verification and the reconcile.
        dynamo: {
          calls: all.calls - steady.dynamo.calls,
          items: all.items - steady.dynamo.items,
          rru: Math.max(0, all.rru - steady.dynamo.rru),
          wru: all.wru - steady.dynamo.wru,
          conditionalFailures: all.conditionalFailures,
        },
        changed: link.steps.reconcile?.result?.changed,
      },
    };
  } finally {
    await rt.close();
  }
}

/** The monthly cost of the hourly sweep, with `driftedPerSweep` links repaired each hour. */
export function monthlySweepCost(f: SweepFigures, driftedPerSweep: number) {
  const gbs = (ms: number) => (ms / 1000) * (MEMORY_MB / 1024);
  const steady = {
    stepFunctions: 0,
    lambdaRequests: PRICES.lambdaPerRequest,
    lambdaDuration: gbs(billedSweepMs(f.steady)) * PRICES.lambdaArmPerGbSecond,
    dynamoDbReads: f.steady.dynamo.rru * PRICES.dynamoDbPerRru,
    dynamoDbWrites: f.steady.dynamo.wru * PRICES.dynamoDbPerWru,
    scheduler: SCHEDULER_PER_INVOCATION,
  };
  const d = f.perDrifted;
  const drift = {
    stepFunctions: d.transitions * PRICES.stepFunctionsPerTransition,
    lambdaRequests: d.taskInvocations * PRICES.lambdaPerRequest,
    lambdaDuration: gbs(d.taskMs) * PRICES.lambdaArmPerGbSecond,
    dynamoDbReads: d.dynamo.rru * PRICES.dynamoDbPerRru,
    dynamoDbWrites: d.dynamo.wru * PRICES.dynamoDbPerWru,
    scheduler: 0,
  };
  const keys = Object.keys(steady) as (keyof typeof steady)[];
  const month = Object.fromEntries(
    keys.map((k) => [k, SWEEPS_PER_MONTH * (steady[k] + driftedPerSweep * drift[k])]),
  ) as Record<keyof typeof steady, number>;
  const total = keys.reduce((a, k) => a + month[k], 0);
  return { steady, drift, month, total };
}

export function printSweep(f: SweepFigures): void {
  const s = f.steady;
  console.log(
    `\nThe hourly drift sweep over ${f.fleet.toLocaleString('en')} links (${PRICE_REGION} list prices of ${PRICES_CHECKED}; ` +
      `Lambda ${MEMORY_MB} MB arm64, ${CONCURRENCY} links at once; AWS reads modelled at ${AWS_READ_MS} ms each)`,
  );
  console.table([
    {
      sweep: 'no drift (steady state)',
      'links checked': s.report.checked,
      'Query pages': s.report.pages,
      'items read': s.dynamo.items,
      RRU: +s.dynamo.rru.toFixed(1),
      WRU: s.dynamo.wru,
      'verifications written': s.report.verificationsWritten,
      'AWS reads': s.awsReads,
      'AWS reads / link': +(s.awsReads / s.report.checked).toFixed(2),
      'AWS writes': s.awsWrites,
      'reconciles started': s.report.reconciles.length,
      'local wall ms': Math.round(s.wallMs),
      'billed ms (modelled)': Math.round(billedSweepMs(s)),
    },
  ]);
  console.log(
    `first sweep of a new fleet (once): ${f.first.verificationsWritten} verifications written, ${f.first.dynamo.wru} WRU ` +
      `(${usd(f.first.dynamo.wru * PRICES.dynamoDbPerWru)}). One drifted link adds: its reconcile ` +
      `(${f.perDrifted.transitions} transitions, ${f.perDrifted.taskInvocations} Lambda invocations, ${f.perDrifted.taskMs} billed ms), ` +
      `${f.perDrifted.dynamo.items} items read, ${f.perDrifted.dynamo.wru} WRU; it changed ${JSON.stringify(f.perDrifted.changed)}.`,
  );
  const rows = [0, 10, 100].map((n) => ({ n, c: monthlySweepCost(f, n) }));
  const labels: Record<string, string> = {
    stepFunctions: 'Step Functions (reconcile transitions)',
    lambdaRequests: 'Lambda requests',
    lambdaDuration: 'Lambda duration (GB-s)',
    dynamoDbReads: 'DynamoDB reads (RRU)',
    dynamoDbWrites: 'DynamoDB writes (WRU)',
    scheduler: 'EventBridge schedule (≤ $1/M)',
  };
  const base = monthlySweepCost(f, 0);
  console.table(
    Object.entries(labels).map(([k, label]) => ({
      service: label,
      'per sweep, no drift': usd((base.steady as any)[k]),
      'per drifted link': usd((base.drift as any)[k]),
      ...Object.fromEntries(rows.map((r) => [`month, ${r.n} drifted/h`, usd((r.c.month as any)[k])])),
    })),
  );
  console.log(
    `monthly total (${SWEEPS_PER_MONTH} sweeps): ${rows.map((r) => `${usd(r.c.total)} with ${r.n} drifted links an hour`).join('; ')} ` +
      `(bound: $10). Sensitivity: every +10 ms per AWS read adds ${usd(
        ((SWEEPS_PER_MONTH * s.awsReads * 10) / CONCURRENCY / 1000) *
          (MEMORY_MB / 1024) *
          PRICES.lambdaArmPerGbSecond,
      )} a month.`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printNatChange([await measureNatChange(1_000), await measureNatChange(10_000)]);
  printSweep(await measureSweep(Number(process.env.SWEEP_LINKS ?? 10_000)));
}
