import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The crash soak (200 conversations killed and shut down) runs on its own: npm run test:crash.
    exclude: process.env.CRASH_SUITE ? [] : ['test/app/crash-load.test.ts', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
