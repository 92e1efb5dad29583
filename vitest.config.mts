import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native addons and real servers: child processes, generous timeouts for loopback I/O.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
