/**
 * Batching, ordering and bounds of the scheduler. The model client here only RECORDS the batches it
 * is handed and answers each item with an empty result: it never invents a transcript. What users
 * see is proved against the real sidecar in test/integration/.
 */
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { createLogger } from '../log.js';
import type { ItemResult, TranscribeParams } from '../sidecar/protocol.js';
import { Scheduler, type ModelClient } from './scheduler.js';

class RecordingClient implements ModelClient {
  batches: TranscribeParams[] = [];
  #release: Array<() => void> = [];
  failNextWithItems = 0;
  transcribe(params: TranscribeParams): Promise<ItemResult[]> {
    this.batches.push(params);
    return new Promise((resolve, reject) => {
      this.#release.push(() => {
        if (this.failNextWithItems && params.items.length === this.failNextWithItems) {
          this.failNextWithItems = 0;
          reject(new AppError('transcribe_failed'));
        } else resolve(params.items.map(() => ({ text: '', chunks: [], language: null })));
      });
    });
  }
  /** Let the oldest outstanding request finish. */
  release(): Promise<void> {
    this.#release.shift()?.();
    return new Promise((r) => setImmediate(r));
  }
}

const log = createLogger('silent');
const item = (n: number) => ({ audio: new Uint8Array(2 * n) });

describe('Scheduler', () => {
  it('batches windows that arrive while the model is busy, ahead of a waiting file', async () => {
    const client = new RecordingClient();
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 100, log });
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
    const s = new Scheduler(client, { maxBatchItems: 8, maxQueue: 100, log });
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
});
