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
      // Long reliability runs (chaos, fuzz, load, soak): only with STRESS=1 (`npm run test:stress`), never in `npm test`.
      ...(process.env.STRESS === '1'
        ? [{ test: { name: 'stress', include: ['test/stress/**/*.test.ts'], testTimeout: 1_200_000, hookTimeout: 300_000, fileParallelism: false } }]
        : []),
    ],
  },
});
