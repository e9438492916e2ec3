import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    setupFiles: ['local/polyfills.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'tether',
          include: ['test/**/*.test.ts'],
          exclude: ['test/infra/**', '**/node_modules/**'],
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
