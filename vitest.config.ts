import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests beside the code, and integration tests against real processes.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts', 'test/*.test.ts'], testTimeout: 10_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // The model is CPU-bound on 2 cores: one integration file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
