/**
 * Slow and abrupt WebSocket clients against the real server and sidecar, with a short idle timeout
 * (WS_IDLE_TIMEOUT_MS=2000): one that stops reading, one that hangs up in the middle of a frame,
 * one that stalls in the middle of a frame, one that never sends `end`. The server's side of each
 * connection must be gone within the idle timeout plus a grace, while a bystander session
 * streaming real speech at the same time gets its normal final. Figures: bench/results/reliability-slow-clients.json.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { manifest, readWavPcm } from '../helpers/audio.js';
import { clientFrame, RawWs } from '../helpers/raw-ws.js';
import { sleep, writeFigures } from '../helpers/reliability.js';
import { testConfig, testLogger, waitForState } from '../helpers/server.js';
import { wer } from '../helpers/wer.js';
import { streamPcm, WsClient, wsUrl } from '../helpers/ws-client.js';

const IDLE_MS = 2_000;
/** The server closes after the idle timeout; a client that never answers the close gets this long more. */
const GRACE_MS = 8_000;
let server: RunningServer;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  server = await startServer(testConfig({ LOG_LEVEL: 'info', WS_IDLE_TIMEOUT_MS: String(IDLE_MS) }), testLogger().log);
  await waitForState(server.supervisor, 'ready');
});

afterAll(async () => {
  writeFigures('slow-clients', { command: 'npx vitest run test/integration/ws-slow-clients.test.ts', idle_timeout_ms: IDLE_MS, ...figures });
  await server?.close();
});

/** The server's end of the connection whose client side is on `clientPort`, while it is open. */
function serverSide(clientPort: number): net.Socket | undefined {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.find((h): h is net.Socket => h instanceof net.Socket && h.localPort === server.port && h.remotePort === clientPort && !h.destroyed);
}

/** Milliseconds until the server's end of `clientPort` is closed, or null if it is still open after `ms`. */
async function serverReleases(clientPort: number, ms: number): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (!serverSide(clientPort)) return Date.now() - started;
    await sleep(50);
  }
  return null;
}

/** A session streaming jfk.wav at twice real-time pace while the misbehaving clients run; it must not notice them. */
function bystander() {
  return streamPcm(wsUrl(server.url), readWavPcm('jfk.wav'), { config: { language: 'en' }, chunkBytes: 16_000, pauseMs: 250 }); // twice real time
}

function expectBystanderFine(r: Awaited<ReturnType<typeof bystander>>) {
  const reference = manifest().find((f) => f.file === 'jfk.wav')!.transcript;
  expect(r.errors).toEqual([]);
  expect(r.close.code).toBe(1000);
  expect(wer(reference, String(r.final?.text ?? ''))).toBeLessThanOrEqual(0.1);
}

it('a client that stops reading and then goes quiet is closed and released after the idle timeout', async () => {
  const other = bystander();
  const client = await WsClient.connect(wsUrl(server.url));
  const socket = (client.ws as unknown as { _socket: net.Socket })._socket;
  const port = socket.localPort!;
  client.send({ type: 'config', language: 'en' });
  socket.pause(); // never read another byte: replies pile up in the kernel buffers
  const pcm = readWavPcm('fleurs-en-001.wav');
  for (let at = 0; at < pcm.length; at += 3_200) client.send(pcm.subarray(at, at + 3_200));
  expect(serverSide(port)).toBeDefined();
  const releasedMs = await serverReleases(port, IDLE_MS + GRACE_MS + 10_000);
  figures.stopped_reading_release_ms = releasedMs;
  expect(releasedMs, 'server end still open').not.toBeNull();
  expect(releasedMs!).toBeLessThanOrEqual(IDLE_MS + GRACE_MS);
  client.ws.terminate();
  expectBystanderFine(await other);
});

it('a client that hangs up in the middle of a frame is released at once', async () => {
  const other = bystander();
  const raw = await RawWs.connect(server.port, '/ws/transcribe');
  const port = raw.socket.localPort!;
  raw.write(clientFrame(1, Buffer.from('{"type":"config","language":"en"}')));
  const audio = readWavPcm('jfk.wav').subarray(0, 32_000);
  raw.write(clientFrame(2, audio).subarray(0, 1_000)); // header says 32000 bytes; 1000 of the frame arrive
  await sleep(200);
  raw.destroy();
  const releasedMs = await serverReleases(port, IDLE_MS + GRACE_MS);
  figures.hangup_mid_frame_release_ms = releasedMs;
  expect(releasedMs, 'server end still open').not.toBeNull();
  expectBystanderFine(await other);
});

it('a client that stalls in the middle of a frame is closed with idle_timeout and released', async () => {
  const raw = await RawWs.connect(server.port, '/ws/transcribe');
  const port = raw.socket.localPort!;
  raw.write(clientFrame(2, readWavPcm('jfk.wav').subarray(0, 32_000)).subarray(0, 5_000));
  const releasedMs = await serverReleases(port, IDLE_MS + GRACE_MS + 10_000);
  figures.stalled_mid_frame_release_ms = releasedMs;
  expect(raw.texts()).toContainEqual(expect.objectContaining({ type: 'error', code: 'idle_timeout' }));
  expect(raw.closeCode()).toBe(1008);
  expect(releasedMs, 'server end still open').not.toBeNull();
  expect(releasedMs!).toBeLessThanOrEqual(IDLE_MS + GRACE_MS);
  raw.destroy();
});

it('a client that streams and never sends end gets idle_timeout (1008) and is released; others are untouched', async () => {
  const other = bystander();
  const client = await WsClient.connect(wsUrl(server.url));
  const port = (client.ws as unknown as { _socket: net.Socket })._socket.localPort!;
  client.send({ type: 'config', language: 'en' });
  const pcm = readWavPcm('ls-6930-75918-0000.wav');
  for (let at = 0; at < pcm.length; at += 16_000) client.send(pcm.subarray(at, at + 16_000));
  const sentAt = Date.now();
  const r = await client.result();
  figures.never_end_close_after_ms = Date.now() - sentAt;
  expect(r.final).toBeUndefined();
  expect(r.errors.map((e) => e.code)).toEqual(['idle_timeout']);
  expect(r.close.code).toBe(1008);
  const releasedMs = await serverReleases(port, GRACE_MS);
  figures.never_end_release_ms = releasedMs;
  expect(releasedMs).not.toBeNull();
  expectBystanderFine(await other);
});

it('a client waiting for its finalize reply while the model is busy longer than the idle timeout is not timed out', async () => {
  // A 22 s file occupies the model first, so the finalize flush waits behind it for well over IDLE_MS.
  const file = Buffer.concat([readWavPcm('fleurs-en-002.wav'), readWavPcm('fleurs-en-000.wav')]);
  const busy = server.scheduler.transcribeFile({ items: [{ audio: file, language: 'en' }] });
  const client = await WsClient.connect(wsUrl(server.url));
  client.send({ type: 'config', language: 'en' });
  const pcm = readWavPcm('jfk.wav');
  for (let at = 0; at < pcm.length; at += 32_000) client.send(pcm.subarray(at, at + 32_000));
  client.send({ type: 'finalize' });
  const askedAt = Date.now();
  const finalized = await client.waitFor((m) => m.type === 'interim' && m.finalized === true || m.type === 'error');
  figures.finalize_reply_after_ms = Date.now() - askedAt;
  await busy;
  expect(finalized).toMatchObject({ type: 'interim', finalized: true });
  client.send({ type: 'end' });
  const r = await client.result();
  expect(r.errors).toEqual([]);
  expect(r.close.code).toBe(1000);
  expect(String(r.final!.text).startsWith(String(finalized!.committed))).toBe(true);
  const reference = manifest().find((f) => f.file === 'jfk.wav')!.transcript;
  expect(wer(reference, String(r.final!.text))).toBeLessThanOrEqual(0.1);
});
