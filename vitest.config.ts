import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globals: true,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Numeric golden tests are CPU-bound; two forks match the 2-core CI machine.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
