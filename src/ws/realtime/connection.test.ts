import { describe, expect, it } from 'vitest';
import type { ClientConfig, InterimFrame } from '../../session/types.js';
import type { DriverEvents, DriverTuning } from '../adapter/driver.js';
import { RealtimeConnection, type DriverLike } from './connection.js';
import { applyGaUpdate, defaultConfig, EventError, realtimeDialect } from './events.js';

class FakeDriver implements DriverLike {
  config: ClientConfig | undefined;
  calls: string[] = [];
  audioBytes = 0;
  constructor(readonly events: DriverEvents, readonly tuning: DriverTuning | undefined) {}
  configure(config: ClientConfig) { this.config = config; }
  audio(pcm: Uint8Array) { this.audioBytes += pcm.byteLength; }
  finalize() { this.calls.push('finalize'); }
  end(close?: { code: number }) { this.calls.push(`end:${close?.code ?? 1000}`); }
  keepalive() { this.calls.push('keepalive'); }
  fail(err: unknown) { this.calls.push(`fail:${(err as { code?: string }).code}`); }
  closed() { this.calls.push('closed'); }
}

const committedFrame = (words: Array<[string, number, number]>, finalized = false): InterimFrame => ({
  type: 'interim', text: '', committed: '', tentative: '', language: 'en', audio_s: 0, decoded_s: 0, lag_s: 0, interval_s: 0,
  segments: words.map(([text, start, end]) => ({ text, start, end, committed: true })),
  ...(finalized ? { finalized: true as const } : {}),
});

function setup(dialect: 'ga' | 'beta' = 'ga', closes: Array<[number, string]> = []) {
  const sent: Array<Record<string, unknown>> = [];
  let driver: FakeDriver | undefined;
  const conn = new RealtimeConnection(dialect, { send: (e) => sent.push(e as Record<string, unknown>), close: (c, r) => closes.push([c, r]) }, (events, tuning) => (driver = new FakeDriver(events, tuning)), { model: null, languages: ['en', 'de'] });
  const types = () => sent.map((e) => e.type);
  const append = (ms: number) => conn.onText(JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(48 * ms).toString('base64') }));
  return { conn, sent, types, append, driver: () => driver! };
}

describe('RealtimeConnection', () => {
  it('GA: session.created first; session.update answered with the effective config; the first audio sets up the session', () => {
    const { conn, sent, append, driver } = setup();
    expect(sent[0]).toMatchObject({ type: 'session.created', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: { type: 'server_vad', silence_duration_ms: 500 } } } } });
    conn.onText(JSON.stringify({ type: 'session.update', session: { type: 'transcription', audio: { input: { transcription: { model: 'gpt-4o-transcribe', language: 'en' }, turn_detection: { type: 'server_vad', threshold: 0.6, silence_duration_ms: 900 } } } } }));
    expect(sent[1]).toMatchObject({ type: 'session.updated', session: { audio: { input: { transcription: { model: 'gpt-4o-transcribe', language: 'en' }, turn_detection: { threshold: 0.6, silence_duration_ms: 900 } } } } });
    append(100);
    expect(driver().config).toMatchObject({ language: 'en', sample_rate: 24000, endpointing_ms: 900 });
    expect(driver().tuning).toEqual({ vadThreshold: 0.6 });
    expect(driver().audioBytes).toBe(4800);
  });

  it('server VAD: speech_started → speech_stopped → committed → item.added; deltas; the utterance\'s commit completes it with usage; item.done', () => {
    const { types, append, sent, driver } = setup();
    append(2000);
    const d = driver();
    d.events.vad!({ type: 'speech_start', at: 0.5 });
    d.events.interim(committedFrame([['Hello', 0.5, 0.9]]), 'agree');
    d.events.vad!({ type: 'utterance_end', at: 1.4 });
    expect(d.calls).toEqual([]);
    d.events.interim(committedFrame([['Hello', 0.5, 0.9], ['world.', 0.9, 1.4]]), 'flush', { utterancesDone: 1, finalizeReply: false });
    expect(types().slice(1)).toEqual(['input_audio_buffer.speech_started', 'conversation.item.input_audio_transcription.delta', 'input_audio_buffer.speech_stopped', 'input_audio_buffer.committed', 'conversation.item.added', 'conversation.item.input_audio_transcription.delta', 'conversation.item.input_audio_transcription.completed', 'conversation.item.done']);
    const started = sent[1]!;
    expect(started.audio_start_ms).toBe(200); // onset 500 ms − prefix_padding 300 ms
    const deltas = sent.filter((e) => e.type === 'conversation.item.input_audio_transcription.delta').map((e) => e.delta);
    expect(deltas).toEqual(['Hello', ' world.']);
    expect(sent.find((e) => e.type === 'conversation.item.input_audio_transcription.completed')).toMatchObject({ item_id: started.item_id, transcript: 'Hello world.', usage: { type: 'duration', seconds: 2 } });
  });

  it('manual commits: empty commit error; words go to the item whose audio they start in', () => {
    const { conn, sent, append, driver } = setup();
    conn.onText('{"type":"session.update","session":{"audio":{"input":{"turn_detection":null}}}}');
    conn.onText('{"type":"input_audio_buffer.commit","event_id":"c0"}');
    expect(sent.at(-1)).toMatchObject({ type: 'error', error: { code: 'input_audio_buffer_commit_empty', event_id: 'c0' } });
    append(1000);
    conn.onText('{"type":"input_audio_buffer.commit"}');
    append(1000);
    const d = driver();
    d.events.vad!({ type: 'speech_start', at: 0.1 }); // no VAD events without server_vad
    d.events.interim(committedFrame([['one', 0.2, 0.6], ['two', 1.2, 1.5]], true), 'flush', { utterancesDone: 0, finalizeReply: true });
    const completed = sent.filter((e) => e.type === 'conversation.item.input_audio_transcription.completed');
    expect(completed.map((e) => e.transcript)).toEqual(['one']);
    expect(sent.some((e) => e.type === 'input_audio_buffer.speech_started')).toBe(false);
    conn.onText('{"type":"input_audio_buffer.commit"}');
    expect(d.calls).toEqual(['finalize', 'finalize']);
    d.events.interim(committedFrame([['one', 0.2, 0.6], ['two', 1.2, 1.5]], true), 'flush', { utterancesDone: 0, finalizeReply: true });
    expect(sent.filter((e) => e.type === 'conversation.item.input_audio_transcription.completed').map((e) => e.transcript)).toEqual(['one', 'two']);
    const committed = sent.filter((e) => e.type === 'input_audio_buffer.committed');
    expect(committed[1]!.previous_item_id).toBe(committed[0]!.item_id);
  });

  it('a commit whose reply still has tentative words of its audio finalizes again before completing', () => {
    const { conn, sent, append, driver } = setup();
    conn.onText('{"type":"session.update","session":{"audio":{"input":{"turn_detection":null}}}}');
    append(2000);
    conn.onText('{"type":"input_audio_buffer.commit"}');
    const d = driver();
    const reply = (committed: Array<[string, number, number]>, tentative: Array<[string, number, number]>) => ({
      ...committedFrame(committed, true),
      segments: [...committed.map(([text, start, end]) => ({ text, start, end, committed: true })), ...tentative.map(([text, start, end]) => ({ text, start, end, committed: false }))],
    });
    d.events.interim(reply([['one', 0.2, 0.6]], [['two', 1.2, 1.5]]), 'flush', { utterancesDone: 0, finalizeReply: true });
    expect(d.calls).toEqual(['finalize', 'finalize']);
    expect(sent.some((e) => e.type === 'conversation.item.input_audio_transcription.completed')).toBe(false);
    d.events.interim(reply([['one', 0.2, 0.6], ['two', 1.2, 1.5]], []), 'flush', { utterancesDone: 0, finalizeReply: true });
    expect(sent.find((e) => e.type === 'conversation.item.input_audio_transcription.completed')).toMatchObject({ transcript: 'one two' });
  });

  it('beta dialect names; errors with param; format fixed after the first audio', () => {
    const { conn, sent, append } = setup('beta');
    expect(sent[0]!.type).toBe('transcription_session.created');
    conn.onText('{"type":"transcription_session.update","session":{"input_audio_format":"g711_ulaw","turn_detection":null}}');
    expect(sent[1]).toMatchObject({ type: 'transcription_session.updated', session: { input_audio_format: 'g711_ulaw', turn_detection: null } });
    conn.onText(JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(800).toString('base64') }));
    conn.onText('{"type":"transcription_session.update","session":{"input_audio_format":"pcm16"}}');
    expect(sent.at(-1)).toMatchObject({ type: 'error', error: { code: 'invalid_event', param: 'session.format' } });
    conn.onText('{"type":"input_audio_buffer.append","audio":"@@@"}');
    expect(sent.at(-1)).toMatchObject({ error: { code: 'invalid_event', param: 'audio' } });
    conn.onText('{"type":"response.create","event_id":"x"}');
    expect(sent.at(-1)).toMatchObject({ error: { code: 'unknown_event', param: 'type', event_id: 'x' } });
    conn.onText('nope');
    expect(sent.at(-1)).toMatchObject({ error: { code: 'invalid_event', param: null } });
    void append;
  });
});

describe('realtime events', () => {
  it('dialect from header or subprotocol', () => {
    expect(realtimeDialect('realtime=v1', undefined)).toBe('beta');
    expect(realtimeDialect(undefined, 'realtime, openai-beta.realtime-v1')).toBe('beta');
    expect(realtimeDialect(undefined, 'realtime, openai-insecure-api-key.k')).toBe('ga');
  });

  it.each([
    [{ type: 'realtime' }, 'session.type'],
    [{ audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } } }, 'session.audio.input.format.rate'],
    [{ audio: { input: { format: { type: 'audio/opus' } } } }, 'session.audio.input.format.type'],
    [{ audio: { input: { turn_detection: { type: 'semantic_vad' } } } }, 'session.audio.input.turn_detection.type'],
    [{ audio: { input: { transcription: { language: 'xx' } } } }, 'session.audio.input.transcription.language'],
  ])('%j is refused with param %s', (session, param) => {
    try {
      applyGaUpdate(defaultConfig(null), session, ['en']);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EventError);
      expect((err as EventError).param).toBe(param);
    }
  });

  it('drain: the pending audio becomes a committed item, the session ends through its own end path, the final completes every item, then 1012', () => {
    const closes: Array<[number, string]> = [];
    const { conn, sent, append, driver } = setup('ga', closes);
    append(3000);
    const d = driver();
    d.events.vad!({ type: 'speech_start', at: 0.5 });
    d.events.interim(committedFrame([['Ask', 0.5, 0.8]]), 'agree');
    conn.drain({ code: 1012, reason: 'service restart' });
    expect(d.calls).toEqual(['end:1012']);
    d.events.final({ type: 'final', text: 'Ask not.', language: 'en', chunks: [{ text: 'Ask not.', timestamp: [0.5, 1.2] }], duration_s: 3, decodes: 2 });
    d.events.close(1012, 'service restart');
    const completed = sent.filter((e) => e.type === 'conversation.item.input_audio_transcription.completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]!.transcript).toBe('Ask not.');
    expect(closes).toEqual([[1012, 'service restart']]);
  });

  it('drain before any audio: closes 1012 at once, nothing else sent', () => {
    const closes: Array<[number, string]> = [];
    const { conn, sent } = setup('ga', closes);
    conn.drain({ code: 1012, reason: 'service restart' });
    expect(sent.map((e) => e.type)).toEqual(['session.created']);
    expect(closes).toEqual([[1012, 'service restart']]);
  });
});
