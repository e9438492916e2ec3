/**
 * `tether link create --wait` in a real terminal (a pseudo-terminal from @lydell/node-pty, no
 * system package needed): the step display redraws in place as the workflow goes, and the
 * screen it leaves shows every step once, ticked, with the link ACTIVE.
 */
import { spawn } from '@lydell/node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ONBOARD_STEPS } from '#link/model';
import { type Harness, startHarness } from '../e2e/harness';
import { BIN, cleanEnv, REPO_ROOT } from './run-cli';

const ESC = String.fromCharCode(27);
const CSI = new RegExp(`^${ESC}\\[([0-9;?]*)([A-Za-z])`);
const LABELS = [
  'Resolve clusters and NAT IPs',
  'Ensure OIDC provider',
  'Ensure workload role',
  'Ensure target role',
  'Ensure access entry',
  'Ensure egress allowance',
  'Render kubeconfig',
  'Verify role chain',
];

/**
 * The screen a terminal shows after `output`: enough of a VT100 for what the CLI writes
 * (text, CR, LF, cursor up, clear to the end of the screen; colours and cursor visibility
 * change nothing on the screen).
 */
function screenOf(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  for (let i = 0; i < output.length; ) {
    if (output[i] === ESC) {
      const m = CSI.exec(output.slice(i));
      if (!m) {
        i++;
        continue;
      }
      const [all, arg, cmd] = m;
      if (cmd === 'A') row = Math.max(0, row - Number(arg || 1));
      else if (cmd === 'J') {
        lines[row] = (lines[row] ?? '').slice(0, col);
        lines.length = row + 1;
      }
      i += all.length;
      continue;
    }
    const ch = output[i]!;
    if (ch === '\r') col = 0;
    else if (ch === '\n') {
      row++;
      col = 0;
      while (lines.length <= row) lines.push('');
    } else {
      const line = lines[row] ?? '';
      lines[row] = line.slice(0, col).padEnd(col) + ch + line.slice(col + 1);
      col++;
    }
    i++;
  }
  return lines;
}

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('tether link create --wait on a terminal', () => {
  it('redraws the steps in place as they complete, then leaves them all ticked and the link ACTIVE', async () => {
    const term = spawn(
      process.execPath,
      [
        BIN,
        'link',
        'create',
        '--source',
        '111111111111/ap-southeast-1/cluster-a/kubeai-chatbot/kubeai-chatbot',
        '--target',
        '222222222222/ap-southeast-1/cluster-b',
        '--policy',
        'AmazonEKSViewPolicy',
        '--wait',
      ],
      {
        name: 'xterm-256color',
        cols: 140,
        rows: 40,
        cwd: REPO_ROOT,
        env: cleanEnv({ TETHER_ENDPOINT: h.rt.url, TERM: 'xterm-256color' }) as Record<string, string>,
      },
    );
    let output = '';
    term.onData((d) => {
      output += d;
    });
    const exit = await new Promise<{ exitCode: number }>((resolve) => term.onExit(resolve));
    expect(exit.exitCode, output).toBe(0);

    // Drawn for a terminal: cursor hidden while drawing and shown again, colour, in-place redraws.
    expect(output).toContain(`${ESC}[?25l`);
    expect(output).toContain(`${ESC}[?25h`);
    expect(output).toContain(`${ESC}[32m✓`);
    // Up over the header and the steps, clear, draw again.
    const redraw = `${ESC}[${ONBOARD_STEPS.length + 1}A\r${ESC}[J`;
    expect(output.split(redraw).length - 1).toBeGreaterThanOrEqual(1);

    // The frames go from steps still to do to every step done.
    const frames = output.split(`${ESC}[J`).slice(1);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    const ticks = (frame: string) => (frame.match(/✓/g) ?? []).length;
    expect(ticks(frames[0]!)).toBeLessThan(ONBOARD_STEPS.length);
    expect(frames[0]).toMatch(/PENDING|PROVISIONING/);
    expect(ticks(frames.at(-1)!)).toBe(ONBOARD_STEPS.length);

    // What is left on the screen: each step once, ticked, with its duration; the link ACTIVE.
    const screen = screenOf(output).join('\n');
    for (const label of LABELS) {
      expect(screen.split(label).length - 1, `${label}\n${screen}`).toBe(1);
      expect(screen).toMatch(new RegExp(`✓ ${label}\\s+\\d[\\d.]* m?s`));
    }
    expect(screen).toMatch(/lnk_\S+ {2}ACTIVE {2}[\d.]+ m?s {2}→ cluster-b \(222222222222, ap-southeast-1\)/);
    expect(screen).toMatch(/Link lnk_\S+: ACTIVE in /);
    expect(screen).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/); // no spinner left behind
  });
});
