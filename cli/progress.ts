/**
 * The live view of `--wait` and `link wait`: each step of the workflow as it completes.
 * On a terminal, a block that redraws in place (a spinner on the running steps, a tick or
 * a cross with the duration and what the step did on the finished ones); otherwise one
 * plain line per step as it finishes, with no escape codes, for logs and CI.
 */
import { ansiAt, type Style, styleFor, visibleLength } from './output';
import { formatDuration, type StepRecord, stepDurationMs, summarizeResult, type Workflow } from './steps';

export interface StepView {
  readonly key: string;
  readonly label: string;
  /** Undefined while the step has not started in this run. */
  readonly record?: StepRecord;
}

/** One link as the display shows it. */
export interface LinkView {
  readonly id: string;
  /** The target, e.g. `cluster-b (222222222222, ap-southeast-1)`. */
  readonly title: string;
  readonly status: string;
  readonly workflow: Workflow;
  readonly steps: readonly StepView[];
  readonly settled: boolean;
  readonly error?: { readonly code: string; readonly message: string; readonly step?: string };
}

export interface ProgressDisplay {
  update(views: readonly LinkView[]): void;
  /** The last update has been drawn; restore the terminal. */
  stop(): void;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

function stepDetail(step: StepView): string {
  const r = step.record;
  if (!r) return '';
  if (r.status === 'FAILED') return r.error ? `${r.error.code}: ${r.error.message}` : 'failed';
  if (r.status === 'SUCCEEDED') return summarizeResult(step.key, r.result);
  return '';
}

const attemptsNote = (r: StepRecord | undefined) =>
  r?.attempts && r.attempts > 1 ? ` (attempt ${r.attempts})` : '';

/** Cuts a line to `width` visible characters, keeping its escape codes whole. */
export function truncate(line: string, width: number): string {
  if (visibleLength(line) <= width) return line;
  let out = '';
  let shown = 0;
  for (let i = 0; i < line.length; ) {
    const esc = ansiAt(line.slice(i));
    if (esc) {
      out += esc;
      i += esc.length;
      continue;
    }
    const ch = String.fromCodePoint(line.codePointAt(i)!);
    if (shown >= width - 1) {
      out += '…';
      break;
    }
    out += ch;
    shown += 1;
    i += ch.length;
  }
  return `${out}\x1b[0m`;
}

/** The lines of one frame of the live block. */
export function renderFrame(
  views: readonly LinkView[],
  frame: number,
  style: Style,
  elapsedMs: number,
): string[] {
  const lines: string[] = [];
  const width = Math.max(...views.flatMap((v) => v.steps.map((s) => s.label.length)), 10);
  for (const view of views) {
    const status = view.settled
      ? view.status === 'ACTIVE' || view.status === 'DELETED'
        ? style.ok(view.status)
        : style.fail(view.status)
      : style.warn(view.status);
    // Status first: on a narrow terminal the line is cut at its end, the target.
    lines.push(`${style.bold(view.id)}  ${status}  ${style.dim(formatDuration(elapsedMs))}  → ${view.title}`);
    for (const step of view.steps) {
      const r = step.record;
      let mark: string;
      if (!r) mark = style.dim('·');
      else if (r.status === 'SUCCEEDED') mark = style.ok('✓');
      else if (r.status === 'FAILED') mark = style.fail('✗');
      else mark = style.warn(SPINNER[frame % SPINNER.length]!);
      const label = r ? step.label : style.dim(step.label);
      const duration = r?.status === 'RUNNING' ? '' : formatDuration(r ? stepDurationMs(r) : undefined);
      const detail = stepDetail(step) + attemptsNote(r);
      lines.push(
        `  ${mark} ${label}${' '.repeat(width - step.label.length)}  ${duration.padStart(7)}  ${r?.status === 'FAILED' ? style.fail(detail) : style.dim(detail)}`.trimEnd(),
      );
    }
  }
  return lines;
}

/** The redrawing block for a terminal. */
export class LiveDisplay implements ProgressDisplay {
  #views: readonly LinkView[] = [];
  #drawn = 0;
  #frame = 0;
  readonly #started = Date.now();
  readonly #timer: NodeJS.Timeout;
  readonly #style: Style;

  constructor(
    readonly stream: NodeJS.WritableStream & { columns?: number },
    style: Style,
  ) {
    this.#style = style;
    stream.write('\x1b[?25l'); // hide the cursor while drawing
    this.#timer = setInterval(() => {
      this.#frame++;
      this.#draw();
    }, 120);
    this.#timer.unref();
  }

  update(views: readonly LinkView[]): void {
    this.#views = views;
    this.#draw();
  }

  #draw(): void {
    if (!this.#views.length) return;
    const width = (this.stream.columns ?? 100) - 1;
    const lines = renderFrame(this.#views, this.#frame, this.#style, Date.now() - this.#started).map((l) =>
      truncate(l, width),
    );
    // Back to the top of the block, clear it, draw it again.
    const up = this.#drawn ? `\x1b[${this.#drawn}A\r` : '';
    this.stream.write(`${up}\x1b[J${lines.join('\n')}\n`);
    this.#drawn = lines.length;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#draw();
    this.stream.write('\x1b[?25h');
  }
}

/** One plain line per finished step, for pipes and logs. */
export class LineDisplay implements ProgressDisplay {
  readonly #printed = new Set<string>();

  constructor(
    readonly stream: NodeJS.WritableStream,
    readonly style: Style,
  ) {}

  update(views: readonly LinkView[]): void {
    const many = views.length > 1;
    const width = Math.max(...views.flatMap((v) => v.steps.map((s) => s.label.length)), 10);
    for (const view of views) {
      const prefix = many ? `[${view.title.split(' ')[0]}] ` : '';
      for (const step of view.steps) {
        const r = step.record;
        if (!r || r.status === 'RUNNING') continue;
        const key = `${view.id}/${step.key}/${r.startedAt}/${r.status}`;
        if (this.#printed.has(key)) continue;
        this.#printed.add(key);
        const mark = r.status === 'SUCCEEDED' ? this.style.ok('✓') : this.style.fail('✗');
        const line = `  ${mark} ${prefix}${step.label.padEnd(width)}  ${formatDuration(stepDurationMs(r)).padStart(7)}  ${stepDetail(step)}${attemptsNote(r)}`;
        this.stream.write(`${line.trimEnd()}\n`);
      }
    }
  }

  stop(): void {}
}

/** The live block on a terminal, plain lines elsewhere. */
export function displayFor(
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  env: NodeJS.ProcessEnv,
  noColor = false,
): ProgressDisplay {
  const style = styleFor(stream, env, noColor);
  if (stream.isTTY && env.TERM !== 'dumb') return new LiveDisplay(stream, style);
  return new LineDisplay(stream, style);
}
