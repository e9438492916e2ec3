/** The human forms of the API's answers: link tables, one link, runs and steps, verify hops, a plan. */
import { age, fields, paintStatus, shortTime, type Style, table } from './output';
import {
  formatDuration,
  orderedStepKeys,
  type StepRecord,
  stepDurationMs,
  stepLabel,
  summarizeResult,
} from './steps';

const POLICY_PREFIX = /^arn:aws[a-z-]*:eks::aws:cluster-access-policy\//;

export function accessText(access: any): string {
  if (!access) return '';
  if (Array.isArray(access.groups)) return `groups ${access.groups.join(',')}`;
  const policy = String(access.policyArn ?? '').replace(POLICY_PREFIX, '');
  const scope =
    access.scope?.type === 'namespace'
      ? `namespaces ${(access.scope.namespaces ?? []).join(',')}`
      : 'cluster';
  return `${policy} (${scope})`;
}

export function sourceText(source: any): string {
  if (!source) return '';
  return `${source.cluster}/${source.namespace}/${source.serviceAccount}`;
}

export function targetText(target: any): string {
  if (!target) return '';
  return `${target.accountId}/${target.cluster}`;
}

export function networkText(network: any, egress?: any): string {
  if (!network) return '';
  if (network.mode === 'cidrs') return `cidrs ${(network.cidrs ?? []).join(', ')}`;
  if (network.mode === 'nat' && Array.isArray(egress?.cidrs) && egress.cidrs.length) {
    return `nat: tcp/443 from ${egress.cidrs.join(', ')} on ${egress.securityGroupId ?? '?'}`;
  }
  return network.mode;
}

export function linkTable(items: readonly any[], style: Style, now = Date.now()): string {
  return table(
    ['ID', 'STATUS', 'SOURCE', 'TARGET', 'ACCESS', 'AGE'],
    items.map((l) => [
      l.id,
      paintStatus(style, l.status),
      sourceText(l.spec?.source),
      targetText(l.spec?.target),
      accessText(l.spec?.access),
      age(l.createdAt, now),
    ]),
  );
}

/** The steps a link records, one row each: status, attempts, when, how long, what it did or why it failed. */
export function stepsTable(steps: Record<string, StepRecord> | undefined, style: Style): string {
  const keys = orderedStepKeys(steps ?? {});
  if (!keys.length) return style.dim('(no step has run)');
  return table(
    ['STEP', 'STATUS', 'ATTEMPTS', 'STARTED', 'DURATION', 'RESULT'],
    keys.map((k) => {
      const s = steps![k]!;
      const detail =
        s.status === 'FAILED' && s.error
          ? style.fail(`${s.error.code}: ${s.error.message}`)
          : summarizeResult(k, s.result);
      return [
        stepLabel(k),
        paintStatus(style, s.status),
        String(s.attempts ?? ''),
        shortTime(s.startedAt),
        formatDuration(stepDurationMs(s)),
        detail,
      ];
    }),
  );
}

export function linkDetails(link: any, style: Style): string {
  const spec = link.spec ?? {};
  const s = spec.source ?? {};
  const t = spec.target ?? {};
  const o = link.outputs ?? {};
  const annotation = o.serviceAccountAnnotation
    ? Object.entries(o.serviceAccountAnnotation)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')
    : undefined;
  const head = fields([
    ['ID', link.id],
    ['Status', paintStatus(style, link.status)],
    ['Request', link.requestId],
    ['Source', `${s.namespace}/${s.serviceAccount} in ${s.cluster} (${s.accountId}, ${s.region})`],
    ['Target', `${t.cluster} (${t.accountId}, ${t.region})`],
    ['Access', accessText(spec.access) + (spec.access?.username ? `, username ${spec.access.username}` : '')],
    ['Network', networkText(spec.network, o.egress)],
    ['Identity', spec.identity?.mode],
    ['Workload role', o.workloadRoleArn],
    ['Annotation', annotation],
    ['Target role', o.targetRoleArn],
    ['Created', shortTime(link.createdAt)],
    ['Updated', shortTime(link.updatedAt)],
    [
      'Last run',
      link.lastExecution ? `${link.lastExecution.name} (${link.lastExecution.workflow})` : undefined,
    ],
    [
      'Error',
      link.error
        ? style.fail(
            `${link.error.code}${link.error.step ? ` at ${link.error.step}` : ''}: ${link.error.message}`,
          )
        : undefined,
    ],
  ]);
  return `${head}\n\nSteps:\n${indent(stepsTable(link.steps, style))}`;
}

export const indent = (text: string, by = '  ') =>
  text
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');

/** A value in a line: scalars as they are, arrays and objects as compact JSON cut short. */
function brief(value: unknown, max = 100): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The executions that drove a link, with each one's events when the API gives them. */
export function runsText(runs: readonly any[], style: Style): string {
  if (!runs.length) return style.dim('(no run recorded)');
  const out = [
    table(
      ['NAME', 'WORKFLOW', 'STATUS', 'STARTED', 'DURATION'],
      runs.map((r) => [
        r.name,
        r.workflow,
        paintStatus(style, r.status ?? ''),
        shortTime(r.startedAt),
        r.stoppedAt ? formatDuration(Date.parse(r.stoppedAt) - Date.parse(r.startedAt)) : '',
      ]),
    ),
  ];
  for (const run of runs) {
    if (!Array.isArray(run.events) || !run.events.length) continue;
    out.push('', `Events of ${run.name}:`);
    out.push(
      indent(
        table(
          ['TIME', 'STATE', 'EVENT', 'DETAIL'],
          run.events.map((e: any) => {
            const failed = /Failed|TimedOut|Aborted/.test(e.type ?? '');
            const detail = e.detail === undefined ? '' : brief(e.detail);
            return [
              shortTime(e.timestamp),
              e.step ?? '',
              failed ? style.fail(e.type) : e.type,
              failed ? style.fail(detail) : detail,
            ];
          }),
        ),
      ),
    );
  }
  return out.join('\n');
}

/** One hop of the verify result, whatever words the API uses for its verdict. */
export function hopVerdict(hop: any): { ok: boolean; verdict: string; why: string } {
  const ok = typeof hop.ok === 'boolean' ? hop.ok : hop.allowed === true || hop.decision === 'allowed';
  const verdict =
    typeof hop.decision === 'string'
      ? hop.decision
      : typeof hop.allowed === 'boolean'
        ? hop.allowed
          ? 'allowed'
          : 'denied'
        : ok
          ? 'holds'
          : 'does not hold';
  const why = [hop.detail, hop.reason].filter((x) => typeof x === 'string' && x).join('; ');
  return { ok, verdict, why };
}

/** The hops of a verification, one row each: holds or not, and why. */
function hopsTable(hops: readonly any[], style: Style): string {
  return table(
    ['  HOP', 'RESULT', 'WHY'],
    hops.map((h) => {
      const v = hopVerdict(h);
      const mark = v.ok ? style.ok('✓') : style.fail('✗');
      return [`${mark} ${h.hop ?? h.name ?? ''}`, v.ok ? v.verdict : style.fail(v.verdict), v.why];
    }),
  );
}

/**
 * A link's proof, hop by hop: the verification just made or last recorded
 * (`link.verification`), else the onboard's Verify role chain step.
 */
export function verifyText(link: any, style: Style): { text: string; ok: boolean } {
  const head = `Link ${link.id} (${link.status}): ${sourceText(link.spec?.source)} → ${targetText(link.spec?.target)}`;
  const verification = link.verification;
  if (verification && Array.isArray(verification.hops)) {
    const broken = verification.hops.filter((h: any) => !hopVerdict(h).ok);
    const lines = [
      head,
      `Verified ${shortTime(verification.at)}${verification.by ? ` by ${verification.by}` : ''}: ${
        broken.length
          ? style.fail(`broken at ${broken.map((h: any) => h.hop).join(', ')}`)
          : style.ok(`all ${verification.hops.length} hops hold`)
      }`,
      hopsTable(verification.hops, style),
    ];
    return { text: lines.join('\n'), ok: verification.ok === true && broken.length === 0 };
  }
  const step: StepRecord | undefined = link.steps?.verify;
  if (!step) {
    return { text: `${head}\n${style.warn('No verify result on the link yet.')}`, ok: false };
  }
  const hops: any[] = Array.isArray(step.result?.hops) ? step.result!.hops : [];
  const lines = [
    head,
    `Verify role chain: ${paintStatus(style, step.status)} at ${shortTime(step.endedAt ?? step.startedAt)}`,
  ];
  if (hops.length) lines.push(hopsTable(hops, style));
  if (step.error) lines.push(style.fail(`${step.error.code}: ${step.error.message}`));
  const ok = step.status === 'SUCCEEDED' && hops.every((h) => hopVerdict(h).ok);
  return { text: lines.join('\n'), ok };
}

export function planText(plan: any, style: Style): string {
  const lines = ['Checks:'];
  for (const c of plan.checks ?? []) {
    lines.push(
      `  ${c.ok ? style.ok('✓') : style.fail('✗')} ${c.check}${c.detail ? style.dim(`  ${c.detail}`) : ''}`,
    );
  }
  lines.push('', 'Targets:');
  for (const t of plan.targets ?? []) {
    const existing = t.existingLink ? ` (existing link ${t.existingLink.id}, ${t.existingLink.status})` : '';
    lines.push(
      `  ${t.target?.accountId}/${t.target?.region}/${t.target?.cluster}: ${style.bold(t.action)}${existing}`,
    );
    const a = t.authorization;
    const decision = a?.decision ?? (t.approval === 'required' ? 'needs-approval' : undefined);
    const r = t.resources ?? {};
    lines.push(
      indent(
        fields([
          [
            'authorization',
            decision
              ? (decision === 'allowed' ? style.ok : decision === 'denied' ? style.fail : style.warn)(
                  `${decision}${a?.detail ? `: ${a.detail}` : ''}`,
                )
              : undefined,
          ],
          ['workload role', r.workloadRole],
          ['target role', r.targetRole],
          ['access', r.accessEntry],
          ['network', r.network],
        ]),
        '    ',
      ),
    );
    const checks: any[] = Array.isArray(t.checks) ? t.checks : [];
    if (checks.length) {
      lines.push('    quotas and conflicts:');
      lines.push(indent(quotaTable(checks, style), '      '));
      const sources = [...new Set(checks.map((c) => c.limitSource).filter(Boolean))];
      if (sources.length) lines.push(style.dim(`      limits: ${sources.join('; ')}`));
    }
  }
  return lines.join('\n');
}

/**
 * The quota and conflict checks of a plan target, one row each: the check, what it counts
 * on, the figures (now → after the link / limit) and whether it holds.
 */
export function quotaTable(checks: readonly any[], style: Style): string {
  return table(
    ['', 'CHECK', 'ON', 'NOW', 'AFTER', 'LIMIT', 'NOTE'],
    checks.map((c) => [
      c.ok ? style.ok('✓') : style.fail('✗'),
      c.check,
      c.scope,
      c.used === undefined ? '' : String(c.used),
      c.after === undefined ? '' : String(c.after),
      c.limit === undefined ? '' : String(c.limit),
      c.ok ? (c.limit === undefined ? style.dim(c.detail) : '') : style.fail(c.detail),
    ]),
  );
}
