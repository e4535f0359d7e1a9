import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Releases what each test started (gateways, sockets, temp dirs) after it, pass or fail.
    setupFiles: ['test/helpers/setup.ts'],
    // uWebSockets.js and the lane pools want a process's main thread, not a vitest worker thread.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
