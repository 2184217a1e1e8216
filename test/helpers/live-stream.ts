/** @module Clients for drain tests: a live /ws/transcribe stream (audio at real time, then silence until the server closes it), and a socket that records how a new session is refused. */
import WebSocket from 'ws';
import { manifest, readWavPcm } from './audio.js';
import { WsClient, type StreamedSession } from './ws-client.js';

/**
 * The drain tests' streams: jfk.wav for one held open, and a short clip for one that ends by itself
 * (on a loaded CPU its final comes well inside the drain time), with their transcripts.
 */
export const DRAIN_CLIPS = {
  jfk: readWavPcm('jfk.wav'),
  jfkText: manifest().find((f) => f.file === 'jfk.wav')!.transcript,
  short: readWavPcm('ls-6930-75918-0000.wav'),
  shortText: manifest().find((f) => f.file === 'ls-6930-75918-0000.wav')!.transcript,
};
/** Loose: streamed whisper-base on a loaded 2-core CPU; a lost tail (the bug the drain tests guard) costs far more. */
export const DRAIN_MAX_WER = 0.3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LiveStream {
  client: WsClient;
  /** Everything received, once the server has closed the socket. */
  result: Promise<StreamedSession>;
  /** Server-sent ping frames seen so far. */
  pings(): number;
}

/**
 * Stream `pcm` (16 kHz s16le) in 100 ms frames at real time, then 100 ms frames of silence, as a
 * microphone would, until the server closes the socket. Never sends `end`.
 */
export async function liveStream(url: string, pcm: Uint8Array, opts: { headers?: Record<string, string> } = {}): Promise<LiveStream> {
  const client = new WsClient(new WebSocket(url, [], opts.headers ? { headers: opts.headers } : {}));
  let pings = 0;
  client.ws.on('ping', () => { pings += 1; });
  await client.opened;
  client.send({ type: 'config', language: 'en' });
  const silence = new Uint8Array(3_200);
  const sending = (async () => {
    for (let at = 0; client.ws.readyState === WebSocket.OPEN; at += 3_200) {
      client.send(at < pcm.length ? pcm.subarray(at, at + 3_200) : silence);
      await sleep(100);
    }
  })();
  return { client, result: sending.then(() => client.result()), pings: () => pings };
}

export interface Refusal {
  messages: Array<Record<string, unknown>>;
  close: { code: number; reason: string };
}

/** Open a socket and record every message until the server closes it. */
export function refusal(url: string, headers: Record<string, string> = {}): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [], { headers });
    const messages: Array<Record<string, unknown>> = [];
    ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
    ws.on('close', (code, reason) => resolve({ messages, close: { code, reason: reason.toString() } }));
    ws.on('error', reject);
  });
}
