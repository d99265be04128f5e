import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Upper bounds for a hung test, not speed checks: the machine may be shared and busy, and a
    // test that passes in 10 s alone can take several times that beside other work.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most test files wait on the processes and sockets they start rather than on the CPU: two at
    // a time on a 2-core machine (vitest's default there is one).
    maxWorkers: 2,
  },
});
