import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    setupFiles: ['local/polyfills.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One test file per core. Vitest's default (cores - 1) runs one file at a time on CI's two
    // cores, with the second core idle but for the main process's transforms, though the files
    // are CPU-bound (sandbox, workflows, each fork importing the SDK). Every file has its own
    // sandbox, table, ports and temporary directories.
    maxWorkers: availableParallelism(),
    projects: [
      {
        extends: true,
        test: {
          name: 'tether',
          include: ['test/**/*.test.ts'],
          exclude: ['test/infra/**', 'test/fuzz/**', '**/node_modules/**'],
          sequence: { groupOrder: 0 },
        },
      },
      // The API fuzz, with V8's optimizing compiler off: on Node 20.20 its worker aborts about
      // one run in two in V8 itself ("Fatal error … unreachable code" in
      // Deoptimizer::DoComputeBuiltinContinuation), since the roles-anywhere merge; never with
      // --no-opt, never in the other files. A V8 fault, not a failed assertion: README, Limits.
      {
        extends: true,
        test: {
          name: 'fuzz',
          include: ['test/fuzz/**/*.test.ts'],
          execArgv: ['--no-opt'],
          sequence: { groupOrder: 0 },
        },
      },
      // The deployment's tests bundle every function with esbuild: they run after the others,
      // so that CPU-heavy synth never shares the machine with the timed campaigns.
      {
        extends: true,
        test: { name: 'infra', include: ['test/infra/**/*.test.ts'], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
