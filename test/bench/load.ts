/**
 * Load on the local API (`npm run bench:load`; a shorter run is part of `npm run bench`):
 * LOAD_CLIENTS (default 200) concurrent clients, for LOAD_SECONDS (default 60), each
 * looping: POST /links (a workload of its own: namespace per client, service account per
 * iteration, so links never collide), GET /links/{id} every LOAD_POLL_MS until ACTIVE,
 * GET /links (one page), DELETE /links/{id}, GET until DELETED. All traffic goes to
 * 127.0.0.1. After the time is up no client starts a new iteration; the ones under way get
 * LOAD_DRAIN_SECONDS (default 120) to finish.
 *
 * Reported: requests/s, links completed (created → ACTIVE → DELETED) per second, p50/p99
 * latency per operation, 5xx (must be 0), and lost links: created ids that never reached
 * ACTIVE and then DELETED, and Tether-managed resources left in the sandbox (tagged
 * `tether:managed`) that no live link record accounts for.
 *
 * The clients run in the same Node process as the whole local runtime (API, Step
 * Functions interpreter, every Lambda handler, dynalite, the sandbox): one event loop, so
 * the figures are those of one core's worth of JavaScript, not of AWS.
 */
import '#local/polyfills';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DEMO_REQUEST } from '#local/demo';
import { type LocalRuntime, startLocalRuntime } from '#local/runtime';
import { summarize } from './stats';

export interface LoadOptions {
  readonly seconds?: number;
  readonly clients?: number;
  readonly pollMs?: number;
  readonly drainSeconds?: number;
  /** Target clusters the clients spread over (cluster-b plus added ones). @default 10 */
  readonly targets?: number;
  /** The runtime's retry wait (every ASL Retry) in ms. @default 50, the runtime's own (LOAD_RETRY_MS) */
  readonly retryIntervalMs?: number;
}

type Operation = 'POST /links' | 'GET /links/{id}' | 'GET /links' | 'DELETE /links/{id}';

export interface LoadReport {
  readonly clients: number;
  readonly seconds: number;
  readonly elapsedMs: number;
  readonly requests: number;
  readonly latency: Record<Operation, { count: number; p50: number; p99: number; max: number }>;
  readonly statuses: Record<string, number>;
  readonly serverErrors: number;
  readonly networkErrors: number;
  readonly created: number;
  readonly completed: number;
  readonly failed: number;
  readonly busy409: number;
  readonly offboardFailures: Record<string, number>;
  readonly retryIntervalMs: number;
  /** Executions, their state transitions, and ASL retries by workflow and state. */
  readonly executions: number;
  readonly transitions: number;
  readonly retries: Record<string, number>;
  readonly pollMs: number;
  readonly lost: readonly string[];
  readonly orphans: readonly string[];
  readonly msToActive: { count: number; p50: number; p99: number; max: number };
  readonly msToDeleted: { count: number; p50: number; p99: number; max: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every Tether-managed resource in the sandbox: path → owner tag. */
export function managedResources(state: unknown): Map<string, string> {
  const found = new Map<string, string>();
  const tagsOf = (tags: unknown): Record<string, string> => {
    if (Array.isArray(tags))
      return Object.fromEntries(tags.map((t: any) => [String(t?.Key), String(t?.Value)]));
    if (tags && typeof tags === 'object') return tags as Record<string, string>;
    return {};
  };
  const walk = (node: unknown, path: string) => {
    if (!node || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    for (const key of ['tags', 'Tags']) {
      const t = tagsOf(obj[key]);
      if (t['tether:managed'] === 'true') found.set(path, t['tether:owner'] ?? '');
    }
    for (const [k, v] of Object.entries(obj)) if (k !== 'tags' && k !== 'Tags') walk(v, `${path}/${k}`);
  };
  walk(state, '');
  return found;
}

function addTargets(rt: LocalRuntime, n: number) {
  const targets = [{ ...DEMO_REQUEST.targets[0] }];
  for (let i = 1; i < n; i++) {
    const accountId = String(600000000000 + i);
    rt.sandbox.addAccount(accountId);
    const name = `load-${i}`;
    rt.sandbox.addEksCluster({
      accountId,
      region: 'ap-southeast-1',
      name,
      authenticationMode: i % 2 ? 'API' : 'API_AND_CONFIG_MAP',
    });
    targets.push({ ...DEMO_REQUEST.targets[0], accountId, cluster: name } as any);
  }
  return targets;
}

export async function runLoad(options: LoadOptions = {}): Promise<LoadReport> {
  const seconds = options.seconds ?? Number(process.env.LOAD_SECONDS ?? 60);
  const clients = options.clients ?? Number(process.env.LOAD_CLIENTS ?? 200);
  const pollMs = options.pollMs ?? Number(process.env.LOAD_POLL_MS ?? 250);
  const deleteRetries = Number(process.env.LOAD_DELETE_RETRIES ?? 3);
  const retryIntervalMs = options.retryIntervalMs ?? Number(process.env.LOAD_RETRY_MS ?? 50);
  const drainMs = 1000 * (options.drainSeconds ?? Number(process.env.LOAD_DRAIN_SECONDS ?? 120));
  const rt = await startLocalRuntime({ host: '127.0.0.1', retryIntervalMs });
  const targets = addTargets(rt, options.targets ?? 10);
  const baseline = managedResources(rt.sandbox.state());
  const latencies: Record<Operation, number[]> = {
    'POST /links': [],
    'GET /links/{id}': [],
    'GET /links': [],
    'DELETE /links/{id}': [],
  };
  const statuses: Record<string, number> = {};
  const toActive: number[] = [];
  const toDeleted: number[] = [];
  const created = new Map<string, 'created' | 'active' | 'failed' | 'deleted'>();
  let serverErrors = 0;
  let networkErrors = 0;
  let busy409 = 0;
  let onboardFailed = 0;
  /** Offboards that ended with the link FAILED, by step and code; the client DELETEs again. */
  const offboardFailures: Record<string, number> = {};
  let completed = 0;
  const t0 = performance.now();
  const stopAt = t0 + seconds * 1000;
  const giveUpAt = stopAt + drainMs;

  async function call(op: Operation, path: string, method: string, body?: unknown) {
    const start = performance.now();
    try {
      const res = await fetch(`${rt.url}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      const json = (await res.json().catch(() => undefined)) as any;
      latencies[op].push(performance.now() - start);
      const key = `${op} ${res.status}`;
      statuses[key] = (statuses[key] ?? 0) + 1;
      if (res.status >= 500) {
        serverErrors++;
        console.error(`!!! 5xx: ${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
      }
      return { status: res.status, body: json };
    } catch (err) {
      networkErrors++;
      console.error(`!!! network error: ${method} ${path}: ${(err as Error).message}`);
      return { status: 0, body: undefined };
    }
  }

  async function until(id: string, accept: (s: string) => boolean): Promise<string | undefined> {
    while (performance.now() < giveUpAt) {
      await sleep(pollMs);
      const got = await call('GET /links/{id}', `/links/${id}`, 'GET');
      const status = got.body?.status;
      if (got.status === 200 && accept(status)) return status;
    }
    return undefined;
  }

  async function client(c: number) {
    const target = targets[c % targets.length]!;
    for (let k = 0; performance.now() < stopAt; k++) {
      const body = {
        source: { ...DEMO_REQUEST.source, namespace: `load-${c}`, serviceAccount: `sa-${k}` },
        targets: [target],
      };
      const begin = performance.now();
      const posted = await call('POST /links', '/links', 'POST', body);
      const id: string | undefined = posted.body?.links?.[0]?.id;
      if (posted.status !== 202 || !id) {
        await sleep(pollMs);
        continue;
      }
      created.set(id, 'created');
      const made = await until(id, (s) => s === 'ACTIVE' || s === 'FAILED');
      if (!made) return;
      created.set(id, made === 'ACTIVE' ? 'active' : 'failed');
      if (made === 'ACTIVE') toActive.push(performance.now() - begin);
      else onboardFailed++;
      await call('GET /links', '/links?limit=10', 'GET');
      const deleteStart = performance.now();
      let gone: string | undefined;
      for (let attempt = 0; attempt <= deleteRetries; attempt++) {
        for (;;) {
          const del = await call('DELETE /links/{id}', `/links/${id}`, 'DELETE');
          if (del.status === 202) break;
          if (del.status === 409) busy409++;
          if (performance.now() > giveUpAt) return;
          await sleep(pollMs);
        }
        gone = await until(id, (s) => s === 'DELETED' || s === 'FAILED');
        if (gone !== 'FAILED') break;
        const link = await rt.links.get(id).catch(() => undefined);
        const code = `${link?.error?.step ?? '?'}: ${link?.error?.code ?? '?'}`;
        offboardFailures[code] = (offboardFailures[code] ?? 0) + 1;
      }
      if (gone !== 'DELETED') return;
      toDeleted.push(performance.now() - deleteStart);
      if (created.get(id) === 'active') completed++;
      created.set(id, 'deleted');
    }
  }

  try {
    await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
    const elapsedMs = performance.now() - t0;
    await rt.stepFunctions.idle();
    const lost: string[] = [];
    for (const [id, s] of created) {
      if (s === 'deleted') continue;
      const link = await rt.links.get(id).catch(() => undefined);
      const ex = link?.lastExecution ? rt.stepFunctions.execution(link.lastExecution.arn) : undefined;
      lost.push(
        `${id} (client saw ${s}; record ${link?.status ?? 'missing'}; ${ex?.workflow ?? '-'} ${ex?.status ?? '-'}` +
          `${ex?.error ? ` ${ex.error}: ${ex.cause?.slice(0, 200)}` : ''}` +
          `${link?.error ? `; error ${JSON.stringify(link.error).slice(0, 300)}` : ''})`,
      );
    }
    const orphans: string[] = [];
    for (const [path, owner] of managedResources(rt.sandbox.state())) {
      if (baseline.has(path)) continue;
      let record = 'no record';
      if (owner.startsWith('lnk_')) {
        const link = await rt.links.get(owner).catch(() => undefined);
        if (link && link.status !== 'DELETED') continue; // a live link owns it
        record = link ? `link ${link.status}` : 'no link record';
      } else if ([...created.values()].some((s) => s !== 'deleted')) {
        continue; // a shared resource while some link still lives
      }
      orphans.push(`${path} owner=${owner} (${record})`);
    }
    const retries: Record<string, number> = {};
    let executions = 0;
    let transitions = 0;
    for (const e of rt.stepFunctions.listExecutions({}).executions) {
      executions++;
      for (const ev of rt.stepFunctions.history(e.executionArn)) {
        if (ev.type === 'StateEntered') transitions++;
        if (ev.type !== 'StateRetried') continue;
        transitions++;
        const key = `${e.executionArn.includes(':tether-offboard:') ? 'offboard' : 'onboard'}: ${ev.state}`;
        retries[key] = (retries[key] ?? 0) + 1;
      }
    }
    const failed = onboardFailed;
    return {
      clients,
      seconds,
      elapsedMs,
      requests: Object.values(latencies).reduce((a, l) => a + l.length, 0),
      latency: Object.fromEntries(Object.entries(latencies).map(([op, l]) => [op, summarize(l)])) as any,
      statuses,
      serverErrors,
      networkErrors,
      created: created.size,
      completed,
      failed,
      busy409,
      offboardFailures,
      retryIntervalMs,
      executions,
      transitions,
      retries,
      pollMs,
      lost,
      orphans,
      msToActive: summarize(toActive),
      msToDeleted: summarize(toDeleted),
    };
  } finally {
    await rt.close();
  }
}

export function printLoad(r: LoadReport): void {
  const s = r.elapsedMs / 1000;
  console.log(
    `\nLoad: ${r.clients} concurrent clients for ${r.seconds} s (+ drain), one Node ${process.version} process, ` +
      `${availableParallelism()} cores; clients poll every ${r.pollMs} ms; ASL retry waits ${r.retryIntervalMs} ms; ` +
      `elapsed ${s.toFixed(1)} s`,
  );
  console.table(
    Object.entries(r.latency).map(([op, l]) => ({
      operation: op,
      requests: l.count,
      'p50 ms': Math.round(l.p50),
      'p99 ms': Math.round(l.p99),
      'max ms': Math.round(l.max),
    })),
  );
  console.log(
    `throughput ${(r.requests / s).toFixed(1)} requests/s, ${(r.completed / s).toFixed(2)} links completed/s ` +
      `(${r.completed} created → ACTIVE → DELETED of ${r.created} created; ${r.failed} onboards ended FAILED; ` +
      `${r.busy409} DELETE answered 409)`,
  );
  console.log(
    `POST → ACTIVE p50 ${Math.round(r.msToActive.p50)} ms, p99 ${Math.round(r.msToActive.p99)} ms; ` +
      `DELETE → DELETED p50 ${Math.round(r.msToDeleted.p50)} ms, p99 ${Math.round(r.msToDeleted.p99)} ms`,
  );
  console.log(`statuses: ${JSON.stringify(r.statuses)}`);
  console.log(
    `${r.executions} executions, ${r.transitions} state transitions ` +
      `(${(r.transitions / Math.max(1, r.completed)).toFixed(1)} per completed link); ASL retries: ${JSON.stringify(r.retries)}`,
  );
  const banner = (msg: string) => console.log(`\n${'!'.repeat(72)}\n!!! ${msg}\n${'!'.repeat(72)}`);
  if (r.serverErrors) banner(`${r.serverErrors} responses were 5xx`);
  else console.log('5xx responses: 0');
  const offFailed = Object.values(r.offboardFailures).reduce((a, b) => a + b, 0);
  if (offFailed)
    banner(
      `${offFailed} offboards ended with the link FAILED (the client sent DELETE again): ${JSON.stringify(r.offboardFailures)}`,
    );
  if (r.networkErrors) banner(`${r.networkErrors} requests failed without a response`);
  if (r.lost.length) banner(`${r.lost.length} lost links: ${r.lost.slice(0, 10).join(', ')}`);
  else console.log('lost links: 0 (every created link reached ACTIVE, then DELETED)');
  if (r.orphans.length)
    banner(`${r.orphans.length} managed resources without a live link: ${r.orphans.slice(0, 10).join('; ')}`);
  else console.log('managed resources left in the sandbox without a live link record: 0');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const report = await runLoad();
  printLoad(report);
  if (report.serverErrors || report.networkErrors || report.lost.length || report.orphans.length)
    process.exitCode = 1;
}
