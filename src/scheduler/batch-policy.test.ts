import { describe, expect, it } from 'vitest';
import { nextFileJob, nextSpeechBatch, nextWindowBatch, windowHoldMs, type QueuedJob } from './batch-policy.js';

const stream = (batchKey = 'ts', alone = false): QueuedJob => ({ priority: 'stream', batchKey, alone });
const file: QueuedJob = { priority: 'file', batchKey: undefined, alone: true };

describe('nextWindowBatch', () => {
  it('is empty for an empty queue', () => expect(nextWindowBatch([], 8)).toEqual([]));
  it('never takes a file job', () => expect(nextWindowBatch([file, file], 8)).toEqual([]));
  it('puts stream windows ahead of older file jobs', () => expect(nextWindowBatch([file, stream(), file, stream()], 8)).toEqual([1, 3]));
  it('caps the batch size', () => expect(nextWindowBatch([stream(), stream(), stream()], 2)).toEqual([0, 1]));
  it('batches only windows with the same key', () => expect(nextWindowBatch([stream('a'), stream('b'), stream('a')], 8)).toEqual([0, 2]));
  it('leads with the oldest flush window and fills up with other windows', () => {
    const flush: QueuedJob = { priority: 'flush', batchKey: 'ts', alone: false };
    expect(nextWindowBatch([stream(), file, flush, stream()], 8)).toEqual([0, 2, 3]);
    expect(nextWindowBatch([stream(), stream(), flush], 1)).toEqual([2]);
    expect(nextWindowBatch([stream('a'), { ...flush, batchKey: 'b' }], 8)).toEqual([1]);
  });
  it('sends a job marked alone by itself', () => {
    expect(nextWindowBatch([stream('a', true), stream('a')], 8)).toEqual([0]);
    expect(nextWindowBatch([stream('a'), stream('a', true), stream('a')], 8)).toEqual([0, 2]);
  });
});

describe('nextFileJob', () => {
  it('is the oldest file job, or -1', () => {
    expect(nextFileJob([stream(), file, stream(), file])).toBe(1);
    expect(nextFileJob([stream()])).toBe(-1);
  });
  it('puts a join (quick) ahead of older slices of other files', () => {
    expect(nextFileJob([stream(), file, file, { ...file, quick: true }, { ...file, quick: true }])).toBe(3);
  });
  it('gives the turn to the file served longest ago: a file whose plan was quick goes before the file that just ran', () => {
    const a = { last: 5 };
    const b = { last: 0 };
    expect(nextFileJob([{ ...file, turn: a }, { ...file, turn: b }])).toBe(1);
    expect(nextFileJob([{ ...file, turn: { last: 4 } }, { ...file, turn: { last: 2 } }, { ...file, turn: { last: 2 } }])).toBe(1);
    expect(nextFileJob([{ ...file, turn: a }, file])).toBe(1); // a whole-file request has had no turn
  });
});

describe('nextSpeechBatch', () => {
  const vad = (urgent = false) => ({ kind: 'vad' as const, urgent });
  const embed = (urgent = false) => ({ kind: 'embed' as const, urgent });
  it('is empty for an empty queue', () => expect(nextSpeechBatch([], 8)).toEqual([]));
  it('sends the VAD items of every waiting session as one request', () => expect(nextSpeechBatch([vad(), vad(), vad()], 8)).toEqual([0, 1, 2]));
  it('leaves embeddings out of a VAD batch and sends one alone when it leads', () => {
    expect(nextSpeechBatch([vad(), embed(), vad()], 8)).toEqual([0, 2]);
    expect(nextSpeechBatch([embed(), vad()], 8)).toEqual([0]);
  });
  it('puts urgent items first when the batch is capped', () => {
    expect(nextSpeechBatch([vad(), vad(), vad(true), vad(true)], 2)).toEqual([2, 3]);
    expect(nextSpeechBatch([vad(), vad(true), vad()], 2)).toEqual([0, 1]);
  });
  it('leads with an urgent embedding ahead of older VAD items', () => expect(nextSpeechBatch([vad(), embed(true)], 8)).toEqual([1]));
  it('sends an item that failed inside a batch alone, and batches none with it', () => {
    const retried = { ...vad(), alone: true };
    expect(nextSpeechBatch([retried, vad(), vad()], 8)).toEqual([0]);
    expect(nextSpeechBatch([vad(), retried, vad()], 8)).toEqual([0, 2]);
  });
});

describe('windowHoldMs', () => {
  const last = { endedAt: 10_000, tookMs: 600 };
  it('keeps windows to their share of the model while file work waits', () => {
    expect(windowHoldMs(last, 0.5, true, 10_000)).toBe(600);
    expect(windowHoldMs(last, 0.5, true, 10_450)).toBe(150);
    expect(windowHoldMs(last, 0.25, true, 10_000)).toBe(1800);
    expect(windowHoldMs(last, 0.5, true, 10_600)).toBe(0);
  });
  it('holds nothing without file work, at share 1, or before the first window', () => {
    expect(windowHoldMs(last, 0.5, false, 10_000)).toBe(0);
    expect(windowHoldMs(last, 1, true, 10_000)).toBe(0);
    expect(windowHoldMs(undefined, 0.5, true, 10_000)).toBe(0);
  });
});
