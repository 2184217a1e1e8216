/**
 * The typed request table over an in-memory stream pair: what each kind sends and how its reply is
 * read. The peer here is a few lines that answer frames by hand (the real sidecar is proved in
 * test/integration/); it never transcribes anything.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../log.js';
import { Connection, type ExtendDeadline } from './connection.js';
import { encodeFrame, FrameDecoder } from './frame.js';

const MAX = 1024 * 1024;

/** A connection whose peer answers each request frame with `answer(frame)` (undefined: no answer). */
function pair(answer: (frame: Record<string, unknown>) => Record<string, unknown> | undefined) {
  const toPeer = new PassThrough();
  const fromPeer = new PassThrough();
  const sent: Array<Record<string, unknown>> = [];
  const decoder = new FrameDecoder(MAX);
  toPeer.on('data', (chunk: Buffer) => {
    for (const out of decoder.push(chunk)) {
      if (!('message' in out)) continue;
      sent.push(out.message);
      const reply = answer(out.message);
      if (reply) fromPeer.write(encodeFrame({ id: out.message.id, ...reply }, MAX));
    }
  });
  const handlers = { onReady() {}, onFatal() {}, onUnaddressedError() {} };
  return { conn: new Connection(fromPeer, toPeer, MAX, handlers, createLogger('silent')), sent };
}

const audio = new Uint8Array([1, 0, 2, 0]);

describe('Connection.request', () => {
  it('sends a file slice with its span and reads the slice result, blob and all', async () => {
    const blob = new Uint8Array([9, 8, 7]);
    const { conn, sent } = pair(() => ({ type: 'slice_result', outputs: blob, texts: ['a', 'b'], done_s: 40, language: 'en', seconds: 1.5 }));
    const out = await conn.request('file_slice', { item: { audio, language: null }, offset: 320_000, total: 1_000_000, first: 1, count: 2, return_timestamps: true }, 1_000);
    expect(sent[0]).toMatchObject({ type: 'file_slice', offset: 320_000, total: 1_000_000, first: 1, count: 2, return_timestamps: true });
    expect({ ...out, outputs: [...out.outputs] }).toEqual({ outputs: [9, 8, 7], texts: ['a', 'b'], done_s: 40, language: 'en', seconds: 1.5 });
  });

  it('sends the join with every blob and resolves with its one item', async () => {
    const item = { text: ' hi', chunks: [{ text: ' hi', timestamp: [0, 1] }], language: 'en' };
    const { conn, sent } = pair(() => ({ type: 'result', items: [item], seconds: 0.1 }));
    expect(await conn.request('file_join', { outputs: [new Uint8Array([1]), new Uint8Array([2])], return_timestamps: true, language: 'en' }, 1_000)).toEqual(item);
    expect((sent[0]!.outputs as Uint8Array[]).length).toBe(2);
  });

  it('sends a vad-mode file as plan, window slice and join, and reads each reply', async () => {
    const blob = new Uint8Array([5]);
    const { conn, sent } = pair((f) => (f.type === 'file_vad_plan'
      ? { type: 'vad_plan', windows: [[0, 4], [6, 8]], regions: [[0, 4], [6, 8]], speech: [0.9, 0.7], batch_size: 4 }
      : f.type === 'file_vad_slice'
      ? { type: 'slice_result', outputs: blob, texts: ['a', ''], done_s: 0.5, language: null, seconds: 0.2 }
      : { type: 'result', items: [{ text: ' a', chunks: [], language: 'en' }], seconds: 0.01 }));
    expect(await conn.request('file_vad_plan', { item: { audio, language: null }, return_timestamps: true }, 1_000)).toEqual({ windows: [[0, 4], [6, 8]], regions: [[0, 4], [6, 8]], speech: [0.9, 0.7], batch_size: 4 });
    const slice = await conn.request('file_vad_slice', { items: [{ audio }, { audio }], offsets: [0, 6], regions: [[[0, 4]], [[0, 2]]], speech: [0.9, 0.7], total: 8, first: true, return_timestamps: true }, 1_000);
    expect(slice.texts).toEqual(['a', '']);
    expect(await conn.request('file_join', { outputs: [slice.outputs], return_timestamps: true, language: null, mode: 'vad' }, 1_000)).toMatchObject({ text: ' a' });
    expect(sent.map((f) => f.type)).toEqual(['file_vad_plan', 'file_vad_slice', 'file_join']);
    expect(sent[1]).toMatchObject({ offsets: [0, 6], regions: [[[0, 4]], [[0, 2]]], total: 8, first: true });
    expect(sent[2]).toMatchObject({ mode: 'vad' });
  });

  it('sends a sequential-mode file as plan, slices from each next_seek and a join, and reads each reply', async () => {
    const blob = new Uint8Array([6]);
    const { conn, sent } = pair((f) => (f.type === 'file_seq_plan'
      ? { type: 'seq_plan', frames: 10_084, floor: -0.54, windows: 2 }
      : f.type === 'file_seq_slice'
      ? { type: 'slice_result', outputs: blob, texts: ['a b'], done_s: 58.3, language: 'en', seconds: 0.2, next_seek: 5_830 }
      : { type: 'result', items: [{ text: ' a b', chunks: [], language: 'en' }], seconds: 0.01 }));
    expect(await conn.request('file_seq_plan', { item: { audio, language: null } }, 1_000)).toEqual({ frames: 10_084, floor: -0.54, windows: 2 });
    const slice = await conn.request('file_seq_slice', { item: { audio }, offset: 0, total: 1_613_440, seek: 0, frames: 10_084, floor: -0.54, first: true, return_timestamps: true }, 1_000);
    expect([slice.texts, slice.next_seek]).toEqual([['a b'], 5_830]);
    expect(await conn.request('file_join', { outputs: [slice.outputs], return_timestamps: true, language: 'en', mode: 'sequential' }, 1_000)).toMatchObject({ text: ' a b' });
    expect(sent.map((f) => f.type)).toEqual(['file_seq_plan', 'file_seq_slice', 'file_join']);
    expect(sent[1]).toMatchObject({ offset: 0, total: 1_613_440, seek: 0, frames: 10_084, floor: -0.54, first: true });
    expect(sent[2]).toMatchObject({ mode: 'sequential' });
  });

  it('rejects with bad_frame a sequential slice that does not say where the next starts, or goes back', async () => {
    const params = { item: { audio }, offset: 0, total: 1_613_440, seek: 3_000, frames: 10_084, floor: -0.5, first: false, return_timestamps: true as const };
    const reply = { type: 'slice_result', outputs: new Uint8Array([1]), texts: ['a'], done_s: 1, language: null, seconds: 0.1 };
    await expect(pair(() => reply).conn.request('file_seq_slice', params, 1_000)).rejects.toMatchObject({ code: 'bad_frame' });
    await expect(pair(() => ({ ...reply, next_seek: 3_000 })).conn.request('file_seq_slice', params, 1_000)).rejects.toMatchObject({ code: 'bad_frame' });
    await expect(pair(() => ({ ...reply, texts: ['a', 'b'], next_seek: null })).conn.request('file_seq_slice', params, 1_000)).rejects.toMatchObject({ code: 'bad_frame' });
    expect((await pair(() => ({ ...reply, next_seek: null })).conn.request('file_seq_slice', params, 1_000)).next_seek).toBeNull();
    await expect(pair(() => ({ type: 'vad_plan', windows: [], regions: [], speech: [], batch_size: 1 })).conn.request('file_seq_plan', { item: { audio } }, 1_000)).rejects.toMatchObject({ code: 'bad_frame' });
  });

  it('asks for a file\'s speakers and reads the turns', async () => {
    const { conn, sent } = pair(() => ({ type: 'speakers', speakers: [{ start: 0, end: 1.5, speaker: 0 }] }));
    expect(await conn.request('file_diarize', { item: { audio }, diarize: { num_speakers: 2 } }, 1_000)).toEqual([{ start: 0, end: 1.5, speaker: 0 }]);
    expect(sent[0]).toMatchObject({ type: 'file_diarize', diarize: { num_speakers: 2 } });
  });

  it('rejects with bad_frame a reply that does not fit its request', async () => {
    const { conn } = pair(() => ({ type: 'vad_result', items: [{ probs: new Uint8Array(4) }] }));
    await expect(conn.request('vad', { items: [{ audio }, { audio }] }, 1_000)).rejects.toMatchObject({ code: 'bad_frame' });
    await expect(conn.request('file_slice', { item: { audio }, offset: 0, total: 2, first: 0, count: 1, return_timestamps: true }, 1_000)).rejects.toMatchObject({ code: 'bad_frame' });
    await expect(conn.request('file_vad_plan', { item: { audio }, return_timestamps: true }, 1_000)).rejects.toMatchObject({ code: 'bad_frame' });
    await expect(conn.request('file_diarize', { item: { audio }, diarize: {} }, 1_000)).rejects.toMatchObject({ code: 'bad_frame' });
  });

  it('reads VAD and embed replies item by item, in order', async () => {
    const { conn } = pair((f) => (f.type === 'vad'
      ? { type: 'vad_result', items: (f.items as unknown[]).map((_, i) => ({ probs: new Uint8Array([i]) })) }
      : { type: 'embed_result', items: [{ embedding: new Uint8Array([7]) }] }));
    expect((await conn.request('vad', { items: [{ audio }, { audio }, { audio }] }, 1_000)).map((r) => r.probs[0])).toEqual([0, 1, 2]);
    expect((await conn.request('embed', { items: [{ audio }] }, 1_000))[0]!.embedding[0]).toBe(7);
  });

  it('moves a deadline later when asked, and times out at the moved deadline', async () => {
    vi.useFakeTimers();
    try {
      const { conn } = pair(() => undefined);
      let extend: ExtendDeadline | undefined;
      const failed = vi.fn();
      void conn.request('vad', { items: [{ audio }] }, 1_000, (e) => { extend = e; }).catch((err: { code: string }) => failed(err.code));
      await vi.advanceTimersByTimeAsync(600);
      extend!(1_000);
      await vi.advanceTimersByTimeAsync(1_000); // 1.6 s: past the first deadline, before the moved one
      expect(failed).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(500);
      expect(failed).toHaveBeenCalledWith('request_timeout');
    } finally {
      vi.useRealTimers();
    }
  });
});
