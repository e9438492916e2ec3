import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LAMBDA_SERVICE_ERROR_NAMES, STEP_ERROR_NAMES } from '#link/errors';
import { WORKFLOW_FUNCTIONS } from '#workflow/registry';
import {
  LocalStepFunctions,
  loadDefinition,
  localFunctionArn,
  taskStates,
} from '#local/adapters/stepfunctions';

const dir = new URL('../../../statemachines/', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith('.asl.json'));

/** Every ErrorEquals list in a definition, with the state that holds it. */
function errorEquals(definition: any): { state: string; name: string }[] {
  const found: { state: string; name: string }[] = [];
  const walk = (states: Record<string, any>) => {
    for (const [state, s] of Object.entries(states)) {
      for (const r of [...(s.Retry ?? []), ...(s.Catch ?? [])])
        for (const name of r.ErrorEquals) found.push({ state, name });
      for (const b of s.Branches ?? []) walk(b.States);
      if (s.ItemProcessor) walk(s.ItemProcessor.States);
    }
  };
  walk(definition.States);
  return found;
}

describe('statemachines/*.asl.json', () => {
  const substitutions = Object.fromEntries(
    WORKFLOW_FUNCTIONS.map((fn) => [fn.substitution, localFunctionArn('ap-southeast-1', '000000000000', fn)]),
  );

  it('has at least the onboard workflow', () => {
    expect(files).toContain('onboard.asl.json');
  });

  for (const file of files) {
    describe(file, () => {
      const definition = loadDefinition(`${dir}${file}`, substitutions);

      it('matches only States.* names and the errors the handlers throw', () => {
        const allowed = new Set<string>([...STEP_ERROR_NAMES, ...LAMBDA_SERVICE_ERROR_NAMES]);
        const unknown = errorEquals(definition).filter(
          (e) => !e.name.startsWith('States.') && !allowed.has(e.name),
        );
        expect(unknown).toEqual([]);
      });

      it('gives every Task a Retry for throttling and a way to record failure', () => {
        const raw = JSON.parse(readFileSync(`${dir}${file}`, 'utf8'));
        const tasks: [string, any][] = [];
        const walk = (states: Record<string, any>) => {
          for (const [name, s] of Object.entries(states)) {
            if (s.Type === 'Task') tasks.push([name, s]);
            for (const b of s.Branches ?? []) walk(b.States);
            if (s.ItemProcessor) walk(s.ItemProcessor.States);
          }
        };
        walk(raw.States);
        expect(tasks.length).toBeGreaterThan(5);
        for (const [, s] of tasks) {
          expect(
            s.Retry.some((r: any) => r.ErrorEquals.includes('ThrottledError') && r.JitterStrategy === 'FULL'),
          ).toBe(true);
        }
      });

      it('uses only substitutions the function registry provides', () => {
        const text = readFileSync(`${dir}${file}`, 'utf8');
        const used = [...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]);
        const known = new Set(WORKFLOW_FUNCTIONS.map((f) => f.substitution));
        expect(used.filter((u) => !known.has(u!))).toEqual([]);
        expect(taskStates(definition).size).toBeGreaterThan(0);
      });

      it('has state names unique across the whole definition', () => {
        const names: string[] = [];
        const walk = (states: Record<string, any>) => {
          for (const [name, s] of Object.entries(states)) {
            names.push(name);
            for (const b of s.Branches ?? []) walk(b.States);
            if (s.ItemProcessor) walk(s.ItemProcessor.States);
          }
        };
        walk((definition as any).States);
        expect(new Set(names).size).toBe(names.length);
      });
    });
  }

  it('is accepted by the local interpreter with its validation on', () => {
    expect(
      () => new LocalStepFunctions({ accountId: '000000000000', region: 'ap-southeast-1' }),
    ).not.toThrow();
  });
});
