/**
 * One name per step, end to end: every Task state of every ASL file runs exactly one handler
 * file through exactly one substitution, named after the state, and every handler file and
 * registry entry is used by some Task state.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  functionNameOf,
  functionStateOf,
  substitutionOf,
  CONFIRM_PREFIX,
  UNDO_PREFIX,
  WORKFLOW_FUNCTIONS,
} from '#workflow/registry';

const root = new URL('../../../', import.meta.url).pathname;
const statemachines = `${root}statemachines/`;
const handlersDir = `${root}functions/workflow/handlers/`;

interface TaskState {
  readonly file: string;
  readonly state: string;
  readonly resource: string;
}

/** Every Task state of every ASL file, raw (before substitution). */
function taskStates(): TaskState[] {
  const found: TaskState[] = [];
  for (const file of readdirSync(statemachines).filter((f) => f.endsWith('.asl.json'))) {
    const walk = (states: Record<string, any>) => {
      for (const [state, s] of Object.entries(states)) {
        if (s.Type === 'Task') found.push({ file, state, resource: s.Resource });
        for (const b of s.Branches ?? []) walk(b.States);
        const processor = s.ItemProcessor ?? s.Iterator;
        if (processor) walk(processor.States);
      }
    };
    walk(JSON.parse(readFileSync(`${statemachines}${file}`, 'utf8')).States);
  }
  return found;
}

describe('workflow registry', () => {
  const tasks = taskStates();

  it('finds the Task states of the onboard and offboard workflows', () => {
    expect(tasks.map((t) => t.state)).toEqual(
      expect.arrayContaining(['Start provisioning', 'Start deleting']),
    );
  });

  it.each(tasks)('$file: "$state" runs the function named after it', ({ state, resource }) => {
    // Arrange
    const expected = substitutionOf(state);
    const entries = WORKFLOW_FUNCTIONS.filter((f) => f.state === functionStateOf(state));
    // Assert
    expect(resource).toBe(`\${${expected}}`);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.substitution).toBe(expected);
    expect(entries[0]?.entry).toBe(`functions/workflow/handlers/${functionNameOf(state)}.ts`);
    expect(existsSync(`${root}${entries[0]?.entry}`)).toBe(true);
  });

  it('has no registry entry that no Task state runs', () => {
    const used = new Set(tasks.map((t) => functionStateOf(t.state)));
    expect(WORKFLOW_FUNCTIONS.filter((f) => !used.has(f.state)).map((f) => f.state)).toEqual([]);
  });

  it('has no handler file without a registry entry', () => {
    const entries = new Set(WORKFLOW_FUNCTIONS.map((f) => f.entry));
    const files = readdirSync(handlersDir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `functions/workflow/handlers/${f}`);
    expect(files.filter((f) => !entries.has(f))).toEqual([]);
  });

  it('gives each function one name, one substitution and one entry', () => {
    for (const key of ['state', 'name', 'substitution', 'entry'] as const) {
      const values = WORKFLOW_FUNCTIONS.map((f) => f[key]);
      expect(new Set(values).size).toBe(values.length);
    }
  });

  it('maps a compensation state to the function of the state it undoes', () => {
    expect(functionStateOf(`${UNDO_PREFIX}revoke egress allowance`)).toBe('Revoke egress allowance');
    expect(functionStateOf(`${CONFIRM_PREFIX}ensure workload role`)).toBe('Ensure workload role');
    expect(functionNameOf('Resolve clusters and NAT IPs')).toBe('resolve-clusters-and-nat-ips');
    expect(substitutionOf('Ensure OIDC provider')).toBe('EnsureOidcProviderFunctionArn');
  });

  it('exports a Lambda handler from every handler file', async () => {
    for (const f of WORKFLOW_FUNCTIONS) {
      const module = (await import(`${root}${f.entry}`)) as Record<string, unknown>;
      expect(typeof module[f.exportName], f.entry).toBe('function');
      expect(module[f.exportName]).toBe(f.handler);
    }
  });
});
