/**
 * Load: LOAD_IDLE (1,000) idle WebSocket sessions held open on a real server (in its own process,
 * so its memory is its own), then LOAD_STREAMS (4) sessions streaming real speech at real-time
 * pace beside them. Reports server memory per idle connection and per active stream (after a full
 * GC) and the commit latency: for each commit, the time from sending the audio that the newly
 * committed text ends in to receiving it (p50/p95/max). The idle sessions must all still be open
 * at the end and the streams must get normal finals. Figures: bench/results/reliability-load.json.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { manifest, readWavPcm } from '../helpers/audio.js';
import { percentile, sleep, writeFigures } from '../helpers/reliability.js';
import { wer } from '../helpers/wer.js';
import { WsClient, wsUrl } from '../helpers/ws-client.js';
import { ServerChild, type ChildStats } from './lib/child.js';

const IDLE = Number(process.env.LOAD_IDLE ?? 1_000);
const STREAMS = Number(process.env.LOAD_STREAMS ?? 4);
const FILES = [['jfk.wav', 'fleurs-en-000.wav', 'fleurs-en-003.wav'], ['fleurs-en-001.wav', 'fleurs-en-002.wav', 'ls-6930-75918-0000.wav'], ['fleurs-en-004.wav', 'jfk.wav', 'fleurs-en-001.wav'], ['fleurs-en-002.wav', 'ls-7902-96591-0000.wav', 'fleurs-en-000.wav']];
const CHUNK = 8_000; // 0.25 s
let child: ServerChild;
const idle: WsClient[] = [];

beforeAll(async () => {
  // MAX_SESSIONS (64 by default) would refuse the rest with overloaded: the point here is what the machine holds.
  child = await ServerChild.start({ WS_IDLE_TIMEOUT_MS: '3600000', LOG_LEVEL: 'warn', MAX_SESSIONS: String(IDLE + STREAMS + 10) });
});

afterAll(async () => {
  for (const c of idle) c.ws.terminate();
  await child?.close();
});

const transcript = (file: string) => manifest().find((f) => f.file === file)!.transcript;
const perUnit = (a: ChildStats, b: ChildStats, n: number, key: keyof ChildStats) => Math.round(((b[key] - a[key]) * 1024 / n) * 10) / 10;

/** Stream at real-time pace; returns commit latencies (ms) and the final. */
async function activeStream(files: string[]) {
  const pcm = Buffer.concat(files.flatMap((f) => [readWavPcm(f), Buffer.alloc(32_000)]));
  const client = await WsClient.connect(wsUrl(child.url));
  client.send({ type: 'config', language: 'en' });
  const sentAt: number[] = []; // wall time each chunk was sent
  const started = Date.now();
  for (let at = 0, n = 0; at < pcm.length; at += CHUNK, n++) {
    client.send(pcm.subarray(at, at + CHUNK));
    sentAt.push(Date.now());
    await sleep(Math.max(0, started + (n + 1) * 250 - Date.now()));
  }
  client.send({ type: 'end' });
  const r = await client.result();
  const sentTime = (seconds: number) => sentAt[Math.min(sentAt.length - 1, Math.max(0, Math.ceil((seconds * 32_000) / CHUNK) - 1))]!;
  const latencies: number[] = [];
  let committedEnd = 0;
  for (const m of r.messages) {
    const ends = m.type === 'interim'
      ? (m.segments as Array<{ end: number; committed: boolean }>).filter((s) => s.committed).map((s) => s.end)
      : m.type === 'final' ? (m.chunks as Array<{ timestamp: [number, number] }>).map((c) => c.timestamp[1]) : [];
    const end = Math.max(0, ...ends);
    if (end > committedEnd) {
      latencies.push(m.at - sentTime(end));
      committedEnd = end;
    }
  }
  return { latencies, result: r, reference: files.map(transcript).join(' ') };
}

it(`${IDLE} idle sessions plus ${STREAMS} real-time streams: memory per connection and commit latency`, async () => {
  const base = await child.stats();
  const url = wsUrl(child.url);
  let refused: string | undefined;
  for (let i = 0; i < IDLE && !refused; i += 50) {
    const batch = await Promise.allSettled(Array.from({ length: Math.min(50, IDLE - i) }, () => WsClient.connect(url)));
    for (const b of batch) {
      if (b.status === 'fulfilled') idle.push(b.value);
      else refused ??= String(b.reason);
    }
  }
  for (const c of idle) c.send({ type: 'config', language: 'en' });
  await sleep(2_000);
  const withIdle = await child.stats();

  const streams = Array.from({ length: STREAMS }, (_, i) => activeStream(FILES[i % FILES.length]!));
  await sleep(15_000);
  const withStreams = await child.stats();
  const done = await Promise.all(streams);
  await sleep(1_000);
  const stillOpen = idle.filter((c) => c.ws.readyState === c.ws.OPEN && c.messages.length === 0).length;
  const latencies = done.flatMap((d) => d.latencies);
  const wers = done.map((d) => Math.round(wer(d.reference, String(d.result.final?.text ?? '')) * 1000) / 1000);

  const opened = idle.length;
  for (const c of idle.splice(0)) c.ws.close(1000);
  await sleep(3_000);
  const afterClose = await child.stats();
  const file = writeFigures(IDLE === 1_000 && STREAMS === 4 ? 'load' : `load-${IDLE}idle-${STREAMS}streams`, {
    command: 'npm run test:stress -- test/stress/load.test.ts   (LOAD_IDLE, LOAD_STREAMS to change the mix)',
    idle_target: IDLE,
    idle_opened: opened,
    idle_still_open_at_end: stillOpen,
    refused,
    streams: STREAMS,
    server_memory: { base, with_idle: withIdle, with_idle_and_streams: withStreams, after_close: afterClose },
    per_idle_connection_kb: { heap: perUnit(base, withIdle, IDLE, 'heap_used_mb'), rss: perUnit(base, withIdle, IDLE, 'rss_mb'), external: perUnit(base, withIdle, IDLE, 'external_mb') },
    per_active_stream_kb: { heap: perUnit(withIdle, withStreams, STREAMS, 'heap_used_mb'), rss: perUnit(withIdle, withStreams, STREAMS, 'rss_mb'), external: perUnit(withIdle, withStreams, STREAMS, 'external_mb') },
    commit_latency_ms: { commits: latencies.length, p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: percentile(latencies, 100) },
    stream_wer: wers,
    stream_closes: done.map((d) => d.result.close.code),
  });
  console.log(`load figures: ${file}`);

  expect(refused).toBeUndefined();
  expect(stillOpen).toBe(IDLE);
  for (const d of done) {
    expect(d.result.errors).toEqual([]);
    expect(d.result.close.code).toBe(1000);
  }
  for (const w of wers) expect(w).toBeLessThanOrEqual(0.2);
  expect(latencies.length).toBeGreaterThan(0);
});
