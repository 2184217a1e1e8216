/**
 * Speaker labels on file transcriptions through the real server, sidecar, Whisper model and
 * Resemblyzer encoder: a conversation built from two real recordings (JFK, then a FLEURS reader,
 * then JFK again, then the reader again) must come back with two speakers, labelled the same on
 * each of their turns, in verbose_json (segments and words) and diarized_json; one speaker gives
 * one label; silence gives no speakers; GET / names the backend. A diarized file goes as slices and
 * a `file_diarize` request, and gives what one whole request gives (FILE_SLICES=false).
 */
import { describe, expect, it } from 'vitest';
import { AUDIO_DIR, readWavPcm } from '../helpers/audio.js';
import { useServer } from '../helpers/server.js';
import { postFile } from './files-helpers.js';
import { NO_FFMPEG } from '../helpers/ffmpeg.js';

const T = '/v1/audio/transcriptions';
const BYTES_PER_S = 32_000;

/** 16 kHz mono s16le → a WAV file. */
function wav(pcm: Buffer): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + pcm.length, 4); h.write('WAVEfmt ', 8); h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22); h.writeUInt32LE(16_000, 24); h.writeUInt32LE(BYTES_PER_S, 28);
  h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34); h.write('data', 36); h.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([h, pcm]);
}

const cut = (pcm: Buffer, from: number, to: number) => pcm.subarray(Math.round(from * 16_000) * 2, Math.round(to * 16_000) * 2);
const pause = (s: number) => Buffer.alloc(Math.round(s * 16_000) * 2);

// Turns: A 0-4.3 s of jfk, B 0-4.6 s of fleurs-en-001, A the rest of jfk, B the rest of the reader.
const jfk = readWavPcm(`${AUDIO_DIR}/jfk.wav`);
const reader = readWavPcm(`${AUDIO_DIR}/fleurs-en-001.wav`);
const pieces = [cut(jfk, 0, 4.3), pause(0.5), cut(reader, 0, 4.6), pause(0.6), cut(jfk, 4.3, 11), pause(0.4), cut(reader, 4.6, 8.76)];
const conversation = wav(Buffer.concat(pieces));
const bounds: number[] = [];
pieces.reduce((t, p) => (bounds.push(t + p.length / BYTES_PER_S), t + p.length / BYTES_PER_S), 0);
// Where each speaker's turns are: [start, end, who].
const truth: Array<[number, number, string]> = [[0, bounds[0]!, 'jfk'], [bounds[1]!, bounds[2]!, 'reader'], [bounds[3]!, bounds[4]!, 'jfk'], [bounds[5]!, bounds[6]!, 'reader']];
const whoAt = (t: number) => truth.find(([s, e]) => t >= s && t <= e)?.[2];

const server = useServer();

describe.skipIf(NO_FFMPEG)('diarization', () => {
  it('labels two speakers consistently across their turns in verbose_json segments and words', async () => {
    const res = await postFile(server().url, T, conversation, { model: 'whisper-1', response_format: 'verbose_json', diarize: 'true', 'timestamp_granularities[]': ['word', 'segment'] }, 'talk.wav');
    if (res.status !== 200) console.log(await res.text());
    expect(res.status).toBe(200);
    const body = (await res.json()) as { segments: Array<{ start: number; end: number; text: string; speaker: string }>; words: Array<{ word: string; start: number; end: number; speaker: string }> };
    expect(new Set(body.segments.map((s) => s.speaker))).toEqual(new Set(['A', 'B']));
    // Each real speaker maps to one label: most words inside a turn carry that turn's label.
    const labelOf = new Map<string, Map<string, number>>();
    for (const w of body.words) {
      const who = whoAt((w.start + w.end) / 2);
      if (!who) continue;
      const counts = labelOf.get(who) ?? new Map<string, number>();
      counts.set(w.speaker, (counts.get(w.speaker) ?? 0) + 1);
      labelOf.set(who, counts);
    }
    const majority = (who: string) => [...labelOf.get(who)!.entries()].sort((a, b) => b[1] - a[1])[0]!;
    expect(majority('jfk')[0]).toBe('A');
    expect(majority('reader')[0]).toBe('B');
    const labelled = body.words.filter((w) => whoAt((w.start + w.end) / 2));
    const right = labelled.filter((w) => w.speaker === (whoAt((w.start + w.end) / 2) === 'jfk' ? 'A' : 'B'));
    expect(right.length / labelled.length).toBeGreaterThan(0.9);
    // No segment spans a speaker change: its words all share its label.
    for (const s of body.segments) {
      const inside = body.words.filter((w) => w.start >= s.start && w.end <= s.end);
      expect(inside.every((w) => w.speaker === s.speaker)).toBe(true);
    }
    expect(body.segments.filter((s) => /country/i.test(s.text)).every((s) => s.speaker === 'A')).toBe(true);
  }, 180_000);

  it('honours num_speakers in vad mode', async () => {
    const res = await postFile(server().url, T, conversation, { model: 'whisper-1', response_format: 'diarized_json', mode: 'vad', num_speakers: '3' }, 'talk.wav');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { segments: Array<{ speaker: string }> };
    expect(new Set(body.segments.map((s) => s.speaker)).size).toBeGreaterThanOrEqual(2);
    const bad = await postFile(server().url, T, conversation, { model: 'whisper-1', diarize: 'true', min_speakers: '3', max_speakers: '2' }, 'talk.wav');
    expect(bad.status).toBe(400);
  }, 180_000);

  it('answers diarized_json with typed segments, and one speaker gives one label', async () => {
    const res = await postFile(server().url, T, `${AUDIO_DIR}/fleurs-fr-001.wav`, { model: 'whisper-1', response_format: 'diarized_json' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { text: string; segments: Array<{ type: string; id: string; speaker: string; text: string }> };
    expect(body.text.length).toBeGreaterThan(50);
    expect(body.segments.length).toBeGreaterThan(0);
    expect(body.segments.every((s) => s.type === 'transcript.text.segment' && s.speaker === 'A' && s.id.startsWith('seg_'))).toBe(true);
  }, 180_000);

  it('finds no speakers in silence, and rejects diarize with stream=true', async () => {
    const res = await postFile(server().url, T, `${AUDIO_DIR}/silence-60s.wav`, { model: 'whisper-1', response_format: 'diarized_json', vad: 'true' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { segments: Array<{ speaker: string | null }> };
    expect(body.segments.filter((s) => s.speaker !== null)).toEqual([]);
    const bad = await postFile(server().url, T, `${AUDIO_DIR}/jfk.wav`, { model: 'whisper-1', diarize: 'true', stream: 'true' });
    expect(bad.status).toBe(400);
  }, 180_000);

  it('says which backend runs and why in GET /', async () => {
    const body = (await (await fetch(`${server().url}/`)).json()) as { diarization: { backend: string; reason: string } };
    expect(body.diarization.backend).toBe('resemblyzer');
    expect(body.diarization.reason).toMatch(/offline/);
  });
});

describe.skipIf(NO_FFMPEG)('diarization in slices', () => {
  const whole = useServer({ FILE_SLICES: 'false' });
  const count = async (url: string, kind: string) => Number(new RegExp(`whisper_sidecar_requests_total\\{kind="${kind}"\\} (\\d+)`).exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);
  it.each(['pipeline', 'vad'])('%s mode: slices, then file_diarize, give what one whole request gives', async (mode) => {
    const fields = { model: 'whisper-1', response_format: 'verbose_json', diarize: 'true', mode, 'timestamp_granularities[]': ['word', 'segment'] };
    const before = await count(server().url, 'file_diarize');
    const sliced = await postFile(server().url, T, conversation, fields, 'talk.wav');
    const one = await postFile(whole().url, T, conversation, fields, 'talk.wav');
    expect([sliced.status, one.status]).toEqual([200, 200]);
    const [a, b] = [await sliced.json(), await one.json()] as Array<{ segments: Array<{ speaker: string }> }>;
    expect(a).toEqual(b);
    expect(new Set(a!.segments.map((s) => s.speaker))).toEqual(new Set(['A', 'B']));
    expect(await count(server().url, 'file_diarize')).toBe(before + 1);
    expect(await count(whole().url, 'file_diarize')).toBe(0);
  }, 240_000);
});
