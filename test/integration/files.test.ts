/**
 * File transcription through the real server and sidecar: every container ffmpeg makes from real
 * recordings, SRT/VTT that parse, word timestamps, language detection, translation, stream=true,
 * vad=true on the no-speech fixtures and in slices, and every kind of bad upload (while good requests carry on).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { Limiter } from '../../src/http/limits.js';
import { Metrics } from '../../src/metrics.js';
import { manifest } from '../helpers/audio.js';
import { testConfig, testLogger, useServer } from '../helpers/server.js';
import { wer } from '../helpers/wer.js';
import { Converted, FORMATS, postFile } from './files-helpers.js';
import { NO_FFMPEG } from '../helpers/ffmpeg.js';

const transcript = (file: string) => manifest().find((f) => f.file === file)!.transcript;
const T = '/v1/audio/transcriptions';

const server = useServer();
const files = new Converted();

afterAll(() => files.remove());

/** Parse SRT or VTT cues into [start, end, text]. */
function cues(body: string, sep: ',' | '.'): Array<[number, number, string]> {
  const t = (s: string) => s.split(/[:,.]/).map(Number).reduce((acc, v, i) => (i < 3 ? acc * 60 + v : acc + v / 1000), 0);
  const re = new RegExp(`(\\d{2}:\\d{2}:\\d{2}\\${sep}\\d{3}) --> (\\d{2}:\\d{2}:\\d{2}\\${sep}\\d{3})\\n(.+)`, 'g');
  return [...body.matchAll(re)].map((m) => [t(m[1]!), t(m[2]!), m[3]!]);
}

describe.skipIf(NO_FFMPEG)('file transcription', () => {
  it.each(Object.keys(FORMATS))('transcribes jfk as %s within a WER bound', async (ext) => {
    const res = await postFile(server().url, T, files.file('jfk.wav', ext), { model: 'whisper-1' });
    expect(res.status).toBe(200);
    const { text } = (await res.json()) as { text: string };
    expect(wer(transcript('jfk.wav'), text)).toBeLessThanOrEqual(0.15);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('stt-upload-'))).toEqual([]);
  }, 60_000);

  it('takes the audio track of a video', async () => {
    const res = await postFile(server().url, T, files.video('jfk.wav'), { model: 'whisper-1', response_format: 'text' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(wer(transcript('jfk.wav'), await res.text())).toBeLessThanOrEqual(0.15);
  }, 60_000);

  it('gives SRT and VTT that parse, with ordered cues inside the audio', async () => {
    const flac = files.file('ls-6930-75918-0000.wav', 'flac');
    const srt = await (await postFile(server().url, T, flac, { model: 'whisper-1', response_format: 'srt' })).text();
    const vtt = await (await postFile(server().url, T, flac, { model: 'whisper-1', response_format: 'vtt' })).text();
    expect(vtt.startsWith('WEBVTT\n\n')).toBe(true);
    for (const [body, sep] of [[srt, ','], [vtt, '.']] as const) {
      const list = cues(body, sep);
      expect(list.length).toBeGreaterThan(0);
      for (const [start, end] of list) expect(0 <= start && start <= end && end <= 3.6).toBe(true);
      expect(wer(transcript('ls-6930-75918-0000.wav'), list.map((c) => c[2]).join(' '))).toBeLessThanOrEqual(0.2);
    }
    expect(srt.startsWith('1\n')).toBe(true);
  }, 60_000);

  it('reports words and segments with timestamps in verbose_json', async () => {
    const res = await postFile(server().url, T, files.file('ls-7902-96591-0000.wav', 'mp3'), {
      model: 'whisper-1', response_format: 'verbose_json', 'timestamp_granularities[]': ['word', 'segment'], language: 'en',
    });
    const body = (await res.json()) as { words: Array<{ word: string; start: number; end: number }>; segments: Array<{ start: number; end: number }>; language: string; duration: number };
    expect(body.language).toBe('en');
    expect(body.duration).toBeCloseTo(2.1, 1);
    expect(wer(transcript('ls-7902-96591-0000.wav'), body.words.map((w) => w.word).join(' '))).toBeLessThanOrEqual(0.3);
    body.words.forEach((w, i) => {
      expect(w.start).toBeLessThanOrEqual(w.end);
      if (i > 0) expect(w.start).toBeGreaterThanOrEqual(body.words[i - 1]!.start);
    });
    expect(body.segments.length).toBeGreaterThan(0);
  }, 60_000);

  it('detects German and translates it into English', async () => {
    const ogg = files.file('fleurs-de-001.wav', 'ogg');
    const de = (await (await postFile(server().url, T, ogg, { model: 'whisper-1', response_format: 'verbose_json' })).json()) as { language: string; text: string };
    expect(de.language).toBe('de');
    expect(wer(transcript('fleurs-de-001.wav'), de.text)).toBeLessThanOrEqual(0.35);
    const en = (await (await postFile(server().url, '/v1/audio/translations', ogg, { model: 'whisper-1', response_format: 'verbose_json' })).json()) as { text: string; task: string };
    expect(en.task).toBe('translate');
    const words = en.text.toLowerCase().split(/\W+/);
    expect(words.filter((w) => ['the', 'he', 'was', 'and', 'into', 'water', 'even'].includes(w)).length).toBeGreaterThanOrEqual(3);
    expect(words.filter((w) => ['der', 'die', 'das', 'und', 'ins', 'wasser', 'selbst'].includes(w))).toEqual([]);
  }, 90_000);

  it('streams progress and partial text as server-sent events with stream=true', async () => {
    const res = await postFile(server().url, T, files.file('jfk.wav', 'mp3'), { model: 'whisper-1', stream: 'true' });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = (await res.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
    const deltas = events.filter((e) => e.type === 'transcript.text.delta');
    expect(deltas.length).toBeGreaterThanOrEqual(1);
    expect(deltas.at(-1)!.done_s).toBeGreaterThan(0);
    const done = events.at(-1)!;
    expect(done.type).toBe('transcript.text.done');
    expect(wer(transcript('jfk.wav'), String(done.text))).toBeLessThanOrEqual(0.15);
  }, 60_000);

  it.each(['silence-60s.wav', 'noise-30s.wav', 'tones-20s.wav'])('gives empty text for %s with vad=true', async (fixture) => {
    const res = await postFile(server().url, T, files.file(fixture, 'flac'), { model: 'whisper-1', vad: 'true' });
    expect(await res.json()).toEqual({ text: '' });
  }, 60_000);

  it('sends a vad=true file as its plan, one request per batch of windows and a join, with words on the file\'s clock', async () => {
    const metrics = async () => (await fetch(`${server().url}/metrics`)).text();
    const count = (text: string, kind: string) => Number(new RegExp(`whisper_sidecar_requests_total\\{kind="${kind}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    const before = await metrics();
    const res = await postFile(server().url, T, files.file('longform-en.wav', 'flac'), { model: 'whisper-1', vad: 'true', response_format: 'verbose_json', 'timestamp_granularities[]': 'word' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { text: string; words: Array<{ start: number; end: number }> };
    const after = await metrics();
    const sent = (kind: string) => count(after, kind) - count(before, kind);
    // longform-en has three speech windows; word timestamps decode one window per slice on a CPU.
    expect([sent('file_vad_plan'), sent('file_join'), sent('transcribe')]).toEqual([1, 1, 0]);
    expect(sent('file_vad_slice')).toBeGreaterThanOrEqual(2);
    expect(wer(transcript('longform-en.wav'), body.text)).toBeLessThanOrEqual(0.25);
    expect(body.words.length).toBeGreaterThan(100);
    body.words.forEach((w, i) => expect(w.start >= (body.words[i - 1]?.start ?? 0) && w.start <= w.end && w.end <= 64.5).toBe(true));
  }, 180_000);

  it('keeps speech with vad=true', async () => {
    const res = await postFile(server().url, T, files.file('jfk.wav', 'webm'), { model: 'whisper-1', vad: 'true' });
    expect(wer(transcript('jfk.wav'), ((await res.json()) as { text: string }).text)).toBeLessThanOrEqual(0.15);
  }, 60_000);
});

describe.skipIf(NO_FFMPEG)('bad uploads', () => {
  it('answers 400 with a clear code for not-audio, empty and truncated files while a good request carries on', async () => {
    const mp3 = files.file('jfk.wav', 'mp3');
    const flac = readFileSync(files.file('ls-6930-75918-0000.wav', 'flac'));
    const wav = readFileSync(files.file('jfk.wav', 'wav', []));
    const [good, ...bad] = await Promise.all([
      postFile(server().url, T, mp3, { model: 'whisper-1' }),
      postFile(server().url, T, new TextEncoder().encode('this is a text file, not audio\n'.repeat(50)), { model: 'whisper-1' }, 'notes.txt'),
      postFile(server().url, T, new Uint8Array(0), { model: 'whisper-1' }, 'empty.wav'),
      postFile(server().url, T, flac.subarray(0, Math.floor(flac.length / 2)), { model: 'whisper-1' }, 'half.flac'),
      postFile(server().url, T, wav.subarray(0, 78), { model: 'whisper-1' }, 'header-only.wav'),
    ]);
    expect(good.status).toBe(200);
    expect(wer(transcript('jfk.wav'), ((await good.json()) as { text: string }).text)).toBeLessThanOrEqual(0.15);
    const codes = await Promise.all(bad.map(async (r) => [r.status, ((await r.json()) as { error: { code: string } }).error.code]));
    expect(codes).toEqual([[400, 'unsupported_audio'], [400, 'empty_file'], [400, 'truncated_audio'], [400, 'truncated_audio']]);
    expect(server().supervisor.snapshot().state).toBe('ready');
    expect(server().supervisor.snapshot().restarts).toBe(0);
  }, 90_000);

  it('answers 400 for bad fields and a missing file', async () => {
    const mp3 = files.file('jfk.wav', 'mp3');
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'model'],
      [{ model: 'whisper-1', response_format: 'docx' }, 'response_format'],
      [{ model: 'whisper-1', language: 'xx' }, 'language'],
      [{ model: 'whisper-1', temperature: '3' }, 'temperature'],
      [{ model: 'whisper-1', 'timestamp_granularities[]': 'word' }, 'verbose_json'],
    ];
    for (const [fields, mention] of cases) {
      const res = await postFile(server().url, T, mp3, fields);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string; message: string } }).error.message).toContain(mention);
    }
    const noFile = await fetch(`${server().url}${T}`, { method: 'POST', body: new FormData() });
    expect(noFile.status).toBe(400);
  });

  it('answers 413 for an upload over MAX_UPLOAD_BYTES without buffering it', async () => {
    const config = { ...testConfig(), MAX_UPLOAD_BYTES: 64 * 1024 };
    const limiter = new Limiter(config);
    const metrics = new Metrics({ sessions: () => 0, fileRequests: () => 0, schedulerQueue: () => 0, sidecarReady: () => true });
    const app = createApp({ config, sidecar: server().supervisor, scheduler: server().scheduler, log: testLogger().log, limiter, metrics });
    const form = new FormData();
    form.append('model', 'whisper-1');
    form.append('file', new Blob([readFileSync(files.file('jfk.wav', 'wav', []))]), 'jfk.wav');
    const res = await app.request(T, { method: 'POST', body: form });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('file_too_large');
  });
});
