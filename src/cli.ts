/**
 * @module The command-line client (npm bin `stt`), for a running server:
 *   stt transcribe FILE   POST /v1/audio/transcriptions with stream=true: a progress bar on stderr
 *                         from the server-sent events, the transcript on stdout.
 *   stt stream FILE|-     /ws/transcribe: FILE (any format; non-WAV needs ffmpeg) is sent at
 *                         real-time pace (--speed), `-` reads raw s16le mono PCM from stdin
 *                         (--rate, default 16000); live text is printed as it is committed (on a
 *                         terminal the tentative tail is shown too), then the final text.
 * Server and key: --url / STT_URL (default http://127.0.0.1:8000), --key / STT_API_KEY.
 * Only client code: it talks to the server over HTTP and WebSocket like any other client.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { decodeToPcm } from './audio/ffmpeg.js';

const USAGE = `usage: stt transcribe FILE [--language xx] [--translate] [--format json|text|srt|vtt|verbose_json] [--mode pipeline|sequential|vad]
       stt stream FILE|- [--language xx] [--rate 16000] [--speed 1]
options: --url URL (STT_URL, default http://127.0.0.1:8000)  --key KEY (STT_API_KEY)`;

/** One parsed server-sent event's data (JSON), from a growing text buffer; returns what is left. */
export function takeEvents(buffer: string): { events: unknown[]; rest: string } {
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop() ?? '';
  const events = blocks
    .map((b) => b.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n'))
    .filter((d) => d.length > 0)
    .map((d) => JSON.parse(d) as unknown);
  return { events, rest };
}

/** `[#########-----------]  45%  12.3/27.0 s` */
export function progressBar(done: number, total: number, width = 30): string {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%  ${done.toFixed(1)}/${total.toFixed(1)} s`;
}

/** The part of `committed` not printed yet (committed text only grows; if it did not, all of it). */
export function newlyCommitted(printed: string, committed: string): string {
  return committed.startsWith(printed) ? committed.slice(printed.length) : committed;
}

interface Common {
  url: string;
  key: string | undefined;
  language: string | undefined;
}

async function transcribe(file: string, opts: Common & { translate: boolean; format: string; mode: string | undefined }): Promise<void> {
  const form = new FormData();
  form.append('file', new Blob([readFileSync(file)]), path.basename(file));
  form.append('model', 'whisper-1');
  if (opts.language) form.append('language', opts.language);
  form.append('response_format', opts.format);
  if (opts.mode) form.append('mode', opts.mode);
  const streamed = opts.format === 'json' || opts.format === 'text';
  if (streamed) form.append('stream', 'true');
  const endpoint = opts.translate ? 'translations' : 'transcriptions';
  const res = await fetch(`${opts.url}/v1/audio/${endpoint}`, { method: 'POST', body: form, headers: opts.key ? { authorization: `Bearer ${opts.key}` } : {} });
  if (!res.ok) throw new Error(`${res.status}: ${await errorMessage(res)}`);
  if (!streamed) return void process.stdout.write(await res.text());
  const bar = process.stderr.isTTY ? (line: string) => process.stderr.write(`\r${line}`) : (line: string) => process.stderr.write(`${line}\n`);
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const { events, rest } = takeEvents(buffer + decoder.decode(chunk, { stream: true }));
    buffer = rest;
    for (const event of events as Array<Record<string, any>>) {
      if (event.type === 'transcript.text.delta') bar(progressBar(event.done_s, event.total_s));
      else if (event.type === 'transcript.text.done') {
        bar(progressBar(event.duration, event.duration));
        if (process.stderr.isTTY) process.stderr.write('\n');
        process.stdout.write(`${event.text}\n`);
      } else if (event.type === 'error') throw new Error(`${event.error.code}: ${event.error.message}`);
    }
  }
}

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { code: string; message: string } };
    return body.error ? `${body.error.code}: ${body.error.message}` : text;
  } catch {
    return text;
  }
}

/** The audio to stream: raw PCM and its rate. */
async function streamSource(file: string, rate: number): Promise<{ pcm: Buffer | AsyncIterable<Buffer>; rate: number }> {
  if (file === '-') return { pcm: process.stdin as AsyncIterable<Buffer>, rate };
  const data = readFileSync(file);
  const wav = pcmWav(data);
  if (wav) return wav;
  const pcm = await decodeToPcm(data, { ffmpegPath: process.env.FFMPEG_PATH ?? 'ffmpeg', timeoutMs: 600_000, maxPcmBytes: 24 * 3600 * 32_000 });
  return { pcm, rate: 16_000 };
}

/** A 16-bit mono PCM WAV's samples and rate, without ffmpeg; undefined for anything else. */
function pcmWav(data: Buffer): { pcm: Buffer; rate: number } | undefined {
  if (data.toString('ascii', 0, 4) !== 'RIFF' || data.toString('ascii', 8, 12) !== 'WAVE') return undefined;
  let at = 12;
  let format: { channels: number; rate: number; bits: number; tag: number } | undefined;
  while (at + 8 <= data.length) {
    const id = data.toString('ascii', at, at + 4);
    const size = data.readUInt32LE(at + 4);
    if (id === 'fmt ') format = { tag: data.readUInt16LE(at + 8), channels: data.readUInt16LE(at + 10), rate: data.readUInt32LE(at + 12), bits: data.readUInt16LE(at + 22) };
    if (id === 'data') {
      if (!format || format.tag !== 1 || format.channels !== 1 || format.bits !== 16) return undefined;
      return { pcm: data.subarray(at + 8, at + 8 + size), rate: format.rate };
    }
    at += 8 + size + (size % 2);
  }
  return undefined;
}

async function stream(file: string, opts: Common & { rate: number; speed: number }): Promise<void> {
  const source = await streamSource(file, opts.rate);
  const wsUrl = `${opts.url.replace(/^http/, 'ws')}/ws/transcribe`;
  const ws = new WebSocket(wsUrl, { headers: opts.key ? { authorization: `Bearer ${opts.key}` } : {} });
  const tty = process.stdout.isTTY;
  let printed = '';
  const done = new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as Record<string, any>;
      if (msg.type === 'interim') {
        if (tty) process.stdout.write(`\r\x1b[2K${tail(msg.committed)}\x1b[2m${msg.tentative ? ` ${msg.tentative}` : ''}\x1b[0m`);
        else process.stdout.write(newlyCommitted(printed, msg.committed));
        printed = msg.committed;
      } else if (msg.type === 'final') {
        if (tty) process.stdout.write(`\r\x1b[2K${msg.text}\n`);
        else process.stdout.write(`${newlyCommitted(printed, msg.text)}\n`);
      } else if (msg.type === 'error') process.stderr.write(`error ${msg.code}: ${msg.message}\n`);
    });
    ws.on('close', (code, reason) => (code === 1000 ? resolve() : reject(new Error(`closed ${code} ${reason.toString()}`))));
    ws.on('error', reject);
  });
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  ws.send(JSON.stringify({ type: 'config', language: opts.language ?? 'en', sample_rate: source.rate }));
  const chunkBytes = Math.round(source.rate / 10) * 2; // 100 ms
  const send = async (piece: Buffer) => {
    ws.send(piece);
    if (opts.speed > 0) await new Promise((r) => setTimeout(r, 100 / opts.speed));
  };
  if (Buffer.isBuffer(source.pcm)) {
    for (let at = 0; at < source.pcm.length; at += chunkBytes) await send(source.pcm.subarray(at, at + chunkBytes));
  } else {
    let carry = Buffer.alloc(0);
    for await (const piece of source.pcm) {
      carry = Buffer.concat([carry, piece]);
      const whole = carry.length - (carry.length % 2); // whole 16-bit samples only
      if (whole > 0) ws.send(carry.subarray(0, whole));
      carry = carry.subarray(whole);
    }
  }
  ws.send(JSON.stringify({ type: 'end' }));
  await done;
}

/** The last line's worth of text, so a terminal line rewrite never wraps. */
function tail(text: string): string {
  const width = Math.max(20, (process.stdout.columns ?? 100) - 30);
  return text.length > width ? `…${text.slice(-width)}` : text;
}

/** Run the CLI with `argv` (without node and the script); bin/stt.mjs calls it. Sets process.exitCode. */
export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string', default: process.env.STT_URL ?? 'http://127.0.0.1:8000' },
      key: { type: 'string', default: process.env.STT_API_KEY },
      language: { type: 'string' },
      translate: { type: 'boolean', default: false },
      format: { type: 'string', default: 'text' },
      mode: { type: 'string' },
      rate: { type: 'string', default: '16000' },
      speed: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, file] = positionals;
  if (values.help || !command || !file) {
    process.stderr.write(`${USAGE}\n`);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const common = { url: values.url!.replace(/\/$/, ''), key: values.key, language: values.language };
  if (command === 'transcribe') await transcribe(file, { ...common, translate: values.translate!, format: values.format!, mode: values.mode });
  else if (command === 'stream') await stream(file, { ...common, rate: Number(values.rate), speed: Number(values.speed) });
  else {
    process.stderr.write(`unknown command ${command}\n${USAGE}\n`);
    process.exitCode = 2;
  }
}
