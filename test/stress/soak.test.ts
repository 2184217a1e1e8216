/**
 * Soak: SOAK_MIN (10) minutes of sessions opening, streaming real speech and closing against one
 * real server, 3 at a time; every 5th session hangs up mid-stream instead of sending `end`, and
 * every 7th stops after config (the idle timeout ends it). RSS, heap and open handles are sampled
 * after a full GC every 20 s; their least-squares slopes after the first minute are the figures.
 * Handles and heap must be back near where they started once the traffic stops.
 * Figures: bench/results/reliability-soak.json.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { readWavPcm } from '../helpers/audio.js';
import { discardingLogger, sampleMemory, sleep, slope, writeFigures, type MemorySample } from '../helpers/reliability.js';
import { testConfig, waitForState } from '../helpers/server.js';
import { WsClient, wsUrl } from '../helpers/ws-client.js';

const SOAK_MIN = Number(process.env.SOAK_MIN ?? 10);
const WORKERS = 3;
const FILES = ['jfk.wav', 'ls-6930-75918-0000.wav', 'ls-7902-96591-0000.wav', 'fleurs-en-003.wav', 'fleurs-en-004.wav'];
let server: RunningServer;

beforeAll(async () => {
  server = await startServer(testConfig({ LOG_LEVEL: 'warn', WS_IDLE_TIMEOUT_MS: '3000' }), discardingLogger());
  await waitForState(server.supervisor, 'ready');
});

afterAll(async () => {
  await server?.close();
});

const outcomes: Record<string, number> = {};
const tally = (k: string) => { outcomes[k] = (outcomes[k] ?? 0) + 1; };

/** One session of kind n % 35: normal (end, final), hang-up mid-stream, or silent after config. */
async function session(n: number): Promise<void> {
  const pcm = readWavPcm(FILES[n % FILES.length]!);
  const client = await WsClient.connect(wsUrl(server.url));
  client.send({ type: 'config', language: 'en' });
  if (n % 7 === 6) {
    const r = await client.result();
    return tally(`silent: ${r.errors.map((e) => e.code).join(',')} ${r.close.code}`);
  }
  const hangUp = n % 5 === 4;
  // Twice real time in 0.5 s chunks.
  for (let at = 0; at < pcm.length; at += 16_000) {
    client.send(pcm.subarray(at, at + 16_000));
    await sleep(250);
    if (hangUp && at > pcm.length / 2) {
      client.ws.terminate();
      return tally('hung up');
    }
  }
  client.send({ type: 'end' });
  const r = await client.result();
  tally(r.final ? `final ${r.close.code}` : `no final: ${r.errors.map((e) => e.code).join(',')} ${r.close.code}`);
}

it(`${SOAK_MIN} minutes of sessions opening, streaming and closing: RSS, heap and handles stay flat`, async () => {
  const started = Date.now();
  const until = started + SOAK_MIN * 60_000;
  const samples: MemorySample[] = [sampleMemory(started)];
  let next = 0;
  const workers = Array.from({ length: WORKERS }, async () => {
    while (Date.now() < until) await session(next++);
  });
  const sampler = (async () => {
    while (Date.now() < until) {
      await sleep(20_000);
      samples.push(sampleMemory(started));
    }
  })();
  await Promise.all([...workers, sampler]);
  await sleep(5_000); // idle timeouts and drains of the last sessions
  const end = sampleMemory(started);

  const steady = samples.filter((s) => s.t_s >= 60);
  const perMin = (key: keyof MemorySample) => Math.round(slope(steady.map((s) => s.t_s / 60), steady.map((s) => s[key])) * 1000) / 1000;
  const file = writeFigures('soak', {
    command: 'npm run test:stress -- test/stress/soak.test.ts   (SOAK_MIN=10)',
    minutes: SOAK_MIN,
    sessions: next,
    outcomes,
    slope_after_first_minute_per_min: { rss_mb: perMin('rss_mb'), heap_used_mb: perMin('heap_used_mb'), external_mb: perMin('external_mb'), handles: perMin('handles') },
    first: samples[0],
    last_under_load: samples[samples.length - 1],
    after_traffic: end,
    samples,
  });
  console.log(`soak figures: ${file}`);

  // How many sessions fit in the time depends on the machine: only that there were some is checked.
  expect(next).toBeGreaterThan(WORKERS);
  for (const k of Object.keys(outcomes)) expect(['final 1000', 'hung up', 'silent: idle_timeout 1008']).toContain(k);
  // Handles and heap come back once the traffic stops (a leak of one socket, timer or buffer per session would not).
  expect(end.handles).toBeLessThanOrEqual(samples[0]!.handles + 3);
  expect(end.heap_used_mb).toBeLessThan(samples[0]!.heap_used_mb + 30);
});
