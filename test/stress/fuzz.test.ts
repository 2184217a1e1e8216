/**
 * The long fuzzing run (`npm run test:stress`): thousands of random and mutated WebSocket messages
 * and HTTP requests against the real server and sidecar, bounded by FUZZ_S seconds (300). Same
 * checks as the quick run in test/integration/fuzz-quick.test.ts. FUZZ_SEED replays a run.
 * Figures: bench/results/reliability-fuzz.json.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { fuzzServer } from '../helpers/fuzz-run.js';
import { discardingLogger, writeFigures } from '../helpers/reliability.js';
import { testConfig, waitForState } from '../helpers/server.js';

const FUZZ_S = Number(process.env.FUZZ_S ?? 300);
let server: RunningServer;

beforeAll(async () => {
  server = await startServer(testConfig({ LOG_LEVEL: 'warn', WS_IDLE_TIMEOUT_MS: '5000' }), discardingLogger());
  await waitForState(server.supervisor, 'ready');
});

afterAll(async () => {
  await server?.close();
});

it(`fuzzed input for up to ${FUZZ_S} s: coded errors only, no crash, no unhandled rejection, memory back near baseline`, async () => {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  const figures = await fuzzServer(server, { wsRuns: 500, httpRuns: 2_000, rawRuns: 200, timeLimitMs: FUZZ_S * 1000, seed });
  const file = writeFigures('fuzz', { command: 'npm run test:stress -- test/stress/fuzz.test.ts', fuzz_s: FUZZ_S, ...figures });
  console.log(`fuzz figures: ${file}`);
  expect(figures.rejections).toEqual([]);
  expect(figures.ws.messages + figures.http.requests + figures.raw.requests).toBeGreaterThan(1_000);
  const health = await (await fetch(`${server.url}/health`)).json() as { status: string; sidecar: { restarts: number } };
  expect(health).toMatchObject({ status: 'healthy', sidecar: { restarts: 0 } });
  expect(figures.memory.heap_delta_mb).toBeLessThan(40);
});
