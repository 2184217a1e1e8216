/**
 * @module Streaming benchmark (not a test): K concurrent clients stream real speech at real-time
 * pace over /ws/transcribe to a real server with the real sidecar. Per K it reports the p50/p95
 * latency from the end of a word in the audio to its first commitment, the final's latency after
 * `end`, streamed vs offline WER, the update interval sessions settled on, and the sidecar's busy
 * fraction — beside a baseline that decodes independent 1-second chunks as the brief's server does.
 *
 *   npm run bench:streaming -- [--k 1,2,4] [--modes streaming,baseline] [--baseline-cap-s 60] [--solo-all] [--out FILE]
 *
 * --solo-all: at K = 1 every clip streams in turn, one at a time (four clips' words for the K = 1
 * figures instead of the first clip's alone).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT_DIR } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { manifest, readWavPcm } from '../../test/helpers/audio.js';
import { testConfig, testLogger, waitForState } from '../../test/helpers/server.js';
import { wer, words } from '../../test/helpers/wer.js';
import { WsClient, wsUrl } from '../../test/helpers/ws-client.js';
import { alignWords, percentile, type Track } from './measure.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1]!;
};
const KS = arg('k', '1,2,4').split(',').map(Number);
const MODES = arg('modes', 'streaming,baseline').split(',') as Array<'streaming' | 'baseline'>;
const OUT = arg('out', path.join(ROOT_DIR, 'bench', 'results', `streaming-${os.hostname()}.json`));
/** Audio per message: 100 ms, as a browser microphone client sends it. */
const CHUNK_MS = 100;
const FIXTURE_PAIRS: Array<[string, string]> = [
  ['jfk.wav', 'fleurs-en-003.wav'],
  ['fleurs-en-000.wav', 'ls-6930-75918-0000.wav'],
  ['fleurs-en-001.wav', 'fleurs-en-004.wav'],
  ['fleurs-en-002.wav', 'ls-7902-96591-0000.wav'],
];
/** How long the baseline's backlog is waited for after the end of its audio. */
const BASELINE_CAP_S = Number(arg('baseline-cap-s', '60'));
const SOLO_ALL = args.includes('--solo-all');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One client's audio: two fixtures with a 1 s pause between (the pause ends an utterance). */
interface Clip {
  name: string;
  pcm: Buffer;
  reference: string;
  seconds: number;
  /** Word ends (s) of the clip decoded in one piece with word timestamps, and that decode's text. */
  offline: { text: string; wordEnds: number[]; words: string[]; partsText: string; firstWordStart: number };
}

async function makeClip(server: RunningServer, pair: [string, string]): Promise<Clip> {
  const parts = pair.map((f) => readWavPcm(f));
  const gap = Buffer.alloc(32_000);
  const pcm = Buffer.concat([parts[0]!, gap, parts[1]!]);
  const reference = pair.map((f) => manifest().find((m) => m.file === f)!.transcript).join(' ');
  // Offline WER: the whole clip decoded in one piece, as a file request is.
  const [whole] = await server.scheduler.transcribeFile({ items: [{ audio: pcm, language: 'en' }] });
  // Word end times: each fixture decoded alone with word timestamps, shifted to its place in the clip.
  const wordEnds: number[] = [];
  const clipWords: string[] = [];
  const partTexts: string[] = [];
  let offset = 0;
  let firstWordStart = NaN;
  for (const part of parts) {
    const [timed] = await server.scheduler.transcribeFile({ items: [{ audio: part, language: 'en' }], return_timestamps: 'word' });
    partTexts.push(timed!.text.trim());
    for (const c of timed!.chunks) {
      if (Number.isNaN(firstWordStart) && words(c.text).length > 0) firstWordStart = offset + (c.timestamp[0] ?? 0);
      for (const w of words(c.text)) {
        clipWords.push(w);
        wordEnds.push(offset + (c.timestamp[1] ?? c.timestamp[0] ?? 0));
      }
    }
    offset += part.length / 32_000 + gap.length / 32_000;
  }
  return { name: pair.join('+'), pcm, reference, seconds: pcm.length / 32_000, offline: { text: whole!.text, wordEnds, words: clipWords, partsText: partTexts.join(' '), firstWordStart } };
}

/** Stream one clip at real-time pace; returns when the session closes. */
async function streamClient(url: string, clip: Clip): Promise<Track> {
  const client = await WsClient.connect(url);
  client.send({ type: 'config', language: 'en' });
  const bytes = (CHUNK_MS / 1000) * 32_000;
  const started = Date.now();
  for (let at = 0, n = 0; at < clip.pcm.length; at += bytes, n++) {
    client.send(clip.pcm.subarray(at, at + bytes));
    await sleep(Math.max(0, started + (n + 1) * CHUNK_MS - Date.now()));
  }
  const endAt = Date.now();
  client.send({ type: 'end' });
  const r = await client.result();
  const commits: Array<{ at: number; words: string[] }> = r.interims.map((m) => ({ at: (m.at as number) - started, words: words(String(m.committed)) }));
  if (r.final) commits.push({ at: r.final.at as number - started, words: words(String(r.final.text)) });
  const firstText = [...r.interims, ...(r.final ? [r.final] : [])].find((m) => String(m.text ?? '').trim() !== '');
  return {
    firstTextAt: firstText ? (firstText.at as number) - started : NaN,
    commits,
    finalText: String(r.final?.text ?? ''),
    finalLatencyMs: r.final ? (r.final.at as number) - endAt : NaN,
    intervals: r.interims.map((m) => Number(m.interval_s)).filter((x) => x > 0),
    decodes: Number(r.final?.decodes ?? 0),
    lags: r.interims.map((m) => Number(m.lag_s)),
    errors: r.errors.map((e) => String(e.code)),
  };
}

/** The brief's server: each 1-second chunk decoded on its own as it arrives, its text appended. */
async function baselineClient(server: RunningServer, clip: Clip): Promise<Track> {
  const started = Date.now();
  const commits: Track['commits'] = [];
  const texts: string[] = [];
  const pending: Array<Promise<void>> = [];
  let endAt = started;
  for (let at = 0, n = 0; at < clip.pcm.length; at += 32_000, n++) {
    await sleep(Math.max(0, started + (n + 1) * 1000 - Date.now()));
    const chunk = clip.pcm.subarray(at, at + 32_000);
    endAt = Date.now();
    pending.push(server.scheduler.transcribeWindow({ audio: chunk, language: 'en' }, false).then((r) => {
      texts[n] = r.text.trim();
      commits.push({ at: Date.now() - started, words: words(texts.filter((t) => t !== undefined).join(' ')) });
    }));
  }
  // The brief's server falls behind without bound on a CPU: stop waiting BASELINE_CAP_S after the
  // end; chunks not decoded by then count as missing words (the run is marked censored).
  const all = Promise.allSettled(pending).then(() => true);
  const done = await Promise.race([all, sleep(Math.max(0, endAt + BASELINE_CAP_S * 1000 - Date.now())).then(() => false)]);
  const finalText = Array.from({ length: texts.length }, (_, i) => texts[i] ?? '').filter(Boolean).join(' ');
  const finalLatencyMs = done ? Date.now() - endAt : NaN;
  return { commits: [...commits, { at: Date.now() - started, words: words(finalText) }], finalText, finalLatencyMs, intervals: [1], decodes: texts.length, lags: [], errors: done ? [] : ['censored'] };
}

/** WER on the words as written (case and punctuation kept): how far the text's formatting is from the reference's. */
function formattedWer(reference: string, hypothesis: string): number {
  const ref = reference.split(/\s+/).filter(Boolean);
  const hyp = hypothesis.split(/\s+/).filter(Boolean);
  if (ref.length === 0) return hyp.length === 0 ? 0 : 1;
  let prev = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const cur = [i];
    for (let j = 1; j <= hyp.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[hyp.length]! / ref.length;
}

function summarise(clips: Clip[], tracks: Track[], wallMs: number, busyMs: number) {
  const latencies: number[] = [];
  tracks.forEach((t, i) => latencies.push(...alignWords(clips[i]!.offline, t.commits).map((x) => x.latencyS)));
  const streamWer = tracks.map((t, i) => wer(clips[i]!.reference, t.finalText));
  const offlineWer = clips.map((c) => wer(c.reference, c.offline.text));
  const intervals = tracks.flatMap((t) => t.intervals);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  // First text: from the first word's start in the audio (its word timestamp) to the first message with text.
  const firstText = tracks.map((t, i) => ((t.firstTextAt ?? NaN) / 1000) - clips[i]!.offline.firstWordStart).filter((x) => Number.isFinite(x));
  return {
    words_measured: latencies.length,
    first_text_after_speech_p50_s: r3(percentile(firstText, 50)),
    first_text_after_speech_max_s: firstText.length ? r3(Math.max(...firstText)) : null,
    commit_latency_p50_s: r3(percentile(latencies, 50)),
    commit_latency_p95_s: r3(percentile(latencies, 95)),
    final_latency_p50_s: r3(percentile(tracks.map((t) => t.finalLatencyMs / 1000), 50)),
    // NaN (null in JSON): not all finals came within the baseline's cap.
    final_latency_max_s: r3(Math.max(...tracks.map((t) => t.finalLatencyMs / 1000))),
    wer_streamed_mean: r3(mean(streamWer)),
    wer_offline_mean: r3(mean(offlineWer)),
    wer_streamed: streamWer.map(r3),
    // Case and punctuation kept: the streamed final vs each fixture transcribed alone as a file.
    formatted_wer_streamed_mean: r3(mean(tracks.map((t, i) => formattedWer(clips[i]!.reference, t.finalText)))),
    formatted_wer_file_mean: r3(mean(clips.map((c) => formattedWer(c.reference, c.offline.partsText)))),
    wer_offline: offlineWer.map(r3),
    // Interims only go out while audio flows, so this samples the interval during the stream;
    // audio_s_per_decode counts every decode the session made, the drain after `end` included.
    update_interval_mean_s: r3(mean(intervals)),
    audio_s_per_decode: r3(mean(tracks.map((t, i) => clips[i]!.seconds / Math.max(1, t.decodes)))),
    update_interval_p95_s: r3(percentile(intervals, 95)),
    lag_p95_s: r3(percentile(tracks.flatMap((t) => t.lags), 95)),
    sidecar_busy_fraction: r3(busyMs / wallMs),
    errors: tracks.flatMap((t) => t.errors),
    texts: tracks.map((t, i) => ({ clip: clips[i]!.name, streamed: t.finalText, offline: clips[i]!.offline.text.trim(), file: clips[i]!.offline.partsText })),
  };
}

/** The engine's own figures from /metrics: rows per model forward, encoder passes per window, audio decoded. */
async function engineFigures(server: RunningServer, wallMs: number) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (name: string, labels = '') => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `) || (labels === '' && l.startsWith(`${name} `)));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  const histogram = (stage: string) => {
    const buckets: Record<string, number> = {};
    let previous = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith('whisper_forward_items_bucket{') || !line.includes(`stage="${stage}"`)) continue;
      const le = line.match(/le="([^"]+)"/)?.[1];
      const cumulative = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (le !== undefined && cumulative > previous) buckets[`le_${le}`] = cumulative - previous;
      previous = cumulative;
    }
    const count = value('whisper_forward_items_count', `stage="${stage}"`);
    const sum = value('whisper_forward_items_sum', `stage="${stage}"`);
    return { forwards: count, mean_rows: count ? Math.round((sum / count) * 100) / 100 : null, histogram: buckets };
  };
  const windows = value('whisper_stream_windows_total', 'outcome="decoded"') + value('whisper_stream_windows_total', 'outcome="dropped_no_speech"');
  const audio = value('whisper_audio_seconds_total', 'kind="stream"');
  return {
    encoder: histogram('encoder'),
    generate: histogram('generate'),
    stream_windows: windows,
    dropped_no_speech: value('whisper_stream_windows_total', 'outcome="dropped_no_speech"'),
    encoder_passes_per_window: windows ? Math.round((value('whisper_encoder_window_passes_total') / windows) * 1000) / 1000 : null,
    audio_s_decoded_per_wall_s: Math.round((audio / (wallMs / 1000)) * 100) / 100,
  };
}

async function runK(server: RunningServer, clips: Clip[], k: number, mode: 'streaming' | 'baseline') {
  const solo = k === 1 && SOLO_ALL;
  const mine = solo ? clips : Array.from({ length: k }, (_, i) => clips[i % clips.length]!);
  const busy0 = server.scheduler.stats().busyMs;
  const t0 = Date.now();
  const one = (clip: Clip) => (mode === 'streaming' ? streamClient(wsUrl(server.url), clip) : baselineClient(server, clip));
  const tracks: Track[] = [];
  if (solo) for (const clip of mine) tracks.push(await one(clip));
  else tracks.push(...(await Promise.all(mine.map(one))));
  const wallMs = Date.now() - t0;
  const result = summarise(mine, tracks, wallMs, server.scheduler.stats().busyMs - busy0);
  const engine = await engineFigures(server, wallMs);
  const audioS = mine[0]!.seconds;
  // Real time is held when the final comes promptly after `end` (the backlog did not grow with the audio).
  return { k, mode, ...(solo ? { clips_in_turn: mine.length } : {}), audio_s_per_client: audioS, real_time_held: result.final_latency_max_s < 0.25 * audioS && result.errors.length === 0, ...result, engine };
}

async function freshServer(): Promise<RunningServer> {
  // STREAM_* variables of this process reach the server (testConfig alone reads none of them).
  const stream = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('STREAM_') && e[1] !== undefined));
  const server = await startServer(testConfig({ LOG_LEVEL: 'warn', ...stream }), testLogger().log);
  await waitForState(server.supervisor, 'ready');
  return server;
}

async function main() {
  let server = await freshServer();
  const clips = [];
  for (const pair of FIXTURE_PAIRS) clips.push(await makeClip(server, pair));
  const loaded = server.supervisor.snapshot().loaded;
  const runs = [];
  for (const k of KS) {
    for (const mode of MODES) {
      // A fresh server per run: a backlog one run leaves behind never slows the next.
      await server.close();
      server = await freshServer();
      const run = await runK(server, clips, k, mode);
      console.error(JSON.stringify(run));
      runs.push(run);
    }
  }
  const out = {
    bench: 'streaming',
    at: new Date().toISOString(),
    host: { hostname: os.hostname(), cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, load_avg_at_end: os.loadavg() },
    model: loaded?.model, device: loaded?.device, stream_engine: (loaded as { stream_engine?: unknown } | undefined)?.stream_engine ?? null,
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('STREAM_'))),
    settings: { chunk_ms: CHUNK_MS, baseline_cap_s: BASELINE_CAP_S, clips: clips.map((c) => ({ name: c.name, seconds: c.seconds })) },
    runs,
  };
  await server.close();
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
  console.log(JSON.stringify(out, null, 2));
}

await main();
