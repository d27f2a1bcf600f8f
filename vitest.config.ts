import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // tfjs keeps one global engine per process: isolate test files in forks so backends and
    // registered gradients never leak between files.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
