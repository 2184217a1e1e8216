/**
 * Bad input on /ws/transcribe, against a real server with the real sidecar: each gets
 * `{type:"error", code, message}` and, where fatal, its close code; a good session streaming real
 * speech beside them all the while gets its correct final, so other sessions never notice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { manifest, readWavPcm } from '../helpers/audio.js';
import { testConfig, testLogger, waitForState } from '../helpers/server.js';
import { wer } from '../helpers/wer.js';
import { streamPcm, WsClient, wsUrl, type StreamedSession } from '../helpers/ws-client.js';

let server: RunningServer;
let url: string;
let bystander: Promise<StreamedSession>;
const MAX_MESSAGE = 64 * 1024;

beforeAll(async () => {
  const config = testConfig({ LOG_LEVEL: 'info', WS_MAX_MESSAGE_BYTES: String(MAX_MESSAGE), WS_MAX_SESSION_S: '4', WS_IDLE_TIMEOUT_MS: '1500' });
  server = await startServer(config, testLogger().log);
  await waitForState(server.supervisor, 'ready');
  url = wsUrl(server.url);
  // A well-behaved session that streams 3.5 s of speech slowly while every bad input below happens.
  bystander = streamPcm(url, readWavPcm('ls-6930-75918-0000.wav'), { config: { language: 'en' }, chunkBytes: 3_200, pauseMs: 150 });
});

afterAll(async () => {
  await server?.close();
});

/** Open a session, send `frames` in order, and collect what comes back until the server closes. */
async function exchange(...frames: Array<string | Uint8Array | object>): Promise<StreamedSession> {
  const client = await WsClient.connect(url);
  for (const f of frames) client.send(f);
  return client.result();
}

const speech = () => readWavPcm('jfk.wav').subarray(0, 32_000);

describe('bad input', () => {
  it.each([
    ['an odd byte count', [new Uint8Array(3)], 'invalid_audio', 1007],
    ['text that is not JSON', ['hello'], 'invalid_message', 1007],
    ['JSON that is not an object', ['[1,2]'], 'invalid_message', 1007],
    ['an unknown message type', [{ type: 'start' }], 'unknown_message_type', 1003],
    ['config after audio', [speech(), { type: 'config', language: 'en' }], 'config_after_audio', 1008],
    ['a second config', [{ type: 'config' }, { type: 'config' }], 'config_after_audio', 1008],
    ['a sample rate outside 8000..48000', [{ type: 'config', sample_rate: 4000 }], 'invalid_config', 1007],
    ['a task that does not exist', [{ type: 'config', task: 'summarise' }], 'invalid_config', 1007],
    ['a language the model does not know', [{ type: 'config', language: 'xx' }], 'invalid_config', 1007],
    ['a binary frame over the size limit', [new Uint8Array(MAX_MESSAGE + 2)], 'message_too_large', 1009],
    ['a text frame over the size limit', [JSON.stringify({ type: 'keepalive', pad: 'x'.repeat(MAX_MESSAGE) })], 'message_too_large', 1009],
  ])('%s → %s, close %i', async (_name, frames, code, close) => {
    const r = await exchange(...(frames as Array<string | Uint8Array | object>));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ type: 'error', code });
    expect(String(r.errors[0]!.message).length).toBeGreaterThan(0);
    expect(r.close.code).toBe(close);
    expect(r.final).toBeUndefined();
  });

  it('a session over its length limit → session_too_long, close 1008', async () => {
    const silence = new Uint8Array(16_000 * 2); // 1 s
    const r = await exchange({ type: 'config' }, silence, silence, silence, silence, silence);
    expect(r.errors[0]).toMatchObject({ code: 'session_too_long' });
    expect(r.close.code).toBe(1008);
  });

  it('an idle session → idle_timeout, close 1008; keepalive keeps it open until then', async () => {
    const client = await WsClient.connect(url);
    client.send({ type: 'config' });
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 700));
      client.send({ type: 'keepalive' });
    }
    expect(client.messages).toEqual([]);
    const r = await client.result();
    expect(r.errors[0]).toMatchObject({ code: 'idle_timeout' });
    expect(r.close.code).toBe(1008);
  });

  it('other sessions never notice', async () => {
    const r = await bystander;
    expect(r.errors).toEqual([]);
    expect(r.close.code).toBe(1000);
    const reference = manifest().find((f) => f.file === 'ls-6930-75918-0000.wav')!.transcript;
    expect(wer(reference, String(r.final!.text))).toBeLessThanOrEqual(0.2);
  });
});

describe('a full queue', () => {
  it('sessions get `overloaded` (close 1013) instead of the queue growing', async () => {
    const small = await startServer(testConfig({ LOG_LEVEL: 'info', SCHEDULER_QUEUE_MAX: '1' }), testLogger().log);
    try {
      await waitForState(small.supervisor, 'ready');
      const pcm = readWavPcm('jfk.wav').subarray(0, 16_000 * 2 * 3);
      const results = await Promise.all(Array.from({ length: 5 }, () => streamPcm(wsUrl(small.url), pcm, { config: { language: 'en' }, chunkBytes: pcm.length })));
      const overloaded = results.filter((r) => r.errors.some((e) => e.code === 'overloaded'));
      expect(overloaded.length).toBeGreaterThan(0);
      for (const r of overloaded) expect(r.close.code).toBe(1013);
      for (const r of results.filter((x) => !overloaded.includes(x))) expect(r.final?.type).toBe('final');
    } finally {
      await small.close();
    }
  });
});
