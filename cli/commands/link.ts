/**
 * `tether link …`: create (with a live view of the workflow), list, get, wait, delete,
 * reconcile, kubeconfig (stdout or merged into a kubeconfig file), runs and verify.
 */
import { Command, Option } from 'commander';
import { LINK_STATUSES } from '#link/model';
import { type Context, contextOf, outputOption, parsePositiveInt, timeoutOption } from '../context';
import { CliError, EXIT, UsageError } from '../exit-codes';
import { defaultKubeconfigPath, mergeKubeconfig, readKubeconfig, writeKubeconfig } from '../kubeconfig';
import { formatData, type Io, type OutputFormat, styleFor, writeLine } from '../output';
import { displayFor } from '../progress';
import { linkDetails, linkTable, runsText, stepsTable, verifyText } from '../render';
import { buildRequest } from '../request';
import { formatDuration, type Workflow } from '../steps';
import { endedWell, type WatchTarget, watchLinks } from '../watch';
import { addRequestOptions, requestFlagsOf } from './request-options';

const LINK_ID = /^lnk_[0-9A-HJKMNP-TV-Z]{26}$/;

/** A link id argument; a malformed one is refused before anything is sent. */
function linkPath(id: string, suffix = ''): string {
  if (!LINK_ID.test(id)) {
    throw new UsageError(`"${id}" is not a link id (lnk_ followed by 26 characters, as link list shows)`);
  }
  return `/links/${id}${suffix}`;
}

function print(io: Io, format: OutputFormat, data: unknown, human: () => string): void {
  if (format === 'table') writeLine(io.out, human());
  else io.out.write(formatData(format, data));
}

/**
 * How a wait ended badly, if it did: exit 3 with the failed (or rejected) links' codes, else
 * exit 6 when links wait for an approver.
 */
function failureOf(links: readonly any[], workflow: Workflow): CliError | undefined {
  const bad = links.filter((l) => !endedWell(l, workflow) && l.status !== 'AWAITING_APPROVAL');
  if (!bad.length) return awaitingOf(links);
  const lines = bad.map((l) => {
    const e = l.error;
    const code = e?.code ?? `LINK_${l.status}`;
    const where = e?.step ? ` at step ${e.step}` : '';
    return `error ${code}: link ${l.id} is ${l.status}${where}${e?.message ? `: ${e.message}` : ''}`;
  });
  return new CliError(lines.join('\n'), EXIT.LINK_FAILED);
}

/** Follows links through a run, drawing the steps on stdout (or stderr when stdout carries JSON/YAML). */
async function follow(
  ctx: Context,
  format: OutputFormat,
  targets: readonly WatchTarget[],
  workflow: Workflow,
  timeoutMs: number,
): Promise<any[]> {
  const stream = format === 'table' ? ctx.io.out : ctx.io.err;
  const display = displayFor(stream, ctx.io.env, !ctx.globals.color);
  const restore = () => {
    display.stop();
    process.exit(130);
  };
  process.once('SIGINT', restore);
  try {
    return await watchLinks(targets, {
      client: ctx.client(),
      workflow,
      display,
      timeoutMs,
      pollMs: ctx.globals.pollInterval,
    });
  } finally {
    process.off('SIGINT', restore);
  }
}

/**
 * Follows one link through a run to its end, prints how it ended (the link as data, or a
 * line), and throws the exit it ended with: the tail of wait, delete, reconcile and approve.
 */
async function followOne(
  ctx: Context,
  format: OutputFormat,
  target: WatchTarget,
  workflow: Workflow,
  timeoutMs: number,
  started: number,
): Promise<void> {
  const [done] = await follow(ctx, format, [target], workflow, timeoutMs);
  print(ctx.io, format, done, () => settledLines([done], Date.now() - started));
  const failure = failureOf([done], workflow);
  if (failure) throw failure;
}

/** Exit 6 when links wait for an approver: nothing is made for them until one decides. */
function awaitingOf(links: readonly any[]): CliError | undefined {
  const waiting = links.filter((l) => l.status === 'AWAITING_APPROVAL');
  if (!waiting.length) return undefined;
  return new CliError(
    waiting
      .map(
        (l) =>
          `error AWAITING_APPROVAL: link ${l.id} waits for an approver; nothing is made until one runs: tether link approve ${l.id} --reason "…"`,
      )
      .join('\n'),
    EXIT.AWAITING_APPROVAL,
  );
}

/** What an approver does about a waiting link, as a line under it. */
function approvalHint(id: string): string {
  return `  waits for an approver: the policies let this request through only once approved; an approver (not the requester) runs tether link approve ${id} --reason "…" (or reject)`;
}

function settledLines(links: readonly any[], elapsedMs: number): string {
  return links
    .map((l) =>
      l.status === 'AWAITING_APPROVAL'
        ? `Link ${l.id}: AWAITING_APPROVAL\n${approvalHint(l.id)}`
        : `Link ${l.id}: ${l.status} in ${formatDuration(elapsedMs)}`,
    )
    .concat(
      links
        .filter((l) => l.status === 'ACTIVE')
        .map((l) => `  kubeconfig: tether link kubeconfig ${l.id} --merge`),
    )
    .join('\n');
}

export function linkCommand(io: Io): Command {
  const link = new Command('link').description('create, inspect and remove links');
  const style = (ctx: Context) => styleFor(io.out, io.env, !ctx.globals.color);

  // ---- create ---------------------------------------------------------------------------
  const create = new Command('create')
    .description('request links: one workload → 1–20 target clusters (POST /links)')
    .option('--idempotency-key <key>', 'makes a retry of the same request safe')
    .option('-w, --wait', 'follow the workflow until every link is ACTIVE or FAILED')
    .addOption(timeoutOption())
    .addOption(outputOption());
  addRequestOptions(create).action(async (opts, self: Command) => {
    const ctx = contextOf(io, self);
    const started = Date.now();
    const body = await buildRequest(requestFlagsOf(opts), io.stdin);
    const res = await ctx.client().send('POST', '/links', {
      body,
      headers: { 'idempotency-key': opts.idempotencyKey },
    });
    const accepted = res.body;
    const format: OutputFormat = opts.output;
    if (format === 'table') {
      const s = style(ctx);
      const what =
        res.status === 202 ? `Request ${accepted.requestId} accepted (202)` : 'Every link exists (200)';
      writeLine(io.out, `${what}: ${accepted.links.length} link${accepted.links.length === 1 ? '' : 's'}`);
      for (const l of accepted.links) {
        const how = l.created ? 'new' : l.redriven ? 're-driven' : 'exists';
        writeLine(
          io.out,
          `  ${s.bold(l.id)}  ${l.status}  → ${l.target.cluster} (${l.target.accountId}, ${l.target.region})  ${s.dim(how)}`,
        );
        if (l.status === 'AWAITING_APPROVAL') writeLine(io.out, s.warn(approvalHint(l.id)));
      }
    }
    const waiting = accepted.links.filter((l: any) => l.status === 'AWAITING_APPROVAL');
    const driven = accepted.links.filter((l: any) => l.status !== 'AWAITING_APPROVAL');
    if (!opts.wait) {
      if (format === 'table') {
        const ids = driven.map((l: any) => l.id);
        if (ids.length)
          writeLine(io.out, `Follow: tether link wait ${ids[0]}${ids.length > 1 ? ' (and the others)' : ''}`);
      } else io.out.write(formatData(format, accepted));
      return;
    }
    // A link that waits for an approver has no run to follow: the wait stops there (exit 6).
    const targets: WatchTarget[] = driven.map((l: any) => ({
      id: l.id,
      // The run this request started or joined (onboard-<id>-v<version>), when it drove one.
      ...(l.execution ? { executionName: l.execution } : {}),
    }));
    const followed = targets.length ? await follow(ctx, format, targets, 'onboard', opts.timeout) : [];
    const links = [...followed, ...waiting];
    print(io, format, { requestId: accepted.requestId, links }, () =>
      settledLines(followed, Date.now() - started),
    );
    const failure = failureOf(links, 'onboard');
    if (failure) throw failure;
  });
  link.addCommand(create);

  // ---- list -----------------------------------------------------------------------------
  link
    .command('list')
    .alias('ls')
    .description('list links, newest first (GET /links)')
    .addOption(new Option('--status <status>', 'only links in this status').choices(LINK_STATUSES))
    .option('--request-id <id>', 'only the links of one onboarding request')
    .option('--source-account <id>', 'only links from this account')
    .option('--source-cluster <name>', 'only links from this cluster')
    .option('--namespace <ns>', 'only links of workloads in this namespace')
    .option('--service-account <name>', 'only links of this service account')
    .option('--target-account <id>', 'only links to this account')
    .option('--target-cluster <name>', 'only links to this cluster')
    .option('--limit <n>', 'page size (1–100)', parsePositiveInt)
    .option('--cursor <cursor>', 'the next page (nextCursor of the previous one)')
    .option('--all', 'follow nextCursor to the last page')
    .addOption(outputOption())
    .action(async (opts, self: Command) => {
      const ctx = contextOf(io, self);
      const query: Record<string, string | undefined> = {
        status: opts.status,
        requestId: opts.requestId,
        sourceAccountId: opts.sourceAccount,
        sourceCluster: opts.sourceCluster,
        namespace: opts.namespace,
        serviceAccount: opts.serviceAccount,
        targetAccountId: opts.targetAccount,
        targetCluster: opts.targetCluster,
        limit: opts.limit === undefined ? undefined : String(opts.limit),
        cursor: opts.cursor,
      };
      const items: any[] = [];
      let next: string | undefined;
      for (;;) {
        const page = (await ctx.client().get('/links', query)).body;
        items.push(...(page.items ?? []));
        next = page.nextCursor;
        if (!opts.all || !next) break;
        query.cursor = next;
      }
      const format: OutputFormat = opts.output;
      if (format !== 'table') {
        io.out.write(formatData(format, { items, ...(next ? { nextCursor: next } : {}) }));
        return;
      }
      if (!items.length) writeLine(io.err, 'No links found.');
      else writeLine(io.out, linkTable(items, style(ctx)));
      if (next) writeLine(io.err, `More links: tether link list --cursor ${next}  (or --all)`);
    });

  // ---- get ------------------------------------------------------------------------------
  link
    .command('get')
    .description('show one link: spec, status, outputs and the result of every step (GET /links/{id})')
    .argument('<id>', 'the link id')
    .addOption(outputOption())
    .action(async (id: string, opts, self: Command) => {
      const ctx = contextOf(io, self);
      const body = (await ctx.client().get(linkPath(id))).body;
      print(io, opts.output, body, () => linkDetails(body, style(ctx)));
    });

  // ---- wait -----------------------------------------------------------------------------
  link
    .command('wait')
    .description(
      'follow a link until its workflow ends (exit 0 ACTIVE or DELETED, 3 FAILED, DEGRADED or REJECTED, 6 AWAITING_APPROVAL)',
    )
    .argument('<id>', 'the link id')
    .addOption(timeoutOption())
    .addOption(outputOption())
    .action(async (id: string, opts, self: Command) => {
      const ctx = contextOf(io, self);
      const started = Date.now();
      const current = (await ctx.client().get(linkPath(id))).body;
      const workflow: Workflow =
        current.status === 'DELETING' ||
        current.status === 'DELETED' ||
        current.lastExecution?.workflow === 'offboard'
          ? 'offboard'
          : 'onboard';
      await followOne(ctx, opts.output, { id }, workflow, opts.timeout, started);
    });

  // ---- delete ---------------------------------------------------------------------------
  link
    .command('delete')
    .alias('rm')
    .description('remove a link and exactly what it made (DELETE /links/{id})')
    .argument('<id>', 'the link id')
    .option('-w, --wait', 'follow the offboard workflow until the link is DELETED')
    .addOption(timeoutOption())
    .addOption(outputOption())
    .action(async (id: string, opts, self: Command) => {
      const ctx = contextOf(io, self);
      const started = Date.now();
      const path = linkPath(id);
      const before = opts.wait ? (await ctx.client().get(path)).body : undefined;
      const res = (await ctx.client().send('DELETE', path)).body;
      if (!opts.wait) {
        print(io, opts.output, res, () => `Link ${res.id} is ${res.status}: the offboard workflow started.`);
        return;
      }
      if (opts.output === 'table')
        writeLine(io.out, `Link ${res.id} is ${res.status}: removing what it made…`);
      const target = { id, runsBefore: before?.runs?.length ?? 0 };
      await followOne(ctx, opts.output, target, 'offboard', opts.timeout, started);
    });

  // ---- reconcile ------------------------------------------------------------------------
  link
    .command('reconcile')
    .description('compare the link with what is in the accounts and apply the difference')
    .argument('<id>', 'the link id')
    .option('-w, --wait', 'follow the workflow until the link is ACTIVE or FAILED')
    .addOption(timeoutOption())
    .addOption(outputOption())
    .action(async (id: string, opts, self: Command) => {
      const ctx = contextOf(io, self);
      const started = Date.now();
      const path = linkPath(id);
      const before = opts.wait ? (await ctx.client().get(path)).body : undefined;
      const res = (await ctx.client().send('POST', `${path}/reconcile`)).body;
      if (!opts.wait) {
        print(io, opts.output, res, () => `Link ${res.id}: reconcile started (${res.execution ?? 'run'}).`);
        return;
      }
      if (opts.output === 'table')
        writeLine(io.out, `Link ${res.id}: reconciling (${res.execution ?? 'run'})…`);
      const target: WatchTarget = res.execution
        ? { id, executionName: res.execution }
        : { id, runsBefore: before?.runs?.length ?? 0 };
      await followOne(ctx, opts.output, target, 'onboard', opts.timeout, started);
    });

  // ---- kubeconfig -----------------------------------------------------------------------
  link
    .command('kubeconfig')
    .description(
      'the kubeconfig of an ACTIVE link: to stdout, or merged into a kubeconfig file as aws eks update-kubeconfig does',
    )
    .argument('<id>', 'the link id')
    .option('--merge', 'merge into the kubeconfig file (default: first of $KUBECONFIG, else ~/.kube/config)')
    .option('--kubeconfig <path>', 'merge into this file (implies --merge)')
    .option(
      '--alias <name>',
      "name of the context in the file (default: the target cluster's ARN, as aws eks update-kubeconfig names it)",
    )
    .option('--set-context', 'make it the current context')
    .action(async (id: string, opts, self: Command) => {
      const ctx = contextOf(io, self);
      const merge = opts.merge || opts.kubeconfig !== undefined;
      if (!merge && (opts.alias || opts.setContext)) {
        throw new UsageError('--alias and --set-context go with --merge or --kubeconfig PATH');
      }
      const text: string = (await ctx.client().get(linkPath(id, '/kubeconfig'))).text;
      if (!merge) {
        io.out.write(text.endsWith('\n') ? text : `${text}\n`);
        return;
      }
      const path: string = opts.kubeconfig ?? defaultKubeconfigPath(io.env);
      const existing = await readKubeconfig(path);
      const merged = mergeKubeconfig(existing, text, {
        ...(opts.alias ? { alias: opts.alias } : {}),
        setContext: !!opts.setContext,
      });
      await writeKubeconfig(path, merged.text);
      writeLine(
        io.out,
        merged.added
          ? `Added new context ${merged.context} to ${path}`
          : `Updated context ${merged.context} in ${path}`,
      );
      if (merged.currentContext === merged.context) writeLine(io.out, `Current context: ${merged.context}`);
    });

  // ---- approve / reject -----------------------------------------------------------------
  for (const decision of ['approve', 'reject'] as const) {
    const cmd = new Command(decision)
      .description(
        decision === 'approve'
          ? 'approve a link that waits for an approver: it is queued and its onboard starts (POST /links/{id}/approval)'
          : 'reject a link that waits for an approver: it ends REJECTED, nothing is made (POST /links/{id}/approval)',
      )
      .argument('<id>', 'the link id')
      .requiredOption('--reason <text>', 'why (recorded on the link with who decided)');
    if (decision === 'approve') {
      cmd
        .option('-w, --wait', 'follow the onboard workflow until the link is ACTIVE or FAILED')
        .addOption(timeoutOption());
    }
    cmd.addOption(outputOption()).action(async (id: string, opts, self: Command) => {
      const ctx = contextOf(io, self);
      const started = Date.now();
      if (!String(opts.reason).trim()) throw new UsageError('--reason must say why');
      const res = (
        await ctx
          .client()
          .send('POST', linkPath(id, '/approval'), { body: { decision, reason: opts.reason } })
      ).body;
      if (!opts.wait) {
        print(io, opts.output, res, () =>
          decision === 'approve'
            ? `Link ${res.id} approved: ${res.status}, onboard ${res.execution ?? 'queued'}.\nFollow: tether link wait ${res.id}`
            : `Link ${res.id} rejected: ${res.status}. Nothing was made.`,
        );
        return;
      }
      if (opts.output === 'table')
        writeLine(io.out, `Link ${res.id} approved: ${res.status}, onboard ${res.execution ?? 'queued'}…`);
      const target: WatchTarget = res.execution ? { id, executionName: res.execution } : { id };
      await followOne(ctx, opts.output, target, 'onboard', opts.timeout, started);
    });
    link.addCommand(cmd);
  }

  // ---- runs -----------------------------------------------------------------------------
  link
    .command('runs')
    .description(
      'the execution history of a link: its runs and the result of each step (status, attempts, errors)',
    )
    .argument('<id>', 'the link id')
    .addOption(outputOption())
    .action(async (id: string, opts, self: Command) => {
      const ctx = contextOf(io, self);
      const [runs, body] = await Promise.all([
        ctx.client().get(linkPath(id, '/runs')),
        ctx.client().get(linkPath(id)),
      ]);
      const items: any[] = runs.body.items ?? [];
      const data = {
        id: body.body.id,
        status: body.body.status,
        runs: items,
        steps: body.body.steps ?? {},
        ...(body.body.error ? { error: body.body.error } : {}),
      };
      print(io, opts.output, data, () => {
        const s = style(ctx);
        const lines = [`Link ${data.id} (${data.status})`, '', 'Runs:', runsText(items, s)];
        lines.push('', 'Steps (latest result of each, from the link record):', stepsTable(data.steps, s));
        if (data.error) {
          lines.push(
            '',
            s.fail(
              `Error: ${data.error.code}${data.error.step ? ` at ${data.error.step}` : ''}: ${data.error.message}`,
            ),
          );
        }
        return lines.join('\n');
      });
    });

  // ---- verify ---------------------------------------------------------------------------
  link
    .command('verify')
    .description(
      'prove the link works now: read back the policies and rules in place and evaluate the chain hop by hop, stored on the link (POST /links/{id}/verify); exit 3 if a hop does not hold',
    )
    .argument('<id>', 'the link id')
    .option(
      '--recorded',
      "show the last recorded result (the last verify, else the onboard's Verify role chain step) without reading the accounts",
    )
    .addOption(outputOption())
    .action(async (id: string, opts, self: Command) => {
      const ctx = contextOf(io, self);
      let body: any;
      if (opts.recorded) {
        body = (await ctx.client().get(linkPath(id))).body;
      } else {
        const verified = (await ctx.client().send('POST', linkPath(id, '/verify'))).body;
        const link = (await ctx.client().get(linkPath(id))).body;
        body = { ...link, verification: verified.verification };
      }
      const { text, ok } = verifyText(body, style(ctx));
      print(
        io,
        opts.output,
        {
          id: body.id,
          status: body.status,
          ...(body.verification ? { verification: body.verification } : {}),
          verify: body.steps?.verify ?? null,
        },
        () => text,
      );
      if (!ok) {
        const broken = (body.verification?.hops ?? body.steps?.verify?.result?.hops ?? []).filter(
          (h: any) => h.ok === false,
        );
        throw new CliError(
          body.verification || body.steps?.verify
            ? `error VERIFICATION_FAILED: the chain of link ${body.id} does not hold${
                broken.length ? ` at ${broken.map((h: any) => h.hop).join(', ')}` : ''
              }`
            : `error NOT_VERIFIED: link ${body.id} (${body.status}) has no verify result yet`,
          EXIT.LINK_FAILED,
        );
      }
    });

  return link;
}
