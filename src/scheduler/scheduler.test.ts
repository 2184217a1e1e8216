/**
 * Batching, ordering and bounds of the scheduler. The model client here only RECORDS the batches it
 * is handed and answers each item with an empty result: it never invents a transcript. What users
 * see is proved against the real sidecar in test/integration/.
 */
import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../errors.js';
import { createLogger } from '../log.js';
import type { RequestKind, RequestParams, RequestResult, TranscribeParams, VadParams } from '../sidecar/protocol.js';
import { Scheduler, type SidecarClient } from './scheduler.js';

class RecordingClient implements SidecarClient {
  batches: TranscribeParams[] = [];
  speech: Array<{ kind: string; items: number }> = [];
  files: string[] = [];
  #release: Array<() => void> = [];
  failNextWithItems = 0;
  request<K extends RequestKind>(kind: K, params: RequestParams<K>): Promise<RequestResult<K>> {
    if (kind === 'vad' || kind === 'embed') {
      const { items } = params as VadParams;
      this.speech.push({ kind, items: items.length });
      return new Promise((resolve, reject) => {
        this.#release.push(() => {
          // An item whose first byte is 0 stands for audio the sidecar cannot take: its request fails.
          if (items.some((i) => i.audio[0] === 0)) reject(new AppError('transcribe_failed'));
          else resolve(items.map((i) => (kind === 'vad' ? { probs: i.audio } : { embedding: i.audio })) as RequestResult<K>);
        });
      });
    }
    if (kind !== 'transcribe') {
      // File slices, plans and joins: only their order matters here.
      this.files.push(kind);
      return new Promise((resolve) => this.#release.push(() => resolve({} as RequestResult<K>)));
    }
    const transcribe = params as TranscribeParams;
    this.batches.push(transcribe);
    return new Promise((resolve, reject) => {
      this.#release.push(() => {
        if (this.failNextWithItems && transcribe.items.length === this.failNextWithItems) {
          this.failNextWithItems = 0;
          reject(new AppError('transcribe_failed'));
        } else resolve(transcribe.items.map(() => ({ text: '', chunks: [], language: null })) as RequestResult<K>);
      });
    });
  }
  /** Let the oldest outstanding request finish (or the one at `index`, oldest first). */
  release(index = 0): Promise<void> {
    this.#release.splice(index, 1)[0]?.();
    return new Promise((r) => setImmediate(r));
  }
}

const log = createLogger('silent');
const item = (n: number) => ({ audio: new Uint8Array(2 * n) });

describe('Scheduler', () => {
  it('without preemption: batches windows that arrive while the model is busy, ahead of a waiting file', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 100, preemptFiles: false, log });
    const file1 = s.transcribeFile({ items: [item(1)] });
    const file2 = s.transcribeFile({ items: [item(2)] });
    const windows = [3, 4, 5].map((n) => s.transcribeWindow(item(n), true));
    expect(client.batches.map((b) => b.items.length)).toEqual([1]);
    await client.release();
    expect(client.batches[1]!.items.map((i) => i.audio.byteLength)).toEqual([6, 8, 10]);
    await client.release();
    await client.release();
    await Promise.all([file1, file2, ...windows]);
    expect(client.batches.map((b) => b.items[0]!.audio.byteLength)).toEqual([2, 6, 4]);
  });

  it('retries the items of a failed batch one by one, so one bad window fails no other', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 100, preemptFiles: false, log });
    const blocker = s.transcribeFile({ items: [item(1)] });
    const windows = [2, 3].map((n) => s.transcribeWindow(item(n), true));
    client.failNextWithItems = 2;
    await client.release();
    await client.release();
    await client.release();
    await client.release();
    await Promise.all([blocker, ...windows]);
    expect(client.batches.map((b) => b.items.length)).toEqual([1, 2, 1, 1]);
  });

  it('refuses work past its bound with overloaded', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 2, log });
    void s.transcribeFile({ items: [item(1)] });
    void s.transcribeFile({ items: [item(1)] });
    void s.transcribeFile({ items: [item(1)] });
    await expect(s.transcribeFile({ items: [item(1)] })).rejects.toMatchObject({ code: 'overloaded' });
  });

  it('sends the VAD items of all waiting sessions as one request, urgent first, and embeddings alone', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 3, maxQueue: 100, log });
    const first = s.vad(new Uint8Array([1]));
    const waiting = [s.vad(new Uint8Array([2])), s.embed(new Uint8Array([3])), s.vad(new Uint8Array([4])), s.vad(new Uint8Array([5])), s.vad(new Uint8Array([6]), true)];
    expect(client.speech).toEqual([{ kind: 'vad', items: 1 }]);
    await client.release();
    // The urgent item leads; two more VAD items fill the batch; the embedding waits for its own request.
    expect(client.speech[1]).toEqual({ kind: 'vad', items: 3 });
    await client.release();
    await client.release();
    await client.release();
    const bytes = await Promise.all([first, ...waiting]);
    expect(bytes.map((b) => b[0])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(client.speech.map((r) => r.kind)).toEqual(['vad', 'vad', 'embed', 'vad']);
    expect(s.stats()).toMatchObject({ speechRequests: 4, speechItems: 6 });
  });

  it('retries the items of a failed VAD batch one by one, so one bad item fails no other session', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 100, log });
    const blocker = s.vad(new Uint8Array([1]));
    const good = s.vad(new Uint8Array([2]));
    // Its rejection is awaited below; the handler is attached now, before the releases settle it.
    const bad = expect(s.vad(new Uint8Array([0]))).rejects.toMatchObject({ code: 'transcribe_failed' });
    const alsoGood = s.vad(new Uint8Array([3]));
    for (let n = 0; n < 5; n++) await client.release();
    await bad;
    expect((await Promise.all([blocker, good, alsoGood])).map((b) => b[0])).toEqual([1, 2, 3]);
    expect(client.speech.map((r) => r.items)).toEqual([1, 3, 1, 1, 1]);
  });

  it('has one bound for both lanes', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 2, log });
    void s.vad(new Uint8Array(2));
    void s.transcribeFile({ items: [item(1)] });
    void s.vad(new Uint8Array(2));
    void s.transcribeFile({ items: [item(1)] });
    await expect(s.vad(new Uint8Array(2))).rejects.toMatchObject({ code: 'overloaded' });
  });

  it('without preemption: lets a window go between two slices of a file, and two files take turns', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 100, preemptFiles: false, log });
    const order: string[] = [];
    const file = async (name: string) => {
      for (let i = 0; i < 2; i++) {
        await s.transcribeFile({ items: [item(name === 'a' ? 10 : 20)] });
        order.push(`${name}${i}`);
      }
    };
    const files = [file('a'), file('b')];
    // A window arrives while a's first slice decodes: it goes before b's first slice.
    const window = s.transcribeWindow(item(3), true).then(() => order.push('w'));
    for (let i = 0; i < 5; i++) await client.release();
    await Promise.all([...files, window]);
    expect(order).toEqual(['a0', 'w', 'b0', 'a1', 'b1']);
  });

  it('gives the next turn to a file whose first step was a quick plan, not to the file that just ran', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 100, log });
    const order: string[] = [];
    const slice = { item: item(1), offset: 0, total: 1, seek: 0, frames: 1, floor: 0, first: true, return_timestamps: true as const };
    const file = async (name: string) => {
      const turn = { last: 0 };
      await s.fileSeqPlan({ item: item(1) }, turn);
      order.push(`${name}-plan`);
      for (let i = 0; i < 2; i++) {
        await s.fileSeqSlice(slice, turn);
        order.push(`${name}${i}`);
      }
    };
    const a = file('a');
    await client.release(); // a's plan; a's first slice goes
    const b = file('b'); // arrives while a's first slice runs
    for (let i = 0; i < 5; i++) await client.release();
    await Promise.all([a, b]);
    // By arrival, a's second slice (queued before b's first) would go first and b would wait for a to end.
    expect(order).toEqual(['a-plan', 'a0', 'b-plan', 'b0', 'a1', 'b1']);
  });

  it('sends windows while a file job is in flight (the sidecar lets them in), one file job and one window request at a time', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 100, log });
    const files = [s.transcribeFile({ items: [item(1)], mode: 'vad' }), s.transcribeFile({ items: [item(2)], mode: 'vad' })];
    const windows = [3, 4].map((n) => s.transcribeWindow(item(n), true));
    // The first file and the first window are in flight together; the second window waits for the
    // window slot (then goes with the window that came after it), the second file for the first file.
    expect(client.batches.map((b) => b.items.map((i) => i.audio.byteLength))).toEqual([[2], [6]]);
    expect(s.stats()).toMatchObject({ busy: true, queued: 2 });
    const later = s.transcribeWindow(item(5), true);
    await client.release(); // the first file
    expect(client.batches.map((b) => b.items[0]!.audio.byteLength)).toEqual([2, 6, 4]);
    await client.release(); // the first window
    expect(client.batches.map((b) => b.items.map((i) => i.audio.byteLength))).toEqual([[2], [6], [4], [8, 10]]);
    await client.release();
    await client.release();
    await Promise.all([...files, ...windows, later]);
    expect(s.stats()).toMatchObject({ busy: false, queued: 0, batches: 4 });
  });

  it('never sends a file request without a mode beside a window (the sidecar decodes it as windows)', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 100, log });
    const window = s.transcribeWindow(item(3), true);
    const file = s.transcribeFile({ items: [item(1)] });
    expect(client.batches.map((b) => b.items[0]!.audio.byteLength)).toEqual([6]);
    await client.release();
    expect(client.batches.map((b) => b.items[0]!.audio.byteLength)).toEqual([6, 2]);
    const later = s.transcribeWindow(item(4), true);
    expect(client.batches).toHaveLength(2); // the window waits for the file request on its lane
    await client.release();
    await client.release();
    await Promise.all([window, file, later]);
    expect(client.batches.map((b) => b.items[0]!.audio.byteLength)).toEqual([6, 2, 8]);
  });

  it('holds ordinary windows to the stream share while file work runs; a flush goes at once; no file work, no hold', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const client = new RecordingClient();
      const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 100, streamShare: 0.5, log });
      const sizes = () => client.batches.map((b) => b.items.map((i) => i.audio.byteLength));
      const w1 = s.transcribeWindow(item(3), true);
      const file = s.transcribeFile({ items: [item(1)], mode: 'vad' });
      expect(sizes()).toEqual([[6], [2]]);
      vi.advanceTimersByTime(400);
      await client.release(0); // w1 took 400 ms: at share 0.5 the next ordinary window waits 400 ms
      expect(s.windowHoldMs()).toBe(400);
      const w2 = s.transcribeWindow(item(4), true);
      vi.advanceTimersByTime(399);
      expect(sizes()).toHaveLength(2);
      vi.advanceTimersByTime(1);
      expect(sizes()).toEqual([[6], [2], [8]]);
      vi.advanceTimersByTime(200);
      await client.release(1); // w2 (200 ms); the file still runs
      expect(s.windowHoldMs()).toBe(200);
      const flush = s.transcribeWindow(item(5), true, true);
      expect(sizes()).toEqual([[6], [2], [8], [10]]);
      await client.release(1);
      await client.release(0); // the file: nothing waits for the model any more
      expect(s.windowHoldMs()).toBe(0);
      const w3 = s.transcribeWindow(item(6), true);
      expect(sizes()).toEqual([[6], [2], [8], [10], [12]]);
      await client.release();
      await Promise.all([w1, file, w2, flush, w3]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('with share 1 (or none given) windows never wait for a file', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 100, log });
    const w1 = s.transcribeWindow(item(3), true);
    const file = s.transcribeFile({ items: [item(1)], mode: 'vad' });
    await client.release(0);
    expect(s.windowHoldMs()).toBe(0);
    const w2 = s.transcribeWindow(item(4), true);
    expect(client.batches).toHaveLength(3);
    await client.release();
    await client.release();
    await Promise.all([w1, file, w2]);
  });
});
