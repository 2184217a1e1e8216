/**
 * A short fuzzing run of the hosted-API routes, /v1/listen (Deepgram) and /v1/realtime (OpenAI),
 * against the real server and sidecar: random and mutated query strings, text frames, events and
 * audio (bad base64, wrong audio format, unknown events, oversize events, empty frames, real PCM).
 * Every reply is one of that protocol's own messages, every error carries a stable code of
 * src/errors.ts (never internal_error), every close code is a documented one, an upgrade is
 * refused only with 400; no crash, no unhandled rejection, no console.error, the sidecar never
 * restarts, and a /ws/transcribe session afterwards still transcribes.
 */
import fc from 'fast-check';
import { afterEach, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { AUDIO_DIR, readWavPcm } from '../helpers/audio.js';
import { isKnownCode } from '../helpers/reliability.js';
import { useServer } from '../helpers/server.js';
import { streamPcm, wsUrl } from '../helpers/ws-client.js';
import { wer } from '../helpers/wer.js';

const server = useServer({ LOG_LEVEL: 'info', WS_IDLE_TIMEOUT_MS: '5000' });
const consoleError = vi.spyOn(console, 'error');
afterEach(() => {
  expect(consoleError.mock.calls.map((c) => String(c[0]).slice(0, 200))).toEqual([]);
});

const pcm = readWavPcm(`${AUDIO_DIR}/jfk.wav`);
const LIMIT = 1024 * 1024; // WS_MAX_MESSAGE_BYTES default
const ALLOWED_CLOSE = new Set([1000, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011, 1013]);
const DG_TYPES = new Set(['Results', 'Metadata', 'UtteranceEnd', 'SpeechStarted', 'Error', 'ConfigureFailure']);
const RT_TYPES = new Set(['session.created', 'session.updated', 'transcription_session.created', 'transcription_session.updated', 'error', 'input_audio_buffer.speech_started', 'input_audio_buffer.speech_stopped', 'input_audio_buffer.committed', 'input_audio_buffer.cleared', 'conversation.item.added', 'conversation.item.created', 'conversation.item.done', 'conversation.item.input_audio_transcription.delta', 'conversation.item.input_audio_transcription.completed', 'conversation.item.input_audio_transcription.failed']);

type Step = { text: string } | { binary: Buffer };
interface Case { protocol: 'dg' | 'rt'; query: string; beta: boolean; steps: Step[]; ending: 'close' | 'finish' | 'none' }

const slice = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 8_000 }), fc.uint8Array({ maxLength: 3 })).map(([from, len, tail]) => {
  const start = (from * 2) % (pcm.length - 20_000);
  return Buffer.concat([pcm.subarray(start, start + len * 2), Buffer.from(tail)]);
});
const junk = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'));
const huge = fc.constantFrom(LIMIT + 10, 4 * LIMIT + 10).map((n) => 'a'.repeat(n));

const dgQuery = fc.dictionary(
  fc.constantFrom('encoding', 'sample_rate', 'channels', 'language', 'interim_results', 'punctuate', 'endpointing', 'utterance_end_ms', 'vad_events', 'diarize', 'model', 'no_delay'),
  fc.oneof(fc.constantFrom('linear16', 'mulaw', 'alaw', 'opus', '16000', '8000', '2', 'en', 'en-US', 'multi', 'xx', 'true', 'false', '300', '1000', 'nova-3'), fc.string({ maxLength: 8 })),
  { maxKeys: 4 },
).map((o) => new URLSearchParams(o).toString());
const dgText = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('{"type":"KeepAlive"}', '{"type":"Finalize"}', '{"type":"Configure","keyterms":["a"]}', '{"type":"Finalize","channel":0}') },
  { weight: 2, arbitrary: junk },
  { weight: 1, arbitrary: fc.constantFrom('{"type":"Bogus"}', '{"type":5}', '') },
  { weight: 1, arbitrary: huge },
);
const dgStep: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: dgText.map((text) => ({ text })) },
  { weight: 4, arbitrary: slice.map((binary) => ({ binary })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2_000 }).map((b) => ({ binary: Buffer.from(b) })) },
  { weight: 1, arbitrary: fc.constantFrom(0, LIMIT + 2).map((n) => ({ binary: Buffer.alloc(n) })) },
);

const b64 = (b: Buffer) => b.toString('base64');
const rtText = fc.oneof(
  { weight: 4, arbitrary: slice.map((b) => JSON.stringify({ type: 'input_audio_buffer.append', audio: b64(b) })) },
  { weight: 2, arbitrary: fc.constantFrom('{"type":"input_audio_buffer.commit"}', '{"type":"input_audio_buffer.clear"}', '{"type":"response.create"}', '{"type":"conversation.item.create","item":{}}') },
  { weight: 2, arbitrary: fc.record({ format: fc.constantFrom({ type: 'audio/pcm', rate: 24000 }, { type: 'audio/pcm', rate: 16000 }, { type: 'audio/pcmu' }, { type: 'opus' }, 'pcm16'), td: fc.constantFrom(null, { type: 'server_vad' }, { type: 'semantic_vad' }, { type: 'server_vad', threshold: 3 }), lang: fc.constantFrom('en', 'xx', null, 5) }).map(({ format, td, lang }) => JSON.stringify({ type: 'session.update', session: { type: 'transcription', audio: { input: { format, turn_detection: td, transcription: { model: 'whisper-1', language: lang } } } } })) },
  { weight: 1, arbitrary: fc.constantFrom('{"type":"transcription_session.update","session":{"input_audio_format":"g711_alaw","turn_detection":null}}', '{"type":"session.update","session":{"type":"realtime"}}', '{"type":"input_audio_buffer.append","audio":"###"}', '{"type":"input_audio_buffer.append","audio":5}') },
  { weight: 2, arbitrary: junk },
  { weight: 1, arbitrary: huge },
);
const rtStep: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: rtText.map((text) => ({ text })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ binary: Buffer.from(b) })) },
);

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  fc.record({ protocol: fc.constant('dg' as const), query: dgQuery, beta: fc.constant(false), steps: fc.array(dgStep, { minLength: 1, maxLength: 6 }), ending: fc.constantFrom('close' as const, 'finish' as const, 'none' as const) }),
  fc.record({ protocol: fc.constant('rt' as const), query: fc.constantFrom('intent=transcription', 'model=whisper-1', ''), beta: fc.boolean(), steps: fc.array(rtStep, { minLength: 1, maxLength: 6 }), ending: fc.constantFrom('close' as const, 'finish' as const, 'none' as const) }),
);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function until(done: () => boolean, maxMs: number): Promise<void> {
  for (const end = Date.now() + maxMs; !done() && Date.now() < end;) await sleep(100);
}

/** Run one case; returns the problems found. */
async function runCase(c: Case): Promise<string[]> {
  const path = c.protocol === 'dg' ? '/v1/listen' : '/v1/realtime';
  const url = `${server().url.replace(/^http/, 'ws')}${path}?${c.query}`;
  const ws = new WebSocket(url, { headers: c.beta ? { 'OpenAI-Beta': 'realtime=v1' } : {} });
  const messages: Array<Record<string, unknown>> = [];
  const problems: string[] = [];
  ws.on('message', (d, isBinary) => {
    if (isBinary) return void problems.push('binary reply');
    try {
      messages.push(JSON.parse(d.toString()) as Record<string, unknown>);
    } catch {
      problems.push(`reply is not JSON: ${d.toString().slice(0, 80)}`);
    }
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const status = await new Promise<number>((resolve) => {
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(0));
  });
  if (status !== 101) {
    if (status !== 400) problems.push(`upgrade answered ${status} for ${c.query}`);
    ws.terminate();
    return problems;
  }
  for (const step of c.steps) if (ws.readyState === WebSocket.OPEN) ws.send('text' in step ? step.text : step.binary, { binary: 'binary' in step });
  if (c.ending === 'finish' && ws.readyState === WebSocket.OPEN) ws.send(c.protocol === 'dg' ? '{"type":"CloseStream"}' : '{"type":"input_audio_buffer.commit"}');
  if (c.ending === 'close' && ws.readyState === WebSocket.OPEN) ws.close(1000);
  // A Deepgram CloseStream ends with a close after the drain; a Realtime commit with `completed` (or an error).
  const settled = c.ending !== 'finish' ? sleep(1_000) : c.protocol === 'dg' ? sleep(20_000) : until(() => messages.some((m) => m.type === 'conversation.item.input_audio_transcription.completed' || m.type === 'error'), 10_000);
  const code = await Promise.race([closed, settled.then(() => undefined)]);
  ws.terminate();
  for (const m of messages) {
    const type = String(m.type);
    if (!(c.protocol === 'dg' ? DG_TYPES : RT_TYPES).has(type)) problems.push(`unexpected ${c.protocol} message ${JSON.stringify(m).slice(0, 120)}`);
    const errCode = c.protocol === 'dg' ? (type === 'Error' ? m.code : undefined) : (type === 'error' ? (m.error as { code?: unknown } | undefined)?.code : undefined);
    if ((type === 'Error' || type === 'error') && (!isKnownCode(errCode) || errCode === 'internal_error')) problems.push(`error code ${String(errCode)}`);
  }
  if (code !== undefined && !ALLOWED_CLOSE.has(code)) problems.push(`close code ${code}`);
  return problems;
}

it('fuzzed Deepgram and Realtime input: only each protocol\'s own messages and stable codes; the server and its other routes unaffected', async () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => void rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  const deadline = Date.now() + 50_000;
  const seed = Date.now() % 2 ** 31;
  let cases = 0;
  try {
    await fc.assert(fc.asyncProperty(fc.array(caseArb, { minLength: 3, maxLength: 3 }), async (batch) => {
      if (Date.now() > deadline) return;
      const results = await Promise.all(batch.map(runCase));
      cases += batch.length;
      const problems = results.flat();
      if (problems.length > 0) throw new Error(problems.join('; '));
    }), { numRuns: 20, seed });
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  expect(rejections).toEqual([]);
  expect(cases).toBeGreaterThanOrEqual(12);
  const health = await (await fetch(`${server().url}/health`)).json() as { status: string; sidecar: { restarts: number } };
  expect(health).toMatchObject({ status: 'healthy', sidecar: { restarts: 0 } });
  const r = await streamPcm(wsUrl(server().url), pcm, { chunkBytes: 32_000 });
  expect(wer('And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.', String(r.final?.text))).toBeLessThanOrEqual(0.1);
}, 240_000);
