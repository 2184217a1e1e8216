/**
 * /v1/listen through the official @deepgram/sdk live client (5.13.0, unchanged, baseUrl pointed at
 * the local server), against the real server, sidecar and model: interim then final Results in
 * order with contiguous final ranges, Finalize mid-stream answered by a from_finalize final while
 * the stream goes on, CloseStream answered by the remaining finals, then Metadata, then close 1000;
 * the finals' transcript within WER 0.1; speech_final, UtteranceEnd and SpeechStarted on a pause;
 * µ-law audio; diarize=true speakers on the two-speaker conversation; bad query → HTTP 400 and a
 * missing key → 401 before the upgrade.
 */
import { describe, expect, it } from 'vitest';
import { encodeG711 } from '../../src/audio/g711.js';
import { pcm16ToInt16 } from '../../src/audio/pcm.js';
import { AUDIO_DIR, manifest, readWavPcm } from '../helpers/audio.js';
import { dgConnect, dgStream, upgradeStatus, wsWer, type DgResults } from '../helpers/deepgram-client.js';
import { useServer } from '../helpers/server.js';
import { streamPcm, wsUrl } from '../helpers/ws-client.js';
import { plusOneWord, wer } from '../helpers/wer.js';

const server = useServer();
const transcript = (file: string) => manifest().find((f) => f.file === file)!.transcript;
const jfk = readWavPcm(`${AUDIO_DIR}/jfk.wav`);
const fleurs = readWavPcm(`${AUDIO_DIR}/fleurs-en-000.wav`);
const LIVE = { encoding: 'linear16', sample_rate: 16000, channels: 1, language: 'en', interim_results: 'true', punctuate: 'true', smart_format: 'true' };

function expectContiguous(finals: DgResults[]) {
  for (let i = 1; i < finals.length; i++) expect(finals[i]!.start).toBeCloseTo(finals[i - 1]!.start + finals[i - 1]!.duration, 2);
}

describe('Deepgram live (@deepgram/sdk) on /v1/listen', () => {
  it('streams jfk.wav: interims and finals in order, CloseStream → remaining finals, Metadata, close 1000; no later than /ws/transcribe', async () => {
    // The same audio at the same pace through /ws/transcribe first: same engine, so the same text
    // quality and a first interim no earlier than ours.
    const ws = await streamPcm(wsUrl(server().url), jfk, { config: { language: 'en' }, chunkBytes: 3_200, pauseMs: 100 });
    const r = await dgStream(server().url, jfk, LIVE, { chunkBytes: 3_200, pauseMs: 100 });
    expect(r.errors).toEqual([]);
    expect(r.close.code).toBe(1000);
    expect(r.results.some((x) => !x.is_final), JSON.stringify(r.results.map((x) => [x.is_final, x.channel.alternatives[0]!.transcript]))).toBe(true);
    expect(r.finals.length).toBeGreaterThan(0);
    expectContiguous(r.finals);
    // Interims only ever extend what the finals so far left open: each starts where the finals end.
    let cursor = 0;
    for (const x of r.results) {
      expect(x.start).toBeCloseTo(cursor, 2);
      if (x.is_final) cursor = x.start + x.duration;
    }
    const last = r.messages[r.messages.length - 1]!;
    expect(last.type).toBe('Metadata');
    expect(last).toMatchObject({ transaction_key: 'deprecated', channels: 1 });
    expect(last.duration as number).toBeCloseTo(11, 0);
    expect(typeof last.request_id).toBe('string');
    for (const f of r.finals) for (const w of f.channel.alternatives[0]!.words) {
      expect(w.end).toBeGreaterThanOrEqual(w.start);
      expect(w.confidence).toBeGreaterThan(0);
      expect(w.confidence).toBeLessThanOrEqual(1);
      expect(w.word).toBe(w.word.toLowerCase());
      expect(typeof w.punctuated_word).toBe('string');
    }
    // Confidence is the model's token probability, not a stand-in constant: words differ.
    const confidences = r.finals.flatMap((f) => f.channel.alternatives[0]!.words.map((w) => w.confidence));
    expect(new Set(confidences).size).toBeGreaterThan(confidences.length / 2);
    const wsWer = wer(transcript('jfk.wav'), String(ws.final!.text));
    const dgWer = wer(transcript('jfk.wav'), r.text);
    // ≤ 0.1 on an idle machine; on a loaded one the engine itself may do worse, for both routes alike.
    expect(dgWer, `${r.text} (ws: ${String(ws.final!.text)})`).toBeLessThanOrEqual(Math.max(0.1, wsWer + 0.05, plusOneWord(transcript('jfk.wav'), wsWer)));
  });

  it('streams a FLEURS file: final transcript within WER 0.1 (or no worse than /ws/transcribe on the same audio)', async () => {
    const r = await dgStream(server().url, fleurs, LIVE, { chunkBytes: 3_200, pauseMs: 100 });
    expect(r.close.code).toBe(1000);
    const ws = await wsWer(server().url, fleurs, transcript('fleurs-en-000.wav'));
    expect(wer(transcript('fleurs-en-000.wav'), r.text), `${r.text} (ws: ${ws.text})`).toBeLessThanOrEqual(Math.max(0.1, ws.wer + 0.05, plusOneWord(transcript('fleurs-en-000.wav'), ws.wer)));
  });

  it('Finalize mid-stream gives a from_finalize final and the stream goes on', async () => {
    const r = await dgStream(server().url, jfk, LIVE, { chunkBytes: 3_200, pauseMs: 100, finalizeAt: [5 * 32_000], holdUntil: (m) => m.some((x) => x.from_finalize === true) });
    expect(r.close.code).toBe(1000);
    const fromFinalize = r.finals.filter((f) => f.from_finalize);
    expect(fromFinalize.length).toBe(1);
    const at = r.finals.indexOf(fromFinalize[0]!);
    // The finalize reply covers the audio up to the Finalize (about 5 s), and words after it still come, as finals after it.
    expect(fromFinalize[0]!.start + fromFinalize[0]!.duration).toBeGreaterThan(4);
    expect(r.finals.slice(at + 1).some((f) => f.channel.alternatives[0]!.transcript !== '')).toBe(true);
    expectContiguous(r.finals);
    expect(r.messages[r.messages.length - 1]!.type).toBe('Metadata');
    // A Finalize commits what was heard at that instant, mid-word if need be: text quality is not what this checks.
    expect(wer(transcript('jfk.wav'), r.text), r.text).toBeLessThanOrEqual(0.5);
  });

  it('a pause: speech_final on a final, UtteranceEnd, SpeechStarted (vad_events)', async () => {
    const pause = Buffer.alloc(2 * 16_000 * 2);
    const audio = Buffer.concat([readWavPcm(`${AUDIO_DIR}/ls-6930-75918-0000.wav`), pause, readWavPcm(`${AUDIO_DIR}/ls-7902-96591-0000.wav`), pause]);
    const r = await dgStream(server().url, audio, { ...LIVE, endpointing: 300, utterance_end_ms: 1000, vad_events: 'true' }, {
      chunkBytes: 3_200, pauseMs: 100,
      holdUntil: (m) => m.filter((x) => x.speech_final === true).length >= 2 && m.some((x) => x.type === 'UtteranceEnd'),
    });
    expect(r.close.code).toBe(1000);
    const speechFinals = r.finals.filter((f) => f.speech_final);
    // On a failure, the whole exchange: which message came, its span, flags and words.
    const exchange = r.messages.map((m) => m.type !== 'Results' ? `${m.type} ${JSON.stringify({ ...m, type: undefined, model_info: undefined })}`
      : `${m.is_final ? (m.speech_final ? 'FINAL*' : 'FINAL') : 'interim'} ${(m as unknown as DgResults).start}+${(m as unknown as DgResults).duration}: ${(m as unknown as DgResults).channel.alternatives[0]!.transcript}`).join('\n');
    expect(speechFinals.length, exchange).toBeGreaterThanOrEqual(2);
    const ends = r.messages.filter((m) => m.type === 'UtteranceEnd');
    expect(ends.length).toBeGreaterThanOrEqual(1);
    // UtteranceEnd names the end of a word sent before it, in a final or an interim (the last word
    // heard may still be tentative: under load its final can come after the UtteranceEnd).
    const before = r.messages.slice(0, r.messages.indexOf(ends[0]!))
      .flatMap((m) => (m.type === 'Results' ? (m as unknown as DgResults).channel.alternatives[0]!.words : []));
    expect(before.some((w) => Math.abs(w.end - (ends[0]!.last_word_end as number)) < 0.01)).toBe(true);
    const started = r.messages.filter((m) => m.type === 'SpeechStarted');
    expect(started.length).toBeGreaterThanOrEqual(2);
    expect(started[0]!.timestamp as number).toBeLessThan(1.5);
    expect(started[1]!.timestamp as number).toBeGreaterThan(5);
    expect(wer(`${transcript('ls-6930-75918-0000.wav')} ${transcript('ls-7902-96591-0000.wav')}`, r.text), r.text).toBeLessThanOrEqual(0.25); // whisper-base hears "I'm" for "I am"
  });

  it('µ-law at 8 kHz, no interim_results: finals only, same words', async () => {
    // 16 kHz → 8 kHz by averaging pairs (the server's resampler takes it back to 16 kHz).
    const s16 = pcm16ToInt16(jfk);
    const s8 = Int16Array.from({ length: s16.length >> 1 }, (_, i) => (s16[2 * i]! + s16[2 * i + 1]!) >> 1);
    const r = await dgStream(server().url, encodeG711(s8, 'ulaw'), { encoding: 'mulaw', sample_rate: 8000, punctuate: 'true' }, { chunkBytes: 1_600, pauseMs: 100 });
    expect(r.close.code).toBe(1000);
    expect(r.results.every((x) => x.is_final)).toBe(true);
    const ws = await wsWer(server().url, jfk, transcript('jfk.wav'));
    expect(wer(transcript('jfk.wav'), r.text), `${r.text} (ws: ${ws.text})`).toBeLessThanOrEqual(Math.max(0.15, ws.wer + 0.1));
  });

  it('diarize=true: every word of one person\'s turns carries that person\'s speaker, the two people different ones', async () => {
    // The conversation of ws-diarize.test.ts: JFK, a FLEURS reader, JFK, the reader, 1 s pauses.
    const cut = (pcm: Buffer, from: number, to: number) => pcm.subarray(Math.round(from * 16_000) * 2, Math.round(to * 16_000) * 2);
    const pause = Buffer.alloc(32_000);
    const reader = readWavPcm(`${AUDIO_DIR}/fleurs-en-001.wav`);
    const pieces: Array<[Buffer, string | null]> = [[cut(jfk, 0, 4.3), 'jfk'], [pause, null], [cut(reader, 0, 4.6), 'reader'], [pause, null], [cut(jfk, 4.3, 11), 'jfk'], [pause, null], [cut(reader, 4.6, 8.76), 'reader'], [pause, null]];
    const turns: Array<[number, number, string]> = [];
    pieces.reduce((t, [pcm, who]) => (who && turns.push([t, t + pcm.length / 32_000, who]), t + pcm.length / 32_000), 0);
    const r = await dgStream(server().url, Buffer.concat(pieces.map(([p]) => p)), { ...LIVE, diarize: 'true' }, { chunkBytes: 16_000, pauseMs: 125 });
    expect(r.close.code).toBe(1000);
    // Online labels are per committed segment, and a segment that runs across a turn change gets one
    // label: so nearly every word (not all) of a person's turns carries that person's speaker.
    const speakers = new Map<string, Array<number | undefined>>();
    for (const w of r.finals.flatMap((f) => f.channel.alternatives[0]!.words)) {
      const who = turns.find(([a, b]) => (w.start + w.end) / 2 >= a && (w.start + w.end) / 2 <= b)?.[2];
      if (who) speakers.set(who, [...(speakers.get(who) ?? []), w.speaker]);
    }
    const majority = (who: string) => {
      const labels = speakers.get(who)!;
      const top = [...new Set(labels)].sort((a, b) => labels.filter((x) => x === b).length - labels.filter((x) => x === a).length)[0];
      return { speaker: top, share: labels.filter((x) => x === top).length / labels.length };
    };
    const [a, b] = [majority('jfk'), majority('reader')];
    expect(typeof a.speaker).toBe('number');
    expect(a.speaker, JSON.stringify([...speakers])).not.toBe(b.speaker);
    expect(Math.min(a.share, b.share), JSON.stringify([...speakers])).toBeGreaterThanOrEqual(0.85);
  });

  it('refuses a bad known parameter with HTTP 400 and ignores unknown ones', async () => {
    expect(await upgradeStatus(`${server().url}/v1/listen?encoding=opus`)).toBe(400);
    expect(await upgradeStatus(`${server().url}/v1/listen?sample_rate=abc`)).toBe(400);
    expect(await upgradeStatus(`${server().url}/v1/listen?interim_results=yes`)).toBe(400);
    expect(await upgradeStatus(`${server().url}/v1/listen?language=xx`)).toBe(400);
    await expect(dgConnect(server().url, { encoding: 'opus' })).rejects.toThrow();
    const ok = await dgConnect(server().url, { ...LIVE, no_delay: 'true', filler_words: 'true', keyterm: ['Hono'] } as Record<string, unknown>);
    ok.conn.sendCloseStream({ type: 'CloseStream' });
    expect((await ok.closed).code).toBe(1000);
    expect(ok.messages.map((m) => m.type)).toEqual(['Metadata']);
  });
});

