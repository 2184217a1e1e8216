/**
 * @module The official `openai` SDK's realtime WebSocket client (6.49.0, unchanged) pointed at a
 * local server. The SDK always builds a `wss:` URL; against the plain-ws test server its socket
 * connects with `net.connect` instead of `tls.connect` (ws's `createConnection` option), the recipe
 * of ../shared/reference/streaming-protocols.md §A.9.
 */
import net from 'node:net';
import OpenAI from 'openai';
import { OpenAIRealtimeWS as BetaRealtimeWS } from 'openai/beta/realtime/ws';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { pcm16ToInt16, int16ToPcm16 } from '../../src/audio/pcm.js';

export interface RtEvent {
  type: string;
  at: number;
  [key: string]: unknown;
}

export interface RtConnection {
  rt: OpenAIRealtimeWS | BetaRealtimeWS;
  events: RtEvent[];
  errors: Array<{ message: string; error?: unknown }>;
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves when an event matching `pred` has arrived (rejects after `timeoutMs`). */
  waitFor(pred: (e: RtEvent) => boolean, timeoutMs?: number): Promise<RtEvent>;
}

/** Open a realtime session with the SDK's ws client (`beta`: the beta dialect class). */
export function rtConnect(httpUrl: string, opts: { apiKey?: string; beta?: boolean; model?: string } = {}): RtConnection {
  const client = new OpenAI({ apiKey: opts.apiKey ?? 'test-key-000000', baseURL: `${httpUrl}/v1` });
  const options = { createConnection: (o: net.NetConnectOpts) => net.connect(o) } as never;
  const rt = opts.beta
    ? new BetaRealtimeWS({ model: opts.model ?? 'whisper-1', options }, client)
    : new OpenAIRealtimeWS({ model: opts.model ?? 'whisper-1', options }, client);
  const events: RtEvent[] = [];
  const errors: Array<{ message: string; error?: unknown }> = [];
  let waiters: Array<() => void> = [];
  const emitter = rt as unknown as { on(event: string, fn: (e: never) => void): void };
  emitter.on('event', (e: { type: string }) => {
    events.push({ ...(e as RtEvent), at: Date.now() });
    for (const w of waiters.splice(0)) w();
  });
  emitter.on('error', (err: { message: string; error?: unknown }) => errors.push({ message: err.message, error: err.error }));
  const opened = new Promise<void>((resolve, reject) => {
    rt.socket.once('open', () => resolve());
    rt.socket.once('error', reject);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => rt.socket.once('close', (code, reason) => {
    for (const w of waiters.splice(0)) w();
    resolve({ code, reason: reason.toString() });
  }));
  const waitFor = async (pred: (e: RtEvent) => boolean, timeoutMs = 120_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find(pred);
      if (found) return found;
      if (rt.socket.readyState === rt.socket.CLOSED) throw new Error(`socket closed while waiting; events: ${events.map((e) => e.type).join(', ')}`);
      if (Date.now() > until) throw new Error(`timed out; events: ${events.map((e) => e.type).join(', ')}`);
      let wake!: () => void;
      await new Promise<void>((resolve) => {
        wake = resolve;
        waiters.push(resolve);
        setTimeout(resolve, 500);
      });
      waiters = waiters.filter((w) => w !== wake);
    }
  };
  return { rt, events, errors, opened, closed, waitFor };
}

/** 16 kHz s16le → 24 kHz s16le (what audio/pcm is). */
export function to24k(pcm16k: Uint8Array): Buffer {
  // Linear interpolation (plenty for speech tests; the server's resampler only goes down to 16 kHz).
  const s = pcm16ToInt16(pcm16k);
  const out = new Int16Array(Math.floor((s.length * 3) / 2));
  for (let i = 0; i < out.length; i++) {
    const x = (i * 2) / 3;
    const a = Math.floor(x);
    const t = x - a;
    out[i] = Math.round((s[a] ?? 0) * (1 - t) + (s[Math.min(a + 1, s.length - 1)] ?? 0) * t);
  }
  return Buffer.from(int16ToPcm16(out));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Send audio as input_audio_buffer.append events of `chunkBytes`, one every `pauseMs`. */
export async function rtAppend(c: RtConnection, audio: Uint8Array, chunkBytes: number, pauseMs: number): Promise<void> {
  for (let at = 0; at < audio.length; at += chunkBytes) {
    c.rt.send({ type: 'input_audio_buffer.append', audio: Buffer.from(audio.subarray(at, at + chunkBytes)).toString('base64') });
    if (pauseMs) await sleep(pauseMs);
  }
}
