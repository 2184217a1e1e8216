import { describe, expect, it } from 'vitest';
import type { ClientConfig, FinalFrame, InterimFrame } from '../../session/types.js';
import type { DriverEvents } from '../adapter/driver.js';
import { bareWord, DeepgramConnection, speakerIndex, type DriverLike } from './connection.js';
import { parseListenQuery, QueryError } from './query.js';

/** A session double: records what the connection asks of it; the test plays the session's frames. */
class FakeDriver implements DriverLike {
  config: ClientConfig | undefined;
  calls: string[] = [];
  audioBytes = 0;
  constructor(readonly events: DriverEvents) {}
  configure(config: ClientConfig) { this.config = config; }
  audio(pcm: Uint8Array) { this.audioBytes += pcm.byteLength; }
  finalize() { this.calls.push('finalize'); }
  end(close?: { code: number }) { this.calls.push(close ? `end:${close.code}` : 'end'); }
  keepalive() { this.calls.push('keepalive'); }
  fail(err: unknown) { this.calls.push(`fail:${(err as { code?: string }).code}`); }
  closed() { this.calls.push('closed'); }
}

function interim(committed: Array<[string, number, number]>, tentative: Array<[string, number, number]>, extra: Partial<InterimFrame> = {}): InterimFrame {
  const segments = [...committed.map(([text, start, end]) => ({ text, start, end, committed: true })), ...tentative.map(([text, start, end]) => ({ text, start, end, committed: false }))];
  const c = committed.map((s) => s[0]).join(' ');
  const t = tentative.map((s) => s[0]).join(' ');
  return { type: 'interim', text: [c, t].filter(Boolean).join(' '), committed: c, tentative: t, segments, language: 'en', audio_s: 5, decoded_s: 5, lag_s: 0, interval_s: 1, ...extra };
}

function setup(query = 'interim_results=true&punctuate=true&encoding=linear16&sample_rate=16000') {
  const sent: Array<Record<string, unknown>> = [];
  const closes: Array<[number, string]> = [];
  let driver!: FakeDriver;
  const conn = new DeepgramConnection(parseListenQuery(new URLSearchParams(query)), { send: (m) => sent.push(m as Record<string, unknown>), close: (c, r) => closes.push([c, r]) }, (events) => (driver = new FakeDriver(events)), { requestId: 'req-1' });
  const results = () => sent.filter((m) => m.type === 'Results') as Array<{ is_final: boolean; speech_final: boolean; from_finalize: boolean; start: number; duration: number; channel: { alternatives: Array<{ transcript: string; words: Array<{ word: string; punctuated_word: string; speaker?: number; confidence: number }> }> } }>;
  return { conn, driver, sent, closes, results };
}

describe('DeepgramConnection', () => {
  it('sends each committed word once in contiguous finals, the tentative rest as interims', () => {
    const { driver, results } = setup();
    driver.events.interim(interim([], [['And so my', 0, 1.5]]), 'agree');
    driver.events.interim(interim([['And so', 0, 1]], [['my fellow', 1, 2]]), 'agree');
    driver.events.interim(interim([['And so my fellow Americans,', 0, 2.5]], [['ask', 2.5, 3]]), 'agree');
    const r = results();
    expect(r.map((x) => [x.is_final, x.channel.alternatives[0]!.transcript])).toEqual([
      [false, 'And so my'], [true, 'And so'], [false, 'my fellow'], [true, 'my fellow Americans,'], [false, 'ask'],
    ]);
    const finals = r.filter((x) => x.is_final);
    expect(finals[0]!.start).toBe(0);
    expect(finals[1]!.start).toBeCloseTo(finals[0]!.start + finals[0]!.duration, 6);
    expect(finals[1]!.channel.alternatives[0]!.words.map((w) => [w.word, w.punctuated_word])).toEqual([['my', 'my'], ['fellow', 'fellow'], ['americans', 'Americans,']]);
  });

  it('punctuate=false: bare lower-case transcript; interim_results=false: finals only', () => {
    const { driver, results } = setup('punctuate=false');
    driver.events.interim(interim([['Ask not!', 0, 1]], [['What', 1, 2]]), 'agree');
    expect(results().map((x) => [x.is_final, x.channel.alternatives[0]!.transcript])).toEqual([[true, 'ask not']]);
  });

  it('an utterance end: the interim that shows its commit is the speech_final final; a Finalize\'s reply is from_finalize', () => {
    const { conn, driver, results } = setup();
    const done = { utterancesDone: 1, finalizeReply: false };
    driver.events.vad!({ type: 'speech_start', at: 0.2 });
    driver.events.vad!({ type: 'utterance_end', at: 1.2 });
    driver.events.interim(interim([['Hello', 0, 0.6]], [['there', 0.6, 1.2]]), 'agree'); // committed words go out at once
    expect(results().filter((x) => x.is_final).map((x) => [x.channel.alternatives[0]!.transcript, x.speech_final])).toEqual([['Hello', false]]);
    driver.events.interim(interim([['Hello', 0, 0.6], ['there.', 0.6, 1.2]], []), 'flush', done);
    conn.onText('{"type":"Finalize"}');
    expect(driver.calls).toEqual(['finalize']);
    driver.events.interim(interim([['Hello', 0, 0.6], ['there.', 0.6, 1.2], ['Bye', 2, 2.5]], [], { finalized: true, audio_s: 3 }), 'flush', { utterancesDone: 0, finalizeReply: true });
    const f = results().filter((x) => x.is_final);
    expect(f.map((x) => [x.channel.alternatives[0]!.transcript, x.speech_final, x.from_finalize])).toEqual([['Hello', false, false], ['there.', true, false], ['Bye', false, true]]);
    expect(f[2]!.start + f[2]!.duration).toBeCloseTo(3, 6); // the Finalize reply covers all audio so far
  });

  it('endpointing=false: no speech_final, the utterance\'s words still final', () => {
    const { driver, results } = setup('interim_results=true&endpointing=false');
    driver.events.vad!({ type: 'utterance_end', at: 1.2 });
    driver.events.interim(interim([['Hello.', 0, 1.2]], []), 'flush', { utterancesDone: 1, finalizeReply: false });
    expect(results().map((x) => [x.is_final, x.speech_final])).toEqual([[true, false]]);
  });

  it('CloseStream drains: the rest of the final as finals, then Metadata; the session closes 1000', () => {
    const { conn, driver, sent, closes } = setup();
    conn.onBinary(new Uint8Array(3200));
    driver.events.interim(interim([['One', 0, 0.5]], [['two', 0.5, 1]]), 'agree');
    conn.onText('{"type":"CloseStream"}');
    expect(driver.calls).toContain('end');
    const final: FinalFrame = { type: 'final', text: 'One two three.', language: 'en', chunks: [{ text: 'One two three.', timestamp: [0, 1.5] }], duration_s: 2, decodes: 3 };
    driver.events.final(final);
    driver.events.close(1000, 'final');
    const types = sent.map((m) => m.type);
    expect(types.slice(-2)).toEqual(['Results', 'Metadata']);
    const last = sent[sent.length - 2] as { channel: { alternatives: Array<{ transcript: string }> } };
    expect(last.channel.alternatives[0]!.transcript).toBe('two three.');
    expect(sent[sent.length - 1]).toMatchObject({ type: 'Metadata', transaction_key: 'deprecated', request_id: 'req-1', duration: 2, channels: 1 });
    expect(closes).toEqual([[1000, 'final']]);
  });

  it('KeepAlive, an empty binary frame, Configure, unknown and bad text frames', () => {
    const { conn, driver, sent } = setup();
    conn.onText('{"type":"KeepAlive"}');
    conn.onText('{"type":"Configure","keyterms":["x"]}');
    conn.onText('{"type":"Bogus"}');
    conn.onText('not json');
    conn.onBinary(new Uint8Array(0));
    expect(driver.calls).toEqual(['keepalive', 'fail:unknown_message_type', 'fail:invalid_message', 'end']);
    expect(sent[0]).toMatchObject({ type: 'ConfigureFailure', code: 'CONFIGURE_KEYTERMS_NOT_SUPPORTED' });
  });

  it('errors in Deepgram\'s shape; idle close as NET-0001 / 1011', () => {
    const { driver, sent, closes } = setup();
    driver.events.error('idle_timeout', 'no message for 30000 ms');
    driver.events.close(1008, 'idle_timeout');
    expect(sent[0]).toEqual({ type: 'Error', variant: 'ClientError', code: 'idle_timeout', description: 'no message for 30000 ms', message: '' });
    expect(closes).toEqual([[1011, 'NET-0001']]);
  });

  it('diarize: a final waits for its segment\'s speaker, and carries it as an index', () => {
    const { driver, results } = setup('diarize=true&punctuate=true');
    const seg = (speaker: string | null) => ({ ...interim([], []), segments: [{ text: 'Hi there.', start: 0, end: 1, committed: true, speaker }] });
    driver.events.interim(seg(null), 'flush');
    expect(results().filter((x) => x.is_final)).toEqual([]);
    driver.events.interim(seg('B'), 'agree');
    const f = results().filter((x) => x.is_final);
    expect(f[0]!.channel.alternatives[0]!.words.map((w) => w.speaker)).toEqual([1, 1]);
    expect(driver.config).toMatchObject({ diarize: true });
  });

  it('downmixes channels and decodes µ-law before the session', () => {
    const { conn, driver } = setup('encoding=mulaw&sample_rate=8000&channels=2');
    conn.onBinary(new Uint8Array(801)); // 400 stereo frames + 1 byte kept
    expect(driver.audioBytes).toBe(800);
    expect(driver.config).toMatchObject({ sample_rate: 8000 });
  });
});

describe('parseListenQuery', () => {
  it('defaults, BCP-47 languages, multi, endpointing', () => {
    const o = parseListenQuery(new URLSearchParams('language=en-US&endpointing=300&no_delay=true&filler_words=true&model=nova-3'));
    expect(o).toMatchObject({ encoding: 'linear16', sampleRate: 16000, channels: 1, language: 'en', endpointing: 300, interimResults: false, model: 'nova-3' });
    expect(parseListenQuery(new URLSearchParams('language=multi')).language).toBeNull();
    expect(parseListenQuery(new URLSearchParams('endpointing=false')).endpointing).toBe(false);
    expect(parseListenQuery(new URLSearchParams('encoding=mulaw')).sampleRate).toBe(8000);
  });

  it.each(['encoding=opus', 'encoding=wav', 'sample_rate=4000', 'sample_rate=abc', 'channels=0', 'interim_results=yes', 'diarize=1', 'endpointing=-5', 'utterance_end_ms=x', 'language=english1'])('%s is refused', (q) => {
    expect(() => parseListenQuery(new URLSearchParams(q), ['en', 'de'])).toThrow(QueryError);
  });

  it('a language the model does not know is refused', () => {
    expect(() => parseListenQuery(new URLSearchParams('language=xx'), ['en', 'de'])).toThrow(/not one the model knows/);
  });
});

describe('words', () => {
  it('bare words and speaker indices', () => {
    expect(bareWord('"Americans,"')).toBe('americans');
    expect(bareWord("don't")).toBe("don't");
    expect(speakerIndex('A')).toBe(0);
    expect(speakerIndex('Z')).toBe(25);
    expect(speakerIndex('AA')).toBe(26);
  });

  it('drain: ends the session as CloseStream would, but asks for close 1012; the final Results and Metadata go out before it', () => {
    const { conn, driver, sent, closes, results } = setup();
    conn.onBinary(new Uint8Array(3200));
    driver.events.interim(interim([['Ask', 0, 0.4]], [['not', 0.4, 0.8]]), 'agree');
    conn.drain({ code: 1012, reason: 'service restart' });
    expect(driver.calls).toEqual(['end:1012']);
    driver.events.final({ type: 'final', text: 'Ask not.', language: 'en', chunks: [{ text: 'Ask not.', timestamp: [0, 0.8] }], duration_s: 1, decodes: 2 });
    driver.events.close(1012, 'service restart');
    const finals = results().filter((r) => r.is_final).map((r) => r.channel.alternatives[0]!.transcript);
    expect(finals.join(' ')).toBe('Ask not.');
    expect(sent.at(-1)!.type).toBe('Metadata');
    expect(closes).toEqual([[1012, 'service restart']]);
  });

  it('drain after CloseStream changes nothing: that stream ends normally', () => {
    const { conn, driver } = setup();
    conn.onText(JSON.stringify({ type: 'CloseStream' }));
    conn.drain({ code: 1012, reason: 'service restart' });
    expect(driver.calls).toEqual(['end']);
  });
});
