/**
 * A short fuzzing run in `npm test` (the long one is test/stress/fuzz.test.ts): random and mutated
 * WebSocket frames and HTTP requests against the real server and sidecar. No crash, no unhandled
 * rejection, every reply an error with a stable code (or a transcript of a real recording that
 * survived its mutation), the sidecar never restarted, memory back near its baseline.
 * Figures: bench/results/reliability-fuzz-quick.json.
 */
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { fuzzServer } from '../helpers/fuzz-run.js';
import { clientFrame, RawWs } from '../helpers/raw-ws.js';
import { writeFigures } from '../helpers/reliability.js';
import { testConfig, testLogger, waitForState, type LogCapture } from '../helpers/server.js';

let server: RunningServer;
let capture: LogCapture;
const consoleError = vi.spyOn(console, 'error');

beforeAll(async () => {
  const logger = testLogger();
  capture = logger.capture;
  server = await startServer(testConfig({ LOG_LEVEL: 'info', WS_IDLE_TIMEOUT_MS: '5000' }), logger.log);
  await waitForState(server.supervisor, 'ready');
});

afterAll(async () => {
  await server?.close();
});

afterEach(() => {
  // Nothing the server does may bypass its logger: a console.error is an error path that failed.
  expect(consoleError.mock.calls.map((c) => String(c[0]).slice(0, 200))).toEqual([]);
});

it('a WebSocket protocol error (invalid UTF-8 text) closes with 1007 and is logged, not printed as a ReferenceError', async () => {
  const raw = await RawWs.connect(server.port, '/ws/transcribe', true);
  raw.write(clientFrame(1, Buffer.from([0xff, 0xfe, 0xfd])));
  await raw.waitEnded(5_000);
  expect(raw.closeCode()).toBe(1007);
  expect(capture.lines.some((l) => l.msg === 'client protocol error')).toBe(true);
});

it('fuzzed WebSocket and HTTP input: coded errors only, no crash, no unhandled rejection, memory back near baseline', async () => {
  const figures = await fuzzServer(server, { wsRuns: 25, httpRuns: 150, rawRuns: 20, timeLimitMs: 30_000 });
  writeFigures('fuzz-quick', { command: 'npx vitest run test/integration/fuzz-quick.test.ts', ...figures });
  expect(figures.rejections).toEqual([]);
  expect(figures.ws.cases + figures.http.requests + figures.raw.requests).toBeGreaterThan(50);
  const health = await (await fetch(`${server.url}/health`)).json() as { status: string; sidecar: { restarts: number } };
  expect(health).toMatchObject({ status: 'healthy', sidecar: { restarts: 0 } });
  // Generous: a leak of one buffer per request would pass hundreds of MB; noise is a few.
  expect(figures.memory.heap_delta_mb).toBeLessThan(40);
});
