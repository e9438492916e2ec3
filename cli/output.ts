/**
 * How the CLI writes: plain tables (kubectl-style columns, easy to read and to `awk`),
 * `--output json|yaml` for scripts, and colour only on a terminal that wants it.
 */
import { stringify as toYaml } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** What a command writes to: the process's streams, or a test's. */
export interface Io {
  readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: NodeJS.ReadableStream;
}

export function writeLine(stream: NodeJS.WritableStream, line = ''): void {
  stream.write(`${line}\n`);
}

/** `json` and `yaml` are for machines; the human form is the command's own. */
export function formatData(format: Exclude<OutputFormat, 'table'>, data: unknown): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  return toYaml(data, { lineWidth: 0 });
}

/** An ANSI escape sequence (CSI): colours and cursor moves. */
const ANSI_SOURCE = `${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`;
export const ansiAt = (s: string): string | undefined => new RegExp(`^${ANSI_SOURCE}`).exec(s)?.[0];
export const visibleLength = (s: string) => [...s.replace(new RegExp(ANSI_SOURCE, 'g'), '')].length;

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => visibleLength(r[i] ?? ''))));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visibleLength(cell))))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

/** `Key:   value` lines with the values aligned. */
export function fields(pairs: readonly (readonly [string, string | undefined])[]): string {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== '') as [string, string][];
  const width = Math.max(...shown.map(([k]) => k.length)) + 2;
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n');
}

export interface Style {
  readonly color: boolean;
  ok(s: string): string;
  fail(s: string): string;
  warn(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

/** Colour when the stream is a terminal, unless NO_COLOR is set or TERM is dumb (FORCE_COLOR forces it). */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, noColor = false): Style {
  const force = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0';
  const color = !noColor && (force || (!!stream.isTTY && env.NO_COLOR === undefined && env.TERM !== 'dumb'));
  const paint = (open: number, close: number) => (s: string) =>
    color ? `\x1b[${open}m${s}\x1b[${close}m` : s;
  return {
    color,
    ok: paint(32, 39),
    fail: paint(31, 39),
    warn: paint(33, 39),
    dim: paint(2, 22),
    bold: paint(1, 22),
  };
}

/** A status, coloured by what it means for the operator. */
export function paintStatus(style: Style, status: string): string {
  if (status === 'ACTIVE' || status === 'SUCCEEDED' || status === 'DELETED') return style.ok(status);
  if (status === 'FAILED' || status === 'DEGRADED' || status === 'TIMED_OUT' || status === 'ABORTED') {
    return style.fail(status);
  }
  return style.warn(status);
}

/** `2026-01-02T03:04:05.678Z` → `2026-01-02 03:04:05Z`. */
export function shortTime(iso: string | undefined): string {
  if (!iso) return '';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** `3m`, `2h`, `5d`: how long ago. */
export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
