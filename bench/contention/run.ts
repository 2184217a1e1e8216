/**
 * @module Contention benchmark (not a test), for the one queue in front of the model (issue 13):
 *
 * 1. `file`: a live stream at real time while a 90-100 s file transcribes in `pipeline` mode, against
 *    the same stream alone and the same file alone: the stream's commit latency p50/p95 and final
 *    latency, the file's wall time. A pipeline-mode file goes as slices of one forward batch
 *    (BATCH_SIZE chunks) each, so the stream waits at most one slice; `--batch-size` sets
 *    BATCH_SIZE for all three runs (on a CPU, 16 makes a 95 s file one slice of 5 chunks).
 * 2. `vad`: 8 idle-ish sessions (speech with long pauses) and a 9th that streams speech, all at real
 *    time: VAD requests per second to the sidecar, against the VAD items the sessions asked for
 *    (before the speech lane batched them, each item was its own request: the "before" figure),
 *    and the 9th session's commit latency.
 *
 * 3. `two-files` (not in the default parts): two copies of the file posted at once with stream=true,
 *    against one alone: when each gets its first progress event and when each is done. Files in
 *    slices take turns (both get their first progress early, both end near twice the time alone);
 *    with `--slices false` each file is one request and the second waits for the first.
 *
 *   npx tsx bench/contention/run.ts [--parts file,vad,two-files] [--file-mode pipeline|vad|sequential] [--batch-size 16]
 *     [--preempt true|false] [--slices true|false] [--seq-windows 4] [--stream-share 0.5] [--repeat 3] [--out FILE]
 *
 * `--preempt` sets SCHEDULER_PREEMPT_FILES (default true: a window is decoded inside the file
 * slice in flight, at its next model layer; false: it waits for the slice); `--slices` sets
 * FILE_SLICES; `--file-mode` is the files' long-form mode (default pipeline); `--seq-windows` sets
 * FILE_SEQ_WINDOWS (a ~100 s sequential file is one slice at 4 windows, two at 2); `--stream-share`
 * sets SCHEDULER_STREAM_SHARE (the most of the model's time re-decodes take while a file waits; 1:
 * windows always first). `decodes` per stream: its window requests and their wall seconds summed.
 * `--repeat N` runs the `file` part's three runs N times in turn (alone, alone, together, then again)
 * and adds the median of each ratio: on a shared VM one run's ratios move by ±20 %, and taking turns
 * keeps a drift in the machine's speed from landing on one side of a ratio.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT_DIR } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { readWavPcm } from '../../test/helpers/audio.js';
import { testConfig, testLogger, waitForState } from '../../test/helpers/server.js';
import { wer, words } from '../../test/helpers/wer.js';
import { WsClient, wsUrl } from '../../test/helpers/ws-client.js';
import { alignWords, percentile, type Track } from '../streaming/measure.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1]!;
};
const PARTS = arg('parts', 'file,vad').split(',');
const BATCH_SIZE = arg('batch-size', '16');
const PREEMPT = arg('preempt', 'true');
const SLICES = arg('slices', 'true');
const FILE_MODE = arg('file-mode', 'pipeline');
const SEQ_WINDOWS = arg('seq-windows', '4');
const STREAM_SHARE = arg('stream-share', '0.5');
const REPEAT = Number(arg('repeat', '1'));
const OUT = arg('out', path.join(ROOT_DIR, 'bench', 'results', `contention-${os.hostname()}.json`));
const CHUNK_MS = 100;
const BYTES_PER_S = 32_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const silence = (s: number) => Buffer.alloc(Math.round(s * BYTES_PER_S));

/** A 16 kHz mono s16le WAV file around PCM (the upload). */
function wav(pcm: Buffer): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + pcm.length, 4); h.write('WAVE', 8); h.write('fmt ', 12);
  h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22); h.writeUInt32LE(16_000, 24);
  h.writeUInt32LE(BYTES_PER_S, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34); h.write('data', 36); h.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([h, pcm]);
}

/** The file: longform-en (64 s of real recordings) and more English recordings, to 90-100 s. */
function longFile(): Buffer {
  const parts = [readWavPcm('longform-en.wav')];
  for (const f of ['fleurs-en-000.wav', 'fleurs-en-001.wav', 'fleurs-en-002.wav', 'fleurs-en-004.wav']) {
    if (parts.reduce((n, p) => n + p.length, 0) / BYTES_PER_S >= 90) break;
    parts.push(silence(1), readWavPcm(f));
  }
  return Buffer.concat(parts).subarray(0, 100 * BYTES_PER_S);
}

interface Clip { name: string; pcm: Buffer; offline: { words: string[]; wordEnds: number[] } }

/** A stream's audio and its words' end times (each recording decoded alone with word timestamps). */
async function clip(server: RunningServer, files: string[], gapS: number): Promise<Clip> {
  const parts: Buffer[] = [];
  const offline = { words: [] as string[], wordEnds: [] as number[] };
  let offset = 0;
  for (const f of files) {
    const pcm = readWavPcm(f);
    const [timed] = await server.scheduler.transcribeFile({ items: [{ audio: pcm, language: 'en' }], return_timestamps: 'word' });
    for (const c of timed!.chunks) for (const w of words(c.text)) { offline.words.push(w); offline.wordEnds.push(offset + (c.timestamp[1] ?? c.timestamp[0] ?? 0)); }
    parts.push(pcm, silence(gapS));
    offset += pcm.length / BYTES_PER_S + gapS;
  }
  return { name: files.join('+'), pcm: Buffer.concat(parts), offline };
}

async function stream(url: string, c: Clip): Promise<Track> {
  const client = await WsClient.connect(url);
  client.send({ type: 'config', language: 'en' });
  const bytes = (CHUNK_MS / 1000) * BYTES_PER_S;
  const started = Date.now();
  for (let at = 0, n = 0; at < c.pcm.length; at += bytes, n++) {
    client.send(c.pcm.subarray(at, at + bytes));
    await sleep(Math.max(0, started + (n + 1) * CHUNK_MS - Date.now()));
  }
  const endAt = Date.now();
  client.send({ type: 'end' });
  const r = await client.result();
  const commits = r.interims.map((m) => ({ at: (m.at as number) - started, words: words(String(m.committed)) }));
  if (r.final) commits.push({ at: (r.final.at as number) - started, words: words(String(r.final.text)) });
  return { commits, finalText: String(r.final?.text ?? ''), finalLatencyMs: r.final ? (r.final.at as number) - endAt : NaN, intervals: [], decodes: Number(r.final?.decodes ?? 0), lags: [], errors: r.errors.map((e) => String(e.code)) };
}

function streamFigures(c: Clip, t: Track) {
  const latencies = alignWords(c.offline, t.commits).map((x) => x.latencyS);
  return { words_measured: latencies.length, final_wer: r3(wer(c.offline.words.join(' '), t.finalText)), commit_latency_p50_s: r3(percentile(latencies, 50)), commit_latency_p95_s: r3(percentile(latencies, 95)), final_latency_s: r3(t.finalLatencyMs / 1000), errors: t.errors };
}

function fileForm(pcm: Buffer): FormData {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(wav(pcm))]), 'long.wav');
  form.append('model', 'whisper-1');
  form.append('mode', FILE_MODE);
  return form;
}

async function postFile(url: string, pcm: Buffer): Promise<{ seconds: number; text: string; status: number }> {
  const form = fileForm(pcm);
  const t0 = Date.now();
  const res = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
  const body = (await res.json()) as { text?: string };
  return { seconds: r3((Date.now() - t0) / 1000), text: body.text ?? '', status: res.status };
}

/** Each named sample `name{kind="…"}` of the server's /metrics, read once. */
async function samples(server: RunningServer, kind: string, names: string[]): Promise<number[]> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return names.map((name) => Number(new RegExp(`^${name}\\{kind="${kind}"\\} ([\\d.e+-]+)`, 'm').exec(text)?.[1] ?? 0));
}

async function metric(server: RunningServer, kind: string): Promise<number> {
  return (await samples(server, kind, ['whisper_sidecar_requests_total']))[0]!;
}

interface Decodes { requests: number; wall_s: number }

/** The stream lane's model requests so far: how many, and their wall seconds summed (queueing in the sidecar included). */
async function streamDecodes(server: RunningServer): Promise<Decodes> {
  const [count, sum] = await samples(server, 'stream', ['whisper_decode_seconds_count', 'whisper_decode_seconds_sum']);
  return { requests: count!, wall_s: r3(sum!) };
}

async function fresh(): Promise<RunningServer> {
  const server = await startServer(testConfig({ LOG_LEVEL: 'warn', BATCH_SIZE, SCHEDULER_PREEMPT_FILES: PREEMPT, FILE_SLICES: SLICES, FILE_SEQ_WINDOWS: SEQ_WINDOWS, SCHEDULER_STREAM_SHARE: STREAM_SHARE }), testLogger().log);
  await waitForState(server.supervisor, 'ready');
  return server;
}

const diff = (a: Decodes, b: Decodes): Decodes => ({ requests: a.requests - b.requests, wall_s: r3(a.wall_s - b.wall_s) });

/** The `file` part: the stream alone, the file alone, then both; `--repeat` times, with medians. */
async function filePart() {
  const server = await fresh();
  const live = await clip(server, ['jfk.wav', 'fleurs-en-003.wav'], 1);
  await server.close();
  const file = longFile();
  const runs: Awaited<ReturnType<typeof fileRun>>[] = [];
  for (let i = 0; i < REPEAT; i++) {
    runs.push(await fileRun(live, file));
    console.error(`file part: run ${i + 1}/${REPEAT}: ${JSON.stringify(runs.at(-1))}`);
  }
  const median = (key: 'commit_p95_ratio' | 'final_ratio' | 'file_time_ratio') => r3(percentile(runs.map((r) => r[key]), 50));
  const settings = { file_s: r3(file.length / BYTES_PER_S), file_mode: FILE_MODE, stream_s: r3(live.pcm.length / BYTES_PER_S), batch_size: Number(BATCH_SIZE), preempt_files: PREEMPT === 'true', slices_setting: SLICES === 'true', stream_share: Number(STREAM_SHARE) };
  if (REPEAT === 1) return { ...settings, ...runs[0]! };
  return { ...settings, repeat: REPEAT, median_commit_p95_ratio: median('commit_p95_ratio'), median_final_ratio: median('final_ratio'), median_file_time_ratio: median('file_time_ratio'), runs };
}

/** One turn of the `file` part, each run on a fresh server. */
async function fileRun(live: Clip, file: Buffer) {
  let server = await fresh();
  const before = await streamDecodes(server);
  const alone = { ...streamFigures(live, await stream(wsUrl(server.url), live)), decodes: diff(await streamDecodes(server), before) };
  await server.close();
  server = await fresh();
  const fileAlone = await postFile(server.url, file);
  const slicesAlone = (await metric(server, 'file_slice')) + (await metric(server, 'file_vad_slice')) + (await metric(server, 'file_seq_slice'));
  await server.close();
  server = await fresh();
  // The stream starts 3 s into the file's transcription and ends well before it (alone it takes ~35-70 s).
  const upload = postFile(server.url, file);
  await sleep(3_000);
  const during0 = await streamDecodes(server);
  const during = { ...streamFigures(live, await stream(wsUrl(server.url), live)), decodes: diff(await streamDecodes(server), during0) };
  const fileDuring = await upload;
  await server.close();
  return {
    file_slices: slicesAlone,
    stream_alone: alone, stream_during_file: during,
    commit_p95_ratio: r3(during.commit_latency_p95_s / alone.commit_latency_p95_s), final_ratio: r3(during.final_latency_s / alone.final_latency_s),
    file_alone_s: fileAlone.seconds, file_during_stream_s: fileDuring.seconds, file_time_ratio: r3(fileDuring.seconds / fileAlone.seconds),
    same_file_text: fileAlone.text === fileDuring.text, file_status: [fileAlone.status, fileDuring.status],
  };
}

/** A file with stream=true: seconds from `t0` to its first progress event and to its end. */
async function postWithProgress(url: string, pcm: Buffer, t0: number): Promise<{ first_progress_s: number; done_s: number; progress_events: number; text: string }> {
  const form = fileForm(pcm);
  form.append('stream', 'true');
  const res = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let first = NaN;
  let events = 0;
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffered.indexOf('\n\n')) !== -1) {
      const line = buffered.slice(0, cut).split('\n').find((l) => l.startsWith('data: '));
      buffered = buffered.slice(cut + 2);
      if (!line) continue;
      const event = JSON.parse(line.slice(6)) as { type: string; text?: string };
      if (event.type === 'transcript.text.delta') {
        events += 1;
        if (Number.isNaN(first)) first = (Date.now() - t0) / 1000;
      }
      if (event.type === 'transcript.text.done') text = event.text ?? '';
    }
  }
  return { first_progress_s: r3(first), done_s: r3((Date.now() - t0) / 1000), progress_events: events, text };
}

async function twoFilesPart() {
  const file = longFile();
  let server = await fresh();
  const alone = await postWithProgress(server.url, file, Date.now());
  await server.close();
  server = await fresh();
  const t0 = Date.now();
  const [a, b] = await Promise.all([postWithProgress(server.url, file, t0), (async () => { await sleep(200); return postWithProgress(server.url, file, t0); })()]);
  await server.close();
  return {
    file_s: r3(file.length / BYTES_PER_S), file_mode: FILE_MODE, batch_size: Number(BATCH_SIZE), slices_setting: SLICES === 'true', seq_windows: Number(SEQ_WINDOWS),
    alone: { ...alone, text: undefined }, first: { ...a!, text: undefined }, second: { ...b!, text: undefined },
    second_first_progress_ratio: r3(b!.first_progress_s / alone.first_progress_s),
    done_ratios: [r3(a!.done_s / alone.done_s), r3(b!.done_s / alone.done_s)],
    same_text: a!.text === alone.text && b!.text === alone.text,
  };
}

async function vadPart() {
  const server = await fresh();
  // Idle-ish: two short recordings separated by long pauses; the 9th streams speech with 1 s pauses.
  const idle = await clip(server, ['fleurs-en-000.wav', 'fleurs-en-001.wav'], 8);
  const live = await clip(server, ['jfk.wav', 'fleurs-en-003.wav', 'fleurs-en-002.wav'], 1);
  const before = server.scheduler.stats();
  const vad0 = await metric(server, 'vad');
  const t0 = Date.now();
  const [liveTrack] = await Promise.all([stream(wsUrl(server.url), live), ...Array.from({ length: 8 }, async (_, i) => { await sleep(i * 300); return stream(wsUrl(server.url), idle); })]);
  const wallS = (Date.now() - t0) / 1000;
  const after = server.scheduler.stats();
  const requests = (await metric(server, 'vad')) - vad0;
  const items = after.speechItems - before.speechItems;
  await server.close();
  return {
    sessions: 9, idle_clip_s: r3(idle.pcm.length / BYTES_PER_S), live_clip_s: r3(live.pcm.length / BYTES_PER_S), wall_s: r3(wallS),
    vad_requests: requests, vad_items: items,
    vad_requests_per_s_before: r3(items / wallS), vad_requests_per_s_after: r3(requests / wallS), vad_items_per_request: r3(items / Math.max(1, requests)),
    live_session: streamFigures(live, liveTrack!),
  };
}

const out: Record<string, unknown> = {
  bench: 'contention', at: new Date().toISOString(),
  host: { hostname: os.hostname(), cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model },
  note: 'vad_requests_per_s_before counts the VAD items the sessions asked for: before the speech lane batched across sessions, each was one sidecar request',
};
if (PARTS.includes('file')) { out.file = await filePart(); console.error(JSON.stringify(out.file)); }
if (PARTS.includes('vad')) { out.vad = await vadPart(); console.error(JSON.stringify(out.vad)); }
if (PARTS.includes('two-files')) { out.two_files = await twoFilesPart(); console.error(JSON.stringify(out.two_files)); }
(out.host as Record<string, unknown>).load_avg_at_end = os.loadavg();
mkdirSync(path.dirname(OUT), { recursive: true });
writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
