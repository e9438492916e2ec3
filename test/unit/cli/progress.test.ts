/** The live view of `--wait`: which steps belong to the run, how each is summarised, and how it is drawn. */
import { describe, expect, it } from 'vitest';
import { styleFor } from '#cli/output';
import { LineDisplay, type LinkView, LiveDisplay, renderFrame, truncate } from '#cli/progress';
import { hopVerdict } from '#cli/render';
import { formatDuration, stepLabel, summarizeResult } from '#cli/steps';
import { stepViews } from '#cli/watch';
import { OFFBOARD_STEPS, ONBOARD_STEPS } from '#link/model';
import { WORKFLOW_FUNCTIONS } from '#workflow/registry';
import { memoryIo } from './io';

const ESC = String.fromCharCode(27);
const plain = styleFor({ isTTY: false }, {});
const step = (status: string, startedAt: string, endedAt?: string, result?: Record<string, unknown>) => ({
  status,
  startedAt,
  attempts: 1,
  ...(endedAt ? { endedAt } : {}),
  ...(result ? { result } : {}),
});

describe('step names', () => {
  it('every step the link records is labelled with its ASL state name', () => {
    const states = new Set(WORKFLOW_FUNCTIONS.map((f) => f.state));
    for (const key of [...ONBOARD_STEPS, ...OFFBOARD_STEPS]) expect(states, key).toContain(stepLabel(key));
  });

  it('a removal step run by a failed onboard is its compensation', () => {
    expect(stepLabel('removeTargetRole', 'onboard')).toBe('Undo: remove target role');
    expect(stepLabel('removeTargetRole', 'offboard')).toBe('Remove target role');
  });
});

describe('summarizeResult', () => {
  it.each([
    [
      'resolve',
      { natIps: ['1', '2'], targetAuthenticationMode: 'API', targetSecurityGroupId: 'sg-1' },
      '2 NAT IPs, target API, sg-1',
    ],
    ['oidcProvider', { action: 'uses-existing-unmanaged', arn: 'x' }, 'uses-existing-unmanaged'],
    ['targetRole', { action: 'updated', changes: ['trust'] }, 'updated (trust)'],
    [
      'egress',
      { action: 'updated', created: ['a'], unchanged: ['b', 'c'] },
      'updated (1 added, 2 unchanged)',
    ],
    [
      'revokeEgress',
      { rules: [{ action: 'revoked' }, { action: 'kept' }, { action: 'revoked' }] },
      'revoked 2 rules, kept 1 rule',
    ],
    ['releaseWorkloadRole', { action: 'kept-updated', remainingLinks: 2 }, 'kept-updated (2 other links)'],
    ['kubeconfig', { context: 'cluster-b', bytes: 10 }, 'context cluster-b'],
    ['verify', { hops: [{ ok: true }, { ok: false }] }, '1/2 hops hold'],
    ['future', { something: 1 }, 'something'],
  ])('%s', (key, result, text) => {
    expect(summarizeResult(key, result)).toBe(text);
  });

  it('formatDuration', () => {
    expect([
      formatDuration(12),
      formatDuration(1234),
      formatDuration(125_000),
      formatDuration(undefined),
    ]).toEqual(['12 ms', '1.2 s', '2m05s', '']);
  });
});

describe('stepViews', () => {
  it('shows only the steps of the run followed: an offboard does not show the onboard’s', () => {
    const link = {
      steps: {
        resolve: step('SUCCEEDED', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.100Z'),
        revokeEgress: step('SUCCEEDED', '2026-01-02T00:00:01.000Z', '2026-01-02T00:00:01.050Z', {
          rules: [],
        }),
        removeAccessEntry: step('RUNNING', '2026-01-02T00:00:02.000Z'),
      },
    };
    const views = stepViews(link, 'offboard', { name: 'offboard-x', startedAt: '2026-01-02T00:00:00.000Z' });
    expect(views.map((v) => v.key)).toEqual([...OFFBOARD_STEPS]);
    expect(views.map((v) => v.record?.status)).toEqual([
      'SUCCEEDED',
      'RUNNING',
      ...OFFBOARD_STEPS.slice(2).map(() => undefined),
    ]);
  });

  it('appends an onboard’s undo steps after its own, and shows nothing before the run has started', () => {
    const link = {
      steps: {
        accessEntry: {
          ...step('FAILED', '2026-01-01T00:00:01.000Z', '2026-01-01T00:00:01.100Z'),
          error: { code: 'X', message: 'no' },
        },
        removeTargetRole: step('SUCCEEDED', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:02.010Z', {
          action: 'deleted',
        }),
      },
    };
    const run = { name: 'req_1', startedAt: '2026-01-01T00:00:00.000Z' };
    const views = stepViews(link, 'onboard', run);
    expect(views.map((v) => v.label).slice(-1)).toEqual(['Undo: remove target role']);
    expect(views.find((v) => v.key === 'accessEntry')?.record?.status).toBe('FAILED');
    expect(stepViews(link, 'onboard', undefined).every((v) => !v.record)).toBe(true);
  });
});

const view = (steps: LinkView['steps'], status = 'PROVISIONING', settled = false): LinkView => ({
  id: 'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5',
  title: 'cluster-b (222222222222, ap-southeast-1)',
  status,
  workflow: 'onboard',
  steps,
  settled,
});

describe('LineDisplay (not a terminal)', () => {
  it('prints each finished step once, with its duration and what it did, and no escape codes', () => {
    const io = memoryIo();
    const d = new LineDisplay(io.out, plain);
    const resolve = { key: 'resolve', label: 'Resolve clusters and NAT IPs' };
    const oidc = { key: 'oidcProvider', label: 'Ensure OIDC provider' };
    d.update([view([{ ...resolve, record: step('RUNNING', '2026-01-01T00:00:00.000Z') }, oidc])]);
    expect(io.stdout()).toBe('');
    const done = {
      ...resolve,
      record: step('SUCCEEDED', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.094Z', { natIps: ['a'] }),
    };
    d.update([view([done, oidc])]);
    d.update([
      view([
        done,
        {
          ...oidc,
          record: {
            ...step('FAILED', '2026-01-01T00:00:00.100Z', '2026-01-01T00:00:01.300Z'),
            attempts: 3,
            error: { code: 'THROTTLED', message: 'slow down' },
          },
        },
      ]),
    ]);
    d.stop();
    expect(io.stdout().split('\n')).toEqual([
      '  ✓ Resolve clusters and NAT IPs    94 ms  1 NAT IP',
      '  ✗ Ensure OIDC provider            1.2 s  THROTTLED: slow down (attempt 3)',
      '',
    ]);
    expect(io.stdout()).not.toContain(ESC);
  });
});

describe('LiveDisplay (a terminal)', () => {
  it('redraws the block in place: cursor up over the last frame, clear, draw; hides the cursor meanwhile', () => {
    const io = memoryIo();
    const out = Object.assign(io.out, { isTTY: true, columns: 100 });
    const d = new LiveDisplay(out, plain);
    const steps = [
      { key: 'resolve', label: 'Resolve clusters and NAT IPs' },
      { key: 'oidcProvider', label: 'Ensure OIDC provider' },
    ];
    d.update([view(steps)]);
    d.update([
      view(
        [
          {
            ...steps[0]!,
            record: step('SUCCEEDED', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.010Z', { natIps: [] }),
          },
          steps[1]!,
        ],
        'ACTIVE',
        true,
      ),
    ]);
    d.stop();
    const text = io.stdout();
    expect(text.startsWith(`${ESC}[?25l`)).toBe(true);
    expect(text.endsWith(`${ESC}[?25h`)).toBe(true);
    expect(text).toContain(`${ESC}[3A\r${ESC}[J`); // three lines up: the header and two steps
    const frames = text.split(`${ESC}[J`).slice(1);
    expect(frames[0]).toMatch(/· Resolve clusters and NAT IPs/);
    expect(frames.at(-1)).toMatch(/✓ Resolve clusters and NAT IPs\s+10 ms\s+0 NAT IPs/);
    expect(frames.at(-1)).toMatch(/ACTIVE/);
  });

  it('cuts lines to the terminal width so the redraw counts lines right, keeping colour codes whole', () => {
    const coloured = `${ESC}[32m✓${ESC}[39m ${'x'.repeat(50)}`;
    const cut = truncate(coloured, 20);
    expect(cut.replace(new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g'), '')).toHaveLength(20);
    expect(cut.startsWith(`${ESC}[32m✓${ESC}[39m`)).toBe(true);
    const lines = renderFrame(
      [view([{ key: 'resolve', label: 'Resolve clusters and NAT IPs' }])],
      0,
      plain,
      1500,
    );
    expect(lines[0]).toBe(
      'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5  PROVISIONING  1.5 s  → cluster-b (222222222222, ap-southeast-1)',
    );
  });
});

describe('hopVerdict', () => {
  it('reads the verify hops as they are today (ok, detail) and with an allowed/denied verdict and a reason', () => {
    expect(hopVerdict({ hop: 'h', ok: true, detail: 'd' })).toEqual({ ok: true, verdict: 'holds', why: 'd' });
    expect(hopVerdict({ hop: 'h', ok: false, detail: 'd' })).toEqual({
      ok: false,
      verdict: 'does not hold',
      why: 'd',
    });
    expect(hopVerdict({ hop: 'h', allowed: false, reason: 'explicit deny' })).toEqual({
      ok: false,
      verdict: 'denied',
      why: 'explicit deny',
    });
    expect(
      hopVerdict({ hop: 'h', ok: true, decision: 'denied', detail: 'refused as it must be' }),
    ).toMatchObject({ ok: true, verdict: 'denied' });
  });
});
