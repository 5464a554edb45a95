import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    // Two test files at a time on the 2-core CI machine: the end-to-end suites
    // mostly wait on processes they started, so two overlap well (each suite
    // has its own lab, name and subnet). Limits are generous because a loaded
    // machine makes waits longer, never because a test is expected to be slow.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 240_000,
  },
});
