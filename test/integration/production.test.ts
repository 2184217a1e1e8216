/**
 * Production surface against a real server with the real sidecar: API keys over HTTP and every
 * WebSocket token place, CORS, session and per-key limits, /metrics after real decodes and a real
 * sidecar crash, request ids in the logs (and no key in them), the OpenAPI document checked
 * against real responses, and GET / for browsers vs JSON clients.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { RESPONSE_FORMATS } from '../../src/files/formats.js';
import { healthSchema, modelListSchema, rootSchema, transcriptionVerboseSchema } from '../../src/http/openapi.js';
import { AUDIO_DIR, manifest, readWavPcm } from '../helpers/audio.js';
import { testConfig, testLogger, waitForState, type LogCapture } from '../helpers/server.js';
import { wer } from '../helpers/wer.js';
import { WsClient, wsUrl } from '../helpers/ws-client.js';
import { NO_FFMPEG } from '../helpers/ffmpeg.js';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';
const ORIGIN = 'https://app.example.com';
const jfkText = manifest().find((f) => f.file === 'jfk.wav')!.transcript;

let server: RunningServer;
let capture: LogCapture;

beforeAll(async () => {
  const t = testLogger();
  capture = t.capture;
  server = await startServer(testConfig({ API_KEYS: `${KEY_A},${KEY_B}`, CORS_ORIGINS: ORIGIN, MAX_SESSIONS: '2', MAX_CONCURRENT_PER_KEY: '1' }), t.log);
  await waitForState(server.supervisor, 'ready');
});
afterAll(() => server?.close());

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

function upload(key: string | undefined, fields: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([readFileSync(path.join(AUDIO_DIR, 'jfk.wav'))], { type: 'audio/wav' }), 'jfk.wav');
  form.append('model', 'whisper-1');
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return fetch(`${server.url}/v1/audio/transcriptions`, { method: 'POST', body: form, headers: key ? auth(key) : {} });
}

function socket(opts: { protocols?: string[]; headers?: Record<string, string>; query?: string } = {}): WsClient {
  return new WsClient(new WebSocket(wsUrl(server.url) + (opts.query ?? ''), opts.protocols ?? [], { headers: opts.headers }));
}

describe('auth', () => {
  it('leaves /, /health, /openapi.json and /docs open; GET / keeps the brief fields for JSON clients', async () => {
    for (const accept of [undefined, 'application/json', '*/*']) {
      const res = await fetch(`${server.url}/`, { headers: accept ? { accept } : {} });
      expect(res.status).toBe(200);
      rootSchema.parse(await res.json());
    }
    healthSchema.parse(await (await fetch(`${server.url}/health`)).json());
    expect((await fetch(`${server.url}/openapi.json`)).status).toBe(200);
    expect((await fetch(`${server.url}/docs`)).status).toBe(200);
  });

  it('serves the demo page to browsers at /', async () => {
    const res = await fetch(`${server.url}/`, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('/web/app.js');
    expect((await fetch(`${server.url}/web/pcm-worklet.js`)).status).toBe(200);
    expect([401, 404]).toContain((await fetch(`${server.url}/web/..%2Fpackage.json`)).status);
  });

  it.skipIf(NO_FFMPEG)('answers 401 without a key or with a wrong one, 200 with a right one', async () => {
    const none = await fetch(`${server.url}/v1/models`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await fetch(`${server.url}/v1/models`, { headers: auth('key-c-0123456789abcdef') })).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await upload(undefined)).status).toBe(401);
    const ok = await fetch(`${server.url}/v1/models`, { headers: auth(KEY_A) });
    expect(ok.status).toBe(200);
    modelListSchema.parse(await ok.json());
  });

  it.skipIf(NO_FFMPEG)('transcribes with a key; the request id is echoed and logged with the key id', async () => {
    const res = await upload(KEY_A, { response_format: 'verbose_json' });
    expect(res.status).toBe(200);
    const body = transcriptionVerboseSchema.parse(await res.json());
    expect(wer(jfkText, body.text)).toBeLessThanOrEqual(0.15);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const line = capture.lines.find((l) => l.requestId === id && l.msg === 'request');
    expect(line).toMatchObject({ method: 'POST', path: '/v1/audio/transcriptions', status: 200, key: expect.stringMatching(/^key:[0-9a-f]{8}$/) });
  });

  it('closes an unauthenticated WebSocket with 1008 and an unauthorized error frame', async () => {
    for (const opts of [{}, { query: '?token=wrong-key-0123456789' }, { protocols: ['transcribe', 'bearer.wrong-key-0123456789'] }]) {
      const result = await socket(opts).result();
      expect(result.close.code).toBe(1008);
      expect(result.errors[0]).toMatchObject({ type: 'error', code: 'unauthorized' });
    }
  });

  it('accepts the key as a header, a bearer. subprotocol (answering the other one) or ?token=', async () => {
    const pcm = readWavPcm('ls-7902-96591-0000.wav');
    for (const opts of [{ headers: auth(KEY_A) }, { protocols: ['transcribe', `bearer.${KEY_A}`] }, { query: `?token=${KEY_A}` }]) {
      const client = socket(opts);
      await client.opened;
      if (opts.protocols) expect(client.ws.protocol).toBe('transcribe');
      client.send(pcm);
      client.send({ type: 'end' });
      const result = await client.result();
      expect(result.close.code).toBe(1000);
      expect(wer('I am from the cutter lying off the coast', String(result.final?.text))).toBeLessThanOrEqual(0.3);
    }
  });
});

describe('limits', () => {
  it.skipIf(NO_FFMPEG)('refuses a session past MAX_SESSIONS (1013) and work past MAX_CONCURRENT_PER_KEY (429 / 1013)', async () => {
    const a = socket({ headers: auth(KEY_A) });
    const b = socket({ headers: auth(KEY_B) });
    await Promise.all([a.opened, b.opened]);
    await new Promise((r) => setTimeout(r, 100)); // both onOpen handlers have run
    const third = await socket({ headers: auth(KEY_A) }).result();
    expect(third.close.code).toBe(1013);
    expect(third.errors[0]?.code).toBe('too_many_sessions');
    const busy = await upload(KEY_A);
    expect(busy.status).toBe(429);
    expect(((await busy.json()) as { error: { code: string } }).error.code).toBe('too_many_requests');
    a.send({ type: 'end' });
    await a.closed;
    const later = socket({ headers: auth(KEY_A) });
    await later.opened;
    later.send({ type: 'end' });
    b.send({ type: 'end' });
    expect((await later.result()).errors).toEqual([]);
    await b.closed;
  });
});

describe('CORS', () => {
  it('allows the listed origin without credentials and ignores others', async () => {
    const preflight = { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } };
    const ok = await fetch(`${server.url}/v1/audio/transcriptions`, preflight);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
    expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const other = await fetch(`${server.url}/v1/audio/transcriptions`, { ...preflight, headers: { ...preflight.headers, origin: 'https://evil.example.com' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('metrics and restarts', () => {
  // It reads the file decodes of the tests before it, which need ffmpeg.
  it.skipIf(NO_FFMPEG)('exports sessions, queue depth, batch sizes, decode latency, real-time factor and restarts by cause, with one log line per restart', async () => {
    const before = await (await fetch(`${server.url}/metrics`, { headers: auth(KEY_A) })).text();
    for (const name of ['whisper_sessions 0', 'whisper_scheduler_queue_depth 0', 'whisper_sidecar_up 1']) expect(before).toContain(name);
    // The earlier tests decoded a file and stream windows through this server.
    expect(before).toMatch(/whisper_decode_seconds_count\{kind="file"\} [1-9]/);
    expect(before).toMatch(/whisper_decode_seconds_count\{kind="stream"\} [1-9]/);
    expect(before).toMatch(/whisper_batch_size_bucket\{le="1",kind="file"\} [1-9]/);
    expect(before).toMatch(/whisper_real_time_factor_count\{kind="file"\} [1-9]/);

    process.kill(server.supervisor.snapshot().pid!, 'SIGKILL');
    await waitForState(server.supervisor, 'restarting');
    await waitForState(server.supervisor, 'ready');
    const after = await (await fetch(`${server.url}/metrics`, { headers: auth(KEY_A) })).text();
    expect(after).toContain('whisper_sidecar_restarts_total{cause="killed by SIGKILL"} 1');
    const restartLines = capture.lines.filter((l) => l.msg === 'sidecar exited; restarting');
    expect(restartLines).toHaveLength(1);
    expect(restartLines[0]).toMatchObject({ cause: 'killed by SIGKILL', signal: 'SIGKILL', restarts: 1 });
  });
});

describe('logs', () => {
  it('never contain a key, after keys were sent as headers, subprotocols and ?token= (run last)', () => {
    const all = JSON.stringify(capture.lines);
    expect(capture.lines.length).toBeGreaterThan(20);
    expect(all).not.toContain(KEY_A);
    expect(all).not.toContain(KEY_B);
    expect(all).not.toContain('wrong-key-0123456789');
  });
});

describe('OpenAPI', () => {
  it('documents the file endpoints from the zod form schema', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    const op = doc.paths['/v1/audio/transcriptions'].post;
    const form = op.requestBody.content['multipart/form-data'].schema;
    expect(form.required).toEqual(expect.arrayContaining(['file', 'model']));
    expect(form.properties.response_format.enum).toEqual([...RESPONSE_FORMATS]);
    expect(form.properties.response_format.enum).toContain('verbose_json');
    expect(form.properties.stream.enum).toEqual(['true', 'false']);
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Error', 'TranscriptionVerbose', 'TranscriptEvent']));
    expect(doc.components.schemas.Error.properties.error.properties.code.enum).toContain('unauthorized');
  });
});
