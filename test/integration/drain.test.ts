/**
 * Drain without loss, against real processes (the real sidecar and model): a server started as
 * production starts it (`node --import tsx src/main.ts`) gets SIGTERM while a /ws/transcribe
 * stream and a Deepgram /v1/listen stream run at real time. During the drain /readyz is 503,
 * /livez 200, new sessions (all three routes) and uploads are refused with `draining`; the stream
 * that ends by itself ends normally (1000), the one still open at STREAM_DRAIN_MS gets a final
 * with all its audio and close 1012; the process exits 0 with its sidecar gone. A second,
 * in-process server drains a held Deepgram and a held Realtime stream through close().
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server.js';
import { AUDIO_DIR } from '../helpers/audio.js';
import { startChildServer, type ChildServer } from '../helpers/child-server.js';
import { dgConnect, dgStream, type DgResults } from '../helpers/deepgram-client.js';
import { rtAppend, rtConnect, to24k } from '../helpers/realtime-client.js';
import { alive, testConfig, testLogger, waitForState } from '../helpers/server.js';
import { wer } from '../helpers/wer.js';
import { wsUrl } from '../helpers/ws-client.js';
import { DRAIN_CLIPS, DRAIN_MAX_WER, liveStream, refusal } from '../helpers/live-stream.js';

const { jfk, jfkText, short, shortText } = DRAIN_CLIPS;
const MAX_WER = DRAIN_MAX_WER;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children: ChildServer[] = [];
afterAll(() => {
  for (const c of children) c.kill();
});

describe('drain on SIGTERM (production entry, child process)', () => {
  it('refuses new work with draining, lets a stream that ends finish with 1000, finalizes the held one at STREAM_DRAIN_MS with 1012, exits 0', async () => {
    const server = await startChildServer({ STREAM_DRAIN_MS: '25000', SHUTDOWN_GRACE_MS: '60000', WS_PING_INTERVAL_MS: '1000' });
    children.push(server);
    await server.ready();
    const sidecarPid = ((await (await fetch(`${server.url}/health`)).json()) as { sidecar: { pid: number } }).sidecar.pid;

    // Held: jfk at real time, then silence (a live microphone) until the server closes it.
    const held = await liveStream(wsUrl(server.url), jfk);
    // Natural: the official Deepgram SDK streams a short clip at real time, then CloseStream.
    const natural = dgStream(server.url, short, { encoding: 'linear16', sample_rate: 16000, interim_results: true, punctuate: true }, { chunkBytes: 3_200, pauseMs: 100 });
    await sleep(2_000);
    const signalAt = Date.now();
    server.child.kill('SIGTERM');
    await sleep(500);

    // While draining: not ready, alive, health says so, metrics say so.
    const readyz = await fetch(`${server.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({ status: 'not_ready', reason: 'draining' });
    expect((await fetch(`${server.url}/livez`)).status).toBe(200);
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { status: string }).status).toBe('draining');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^whisper_draining 1$/m);
    expect(metrics).toMatch(/^whisper_sessions_max 64$/m);
    expect(metrics).toMatch(/^whisper_sessions 2$/m);

    // New work is refused with the draining code, in each protocol's own shape.
    const ws = await refusal(wsUrl(server.url));
    expect(ws.messages[0]).toMatchObject({ type: 'error', code: 'draining' });
    expect(ws.close.code).toBe(1013);
    const dg = await refusal(`${server.url.replace(/^http/, 'ws')}/v1/listen?encoding=linear16&sample_rate=16000`, { authorization: 'Token anything-123456' });
    expect(dg.messages[0]).toMatchObject({ type: 'Error', code: 'draining' });
    expect(dg.close.code).toBe(1013);
    const rt = await refusal(`${server.url.replace(/^http/, 'ws')}/v1/realtime?model=whisper-1`, { authorization: 'Bearer anything-123456' });
    expect(rt.messages.find((m) => m.type === 'error')).toMatchObject({ error: { code: 'draining' } });
    expect(rt.close.code).toBe(1013);
    const form = new FormData();
    form.append('file', new Blob([readFileSync(path.join(AUDIO_DIR, 'jfk.wav'))]), 'jfk.wav');
    form.append('model', 'whisper-1');
    const upload = await fetch(`${server.url}/v1/audio/transcriptions`, { method: 'POST', body: form });
    expect(upload.status).toBe(503);
    expect(upload.headers.get('retry-after')).toBe('1');
    expect(((await upload.json()) as { error: { code: string } }).error.code).toBe('draining');

    // The stream that ended by itself inside the drain time: a normal end.
    const n = await natural;
    const naturalClosedAfterMs = Date.now() - signalAt;
    expect(n.close.code).toBe(1000);
    expect(wer(shortText, n.text), n.text).toBeLessThanOrEqual(0.35);
    expect(n.messages.at(-1)!.type).toBe('Metadata');
    // Its final (at least) was observed as a real-time lag; the server still answers while the held stream runs.
    const lag = await (await fetch(`${server.url}/metrics`)).text();
    expect(Number(/^whisper_stream_lag_seconds_count (\d+)$/m.exec(lag)?.[1])).toBeGreaterThan(0);

    // The held stream: at the deadline its final has every word it sent, then 1012.
    const h = await held.result;
    const closedAfterMs = Date.now() - signalAt;
    expect(h.close.code).toBe(1012);
    const final = h.messages.find((m) => m.type === 'final') as { text: string; duration_s: number } | undefined;
    expect(final, JSON.stringify(h.messages.slice(-3))).toBeDefined();
    expect(final!.duration_s).toBeGreaterThanOrEqual(jfk.length / 32_000);
    expect(wer(jfkText, final!.text), final!.text).toBeLessThanOrEqual(MAX_WER);
    expect(h.messages.at(-1)!.type).toBe('final');
    expect(closedAfterMs).toBeGreaterThanOrEqual(25_000);
    expect(held.pings(), 'server-sent pings kept coming').toBeGreaterThan(10);

    expect(await server.exited).toBe(0);
    const drained = server.logs().find((l) => l.msg === 'drained');
    expect(drained, server.output().slice(-2000)).toMatchObject({ streams: 2, endedNaturally: 1, finalizedAtDeadline: 1, cut: 0 });
    expect(alive(sidecarPid)).toBe(false);
    console.log(`drain: SIGTERM → natural stream closed 1000 after ${naturalClosedAfterMs} ms; held stream's final + 1012 after ${closedAfterMs} ms (STREAM_DRAIN_MS 25000); drain ${String(drained!.drainMs)} ms`);
  });
});

describe('drain through close() (in-process)', () => {
  it('a held Deepgram stream gets its final Results + Metadata and 1012; a held Realtime item is completed, then 1012', async () => {
    const { log } = testLogger();
    const server = await startServer(testConfig({ STREAM_DRAIN_MS: '1000', SHUTDOWN_GRACE_MS: '60000', WS_PING_INTERVAL_MS: '1000' }), log);
    try {
      await waitForState(server.supervisor, 'ready');
      const dg = await dgConnect(server.url, { encoding: 'linear16', sample_rate: 16000, interim_results: true, punctuate: true });
      const rt = rtConnect(server.url);
      await rt.waitFor((e) => e.type === 'session.created');
      rt.rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'whisper-1', language: 'en' }, turn_detection: null } } } } as never);
      await rt.waitFor((e) => e.type === 'session.updated');
      let holding = true;
      const dgSend = (async () => {
        // Until the server closes it (the SDK throws on a closed socket).
        const open = () => holding && dg.conn.readyState === 1;
        for (let at = 0; at < jfk.length && open(); at += 3_200) { dg.conn.sendMedia(jfk.subarray(at, at + 3_200)); await sleep(100); }
        while (open()) { dg.conn.sendMedia(new Uint8Array(3_200)); await sleep(100); }
      })();
      const rtSend = (async () => {
        await rtAppend(rt, to24k(jfk), 4_800, 100);
        while (holding && rt.rt.socket.readyState === 1) await rtAppend(rt, new Uint8Array(4_800), 4_800, 100);
      })();
      await sleep(jfk.length / 32 + 1_000);
      const closing = server.close();
      const dgClose = await dg.closed;
      const rtClose = await rt.closed;
      holding = false;
      await Promise.allSettled([dgSend, rtSend, closing]);

      expect(dgClose.code).toBe(1012);
      const finals = dg.messages.filter((m) => m.type === 'Results' && (m as DgResults).is_final) as DgResults[];
      const dgText = finals.map((f) => f.channel.alternatives[0]!.transcript).filter(Boolean).join(' ');
      expect(wer(jfkText, dgText), dgText).toBeLessThanOrEqual(MAX_WER);
      expect(dg.messages.at(-1)!.type).toBe('Metadata');

      expect(rtClose.code).toBe(1012);
      const completed = rt.events.filter((e) => e.type === 'conversation.item.input_audio_transcription.completed');
      expect(completed.length).toBeGreaterThanOrEqual(1);
      const rtText = completed.map((e) => String(e.transcript)).join(' ');
      expect(wer(jfkText, rtText), rtText).toBeLessThanOrEqual(MAX_WER);
    } finally {
      await server.close();
    }
  });
});
