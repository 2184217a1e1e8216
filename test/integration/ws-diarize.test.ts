/**
 * Streaming speaker labels through the real server, sidecar, Whisper and Resemblyzer encoder:
 * a conversation built from two real recordings (JFK, a FLEURS reader, JFK, the reader) streamed
 * with {"type":"config","diarize":true} gets labels that are stable for the session: every final
 * chunk inside one person's turns carries that person's label, the two people get different ones,
 * and committed interim segments carry them as they are known. Without diarize, no speaker field.
 */
import { describe, expect, it } from 'vitest';
import { AUDIO_DIR, readWavPcm } from '../helpers/audio.js';
import { useServer } from '../helpers/server.js';
import { streamPcm, wsUrl } from '../helpers/ws-client.js';

const cut = (pcm: Buffer, from: number, to: number) => pcm.subarray(Math.round(from * 16_000) * 2, Math.round(to * 16_000) * 2);
const pause = (s: number) => Buffer.alloc(Math.round(s * 16_000) * 2);
const jfk = readWavPcm(`${AUDIO_DIR}/jfk.wav`);
const reader = readWavPcm(`${AUDIO_DIR}/fleurs-en-001.wav`);
// Pauses of 1 s so each turn ends an utterance (the endpointer commits it).
const pieces: Array<[Buffer, string | null]> = [[cut(jfk, 0, 4.3), 'jfk'], [pause(1), null], [cut(reader, 0, 4.6), 'reader'], [pause(1), null],
  [cut(jfk, 4.3, 11), 'jfk'], [pause(1), null], [cut(reader, 4.6, 8.76), 'reader'], [pause(1), null]];
const turns: Array<[number, number, string]> = [];
pieces.reduce((t, [pcm, who]) => (who && turns.push([t, t + pcm.length / 32_000, who]), t + pcm.length / 32_000), 0);
const conversation = Buffer.concat(pieces.map(([pcm]) => pcm));
const whoAt = (s: number, e: number) => turns.find(([a, b]) => (s + e) / 2 >= a && (s + e) / 2 <= b)?.[2];

const server = useServer();

describe('streaming diarization', () => {
  // Greedy stream windows may split a turn into short segments (jfk's first 4.3 s into 2.0 s + 1.6 s):
  // too short to found a speaker of their own (MIN_NEW_SPEAKER_S), they join the nearest one.
  it('labels each speaker the same way for the whole session', async () => {
    const r = await streamPcm(wsUrl(server().url), conversation, { config: { diarize: true }, chunkBytes: 16_000, pauseMs: 125 });
    expect(r.errors).toEqual([]);
    const chunks = r.final!.chunks as Array<{ text: string; timestamp: [number, number]; speaker: string | null }>;
    expect(chunks.length).toBeGreaterThan(2);
    const labels = new Map<string, Set<string | null>>();
    for (const c of chunks) {
      const who = whoAt(c.timestamp[0], c.timestamp[1]);
      if (who) labels.set(who, (labels.get(who) ?? new Set()).add(c.speaker));
    }
    expect([...labels.get('jfk')!]).toEqual(['A']);
    expect([...labels.get('reader')!]).toEqual(['B']);
    // Interims: committed segments carry the key (null until the label is known), and a label once
    // given never changes: it is the final's label for the same segment.
    const committed = r.interims.flatMap((m) => (m.segments as Array<{ start: number; committed: boolean; speaker?: string | null }>).filter((s) => s.committed));
    expect(committed.every((s) => 'speaker' in s)).toBe(true);
    for (const s of committed.filter((x) => x.speaker)) {
      expect(chunks.find((c) => Math.abs(c.timestamp[0] - s.start) < 0.002)?.speaker).toBe(s.speaker);
    }
  }, 240_000);

  it('adds no speaker field without diarize', async () => {
    const r = await streamPcm(wsUrl(server().url), cut(jfk, 0, 11), { chunkBytes: 32_000 });
    expect((r.final!.chunks as object[]).every((c) => !('speaker' in c))).toBe(true);
  }, 120_000);
});
