/**
 * @module The single queue in front of the model. Stream windows from every session and file jobs
 * come here; batch-policy.ts decides what goes into the next sidecar request; each job carries its
 * own resolver, so one failing item never fails the others in its batch (they are retried alone).
 * One request is handed to the supervisor at a time, so priorities hold: a window that arrives
 * while a file is decoding goes ahead of every file still waiting.
 */
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ItemResult, TranscribeItem, TranscribeParams } from '../sidecar/protocol.js';
import { nextBatch, type QueuedJob } from './batch-policy.js';

/** What the scheduler needs of the model side; the supervisor provides it. */
export interface ModelClient {
  transcribe(params: TranscribeParams): Promise<ItemResult[]>;
}

export interface SchedulerOptions {
  maxBatchItems: number;
  maxQueue: number;
  log: Logger;
}

interface Job extends QueuedJob {
  params: TranscribeParams;
  enqueuedAt: number;
  resolve(items: ItemResult[]): void;
  reject(err: AppError): void;
}

/** Figures for /metrics and logs. */
export interface SchedulerStats {
  queued: number;
  busy: boolean;
  batches: number;
  lastBatchItems: number;
  /** Milliseconds the model has spent on requests from this scheduler (its busy time, for benchmarks and metrics). */
  busyMs: number;
}

export class Scheduler {
  #queue: Job[] = [];
  #busy = false;
  #batches = 0;
  #lastBatchItems = 0;
  #busyMs = 0;

  constructor(private readonly client: ModelClient, private readonly options: SchedulerOptions) {}

  /**
   * A streaming window: batched with other sessions' windows, ahead of file jobs. `flush` windows
   * (an utterance end, a session's last decode) go ahead of ordinary re-decodes.
   */
  transcribeWindow(item: TranscribeItem, returnTimestamps: boolean | 'word', flush = false): Promise<ItemResult> {
    const batchKey = `ts=${String(returnTimestamps)}`;
    return this.#enqueue({ items: [item], return_timestamps: returnTimestamps }, flush ? 'flush' : 'stream', batchKey).then((r) => r[0]!);
  }

  /** A whole request (a file): sent as it is, on its own, after any waiting stream windows. */
  transcribeFile(params: TranscribeParams): Promise<ItemResult[]> {
    return this.#enqueue(params, 'file', undefined);
  }

  stats(): SchedulerStats {
    return { queued: this.#queue.length, busy: this.#busy, batches: this.#batches, lastBatchItems: this.#lastBatchItems, busyMs: this.#busyMs };
  }

  #enqueue(params: TranscribeParams, priority: Job['priority'], batchKey: string | undefined): Promise<ItemResult[]> {
    if (this.#queue.length >= this.options.maxQueue) {
      return Promise.reject(new AppError('overloaded', `${this.#queue.length} jobs are waiting for the model`));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ params, priority, batchKey, alone: priority === 'file', enqueuedAt: Date.now(), resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#busy) return;
    const picked = nextBatch(this.#queue, this.options.maxBatchItems);
    if (picked.length === 0) return;
    const jobs = picked.map((i) => this.#queue[i]!);
    this.#queue = this.#queue.filter((_, i) => !picked.includes(i));
    this.#busy = true;
    this.#batches += 1;
    this.#lastBatchItems = jobs.reduce((n, j) => n + j.params.items.length, 0);
    const started = Date.now();
    void this.#run(jobs).finally(() => {
      this.#busyMs += Date.now() - started;
      this.#busy = false;
      this.#pump();
    });
  }

  async #run(jobs: Job[]): Promise<void> {
    if (jobs.length === 1) {
      const job = jobs[0]!;
      await this.client.transcribe(job.params).then(job.resolve, job.reject);
      return;
    }
    const params: TranscribeParams = { items: jobs.map((j) => j.params.items[0]!), return_timestamps: jobs[0]!.params.return_timestamps };
    try {
      const results = await this.client.transcribe(params);
      jobs.forEach((job, i) => job.resolve([results[i]!]));
    } catch (err) {
      // Settle each job on its own: retry every item alone, at the head of the queue.
      this.options.log.warn({ err, items: jobs.length }, 'batch failed; retrying its items one by one');
      for (const job of jobs) job.alone = true;
      this.#queue.unshift(...jobs);
    }
  }
}
