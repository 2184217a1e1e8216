/** @module The official @deepgram/sdk live client, unchanged, pointed at a local server: streams PCM and records every message. */
import { DeepgramClient } from '@deepgram/sdk';
import WebSocket from 'ws';

export interface DgMessage {
  type: string;
  at: number;
  [key: string]: unknown;
}

export interface DgResults extends DgMessage {
  is_final: boolean;
  speech_final: boolean;
  from_finalize: boolean;
  start: number;
  duration: number;
  channel: { alternatives: Array<{ transcript: string; confidence: number; words: Array<{ word: string; start: number; end: number; confidence: number; punctuated_word?: string; speaker?: number }> }> };
}

export interface DgSession {
  messages: DgMessage[];
  results: DgResults[];
  finals: DgResults[];
  /** Concatenated final transcripts. */
  text: string;
  close: { code: number; reason: string };
  errors: Error[];
  /** ms from the first audio frame sent to each message. */
  sentAt: number;
  audioDoneAt: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Open a live connection with the official SDK. */
export async function dgConnect(baseUrl: string, query: Record<string, unknown>, opts: { apiKey?: string } = {}) {
  const client = new DeepgramClient({ apiKey: opts.apiKey ?? 'test-key-000000', baseUrl: baseUrl.replace(/^http/, 'ws') });
  const conn = await client.listen.v1.connect({ model: 'nova-3', ...query, reconnectAttempts: 0 } as Parameters<typeof client.listen.v1.connect>[0]);
  const messages: DgMessage[] = [];
  const errors: Error[] = [];
  let resolveClose!: (c: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClose = r));
  conn.on('message', (m) => messages.push({ ...(m as unknown as DgMessage), at: Date.now() }));
  conn.on('error', (e) => errors.push(e));
  conn.on('close', (e) => resolveClose({ code: e.code, reason: e.reason }));
  conn.connect();
  await conn.waitForOpen();
  return { conn, messages, errors, closed };
}

/**
 * Stream PCM (16 kHz s16le unless the query says otherwise) in `chunkBytes` frames every `pauseMs`;
 * `finalizeAt`: byte offsets after which a Finalize is sent; then CloseStream, and wait for the close.
 */
export async function dgStream(baseUrl: string, audio: Uint8Array, query: Record<string, unknown>, opts: { chunkBytes?: number; pauseMs?: number; finalizeAt?: number[]; apiKey?: string; holdUntil?: (messages: DgMessage[]) => boolean; holdMaxS?: number } = {}): Promise<DgSession> {
  const { conn, messages, errors, closed } = await dgConnect(baseUrl, query, opts);
  const chunk = opts.chunkBytes ?? 3_200;
  const finalizeAt = [...(opts.finalizeAt ?? [])];
  const sentAt = Date.now();
  for (let at = 0; at < audio.length; at += chunk) {
    conn.sendMedia(audio.subarray(at, at + chunk));
    if (finalizeAt.length > 0 && at + chunk >= finalizeAt[0]!) {
      finalizeAt.shift();
      conn.sendFinalize({ type: 'Finalize' });
    }
    if (opts.pauseMs) await sleep(opts.pauseMs);
  }
  const audioDoneAt = Date.now();
  // On a busy machine the model lags: keep the stream going with silence (as a live source would)
  // until what the test waits for has come, so it is not overtaken by CloseStream.
  if (opts.holdUntil) {
    const silence = new Uint8Array(chunk);
    const until = Date.now() + (opts.holdMaxS ?? 60) * 1000;
    while (!opts.holdUntil(messages) && Date.now() < until) {
      conn.sendMedia(silence);
      await sleep(opts.pauseMs ?? 100);
    }
  }
  conn.sendCloseStream({ type: 'CloseStream' });
  const close = await closed;
  const results = messages.filter((m) => m.type === 'Results') as DgResults[];
  const finals = results.filter((r) => r.is_final);
  return { messages, results, finals, text: finals.map((f) => f.channel.alternatives[0]!.transcript).filter(Boolean).join(' '), close, errors, sentAt, audioDoneAt };
}

/** The HTTP status a WebSocket upgrade is answered with (101 when it opens). */
export function upgradeStatus(httpUrl: string, init: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(httpUrl.replace(/^http/, 'ws'), init.protocols ?? [], init);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', () => resolve(0));
  });
}

/**
 * WER of the same 16 kHz audio streamed through /ws/transcribe at the same pace: the engine under
 * every protocol is the same, so a protocol's transcript is held to max(bound, this + 0.05) — the
 * bound on an idle machine, and no worse than /ws/transcribe where the engine itself does worse.
 */
export async function wsWer(httpUrl: string, pcm16k: Uint8Array, reference: string, pace: { chunkBytes: number; pauseMs: number } = { chunkBytes: 3_200, pauseMs: 100 }): Promise<{ wer: number; text: string }> {
  const { streamPcm, wsUrl } = await import('./ws-client.js');
  const { wer } = await import('./wer.js');
  const r = await streamPcm(wsUrl(httpUrl), pcm16k, { config: { language: 'en' }, ...pace });
  const text = String(r.final?.text ?? '');
  return { wer: wer(reference, text), text };
}
