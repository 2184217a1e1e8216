/**
 * @module The one queue in front of the sidecar, with two lanes and one bound:
 *
 * - the model lane: stream windows from every session (batched across sessions, flush first) ahead
 *   of file work (whole requests, or the bounded slices of a pipeline-, vad- or sequential-mode file: src/files/job.ts;
 *   files take turns slice by slice, and a file's join or sequential plan goes ahead of other files' slices);
 *   one window request and one file job may be in flight at once, and the sidecar decodes a window
 *   that arrives during file work before that work's next model layer (sidecar/preempt.py), so a
 *   window never waits for a whole slice (`preemptFiles`; off: it waits for the slice in flight);
 *   while file work waits, ordinary window requests take at most `streamShare` of the model's time
 *   (batch-policy.ts windowHoldMs; flushes never wait), so streams cannot starve files either;
 * - the speech lane: VAD and speaker embeddings, VAD items of different sessions batched into one
 *   request, urgent ones (a draining or flushing session) first.
 *
 * batch-policy.ts decides what goes into each lane's next request; one window request, one file job
 * and one speech request are handed to the sidecar client at a time, so priorities hold: a window
 * goes ahead of every file slice still waiting. Each job carries its own resolver, so one
 * failing item never fails the others in its batch (they are retried alone). Past `maxQueue` jobs
 * waiting in both lanes together, new work gets `overloaded`.
 */
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type {
  EmbedResult,
  FileJoinParams,
  FileDiarizeParams,
  FileSeqPlanParams,
  FileSeqSliceParams,
  FileSliceParams,
  FileVadPlanParams,
  FileVadSliceParams,
  ItemResult,
  RequestKind,
  RequestParams,
  RequestResult,
  SeqPlan,
  SliceResult,
  SpeakerTurn,
  TranscribeItem,
  TranscribeParams,
  VadPlan,
  VadResult,
} from '../sidecar/protocol.js';
import { nextFileJob, nextSpeechBatch, nextWindowBatch, windowHoldMs, type FileTurn, type LastWindows, type QueuedJob, type QueuedSpeechJob } from './batch-policy.js';

export type { FileTurn } from './batch-policy.js';

/** What the scheduler needs of the sidecar side: one typed request per message kind (the supervisor). */
export interface SidecarClient {
  request<K extends RequestKind>(kind: K, params: RequestParams<K>): Promise<RequestResult<K>>;
}

export interface SchedulerOptions {
  maxBatchItems: number;
  maxQueue: number;
  /** Send windows while file work is in flight (the sidecar lets them in); false: one model job at a time. */
  preemptFiles?: boolean;
  /** While file work waits, the most of the model's time ordinary window requests take (0-1]; 1 (default): windows always first. */
  streamShare?: number;
  log: Logger;
}

type ModelKind = 'transcribe' | 'file_slice' | 'file_join' | 'file_vad_plan' | 'file_vad_slice' | 'file_seq_plan' | 'file_seq_slice' | 'file_diarize';

interface ModelJob extends QueuedJob {
  kind: ModelKind;
  /**
   * Which of the sidecar client's model lanes carries it: 'file' for file work (a long-form mode,
   * slices, joins), 'stream' for windows and for a transcribe without a mode (the sidecar decodes
   * those as windows, so it cannot be in flight beside one).
   */
  lane: 'stream' | 'file';
  params: RequestParams<ModelKind>;
  resolve(result: unknown): void;
  reject(err: AppError): void;
}

interface SpeechJob extends QueuedSpeechJob {
  audio: Uint8Array;
  resolve(bytes: Uint8Array): void;
  reject(err: AppError): void;
}

/** Figures for /metrics, logs and benchmarks. */
export interface SchedulerStats {
  /** Jobs waiting in both lanes. */
  queued: number;
  /** A model request (windows or file work) is in flight. */
  busy: boolean;
  /** Model requests sent, and the items of the last one. */
  batches: number;
  lastBatchItems: number;
  /** Milliseconds the model has spent on requests from this scheduler (its busy time). */
  busyMs: number;
  /** Speech-lane requests sent (each may carry the VAD items of many sessions), and their items. */
  speechRequests: number;
  speechItems: number;
}

export class Scheduler {
  #model: ModelJob[] = [];
  #speech: SpeechJob[] = [];
  /** A request is in flight on the sidecar client's window lane / file lane. */
  #busy = { stream: false, file: false };
  /** When the model last went from idle (no lane busy) to busy. */
  #busySince = 0;
  #speechBusy = false;
  #batches = 0;
  /** File turns handed out so far: the stamp of the latest (batch-policy nextFileJob). */
  #turns = 0;
  #lastBatchItems = 0;
  #busyMs = 0;
  #speechRequests = 0;
  #speechItems = 0;
  /** The last window request (the stream share's clock) and the timer that pumps held windows. */
  #lastWindows: LastWindows | undefined;
  #holdTimer: NodeJS.Timeout | undefined;

  constructor(private readonly client: SidecarClient, private readonly options: SchedulerOptions) {}

  /**
   * A streaming window: batched with other sessions' windows, ahead of file work. `flush` windows
   * (an utterance end, a session's last decode) go ahead of ordinary re-decodes.
   */
  transcribeWindow(item: TranscribeItem, returnTimestamps: boolean | 'word', flush = false): Promise<ItemResult> {
    const batchKey = `ts=${String(returnTimestamps)}`;
    const params: TranscribeParams = { items: [item], return_timestamps: returnTimestamps };
    return this.#enqueue<ItemResult[]>('transcribe', params, flush ? 'flush' : 'stream', batchKey).then((r) => r[0]!);
  }

  /** A whole file request (modes other than sliced pipeline): sent as it is, on its own, after any waiting windows. */
  transcribeFile(params: TranscribeParams): Promise<ItemResult[]> {
    return this.#enqueue('transcribe', params, 'file', undefined);
  }

  /** One bounded slice of a pipeline-mode file (src/files/job.ts sends them one after another). */
  fileSlice(params: FileSliceParams, turn?: FileTurn): Promise<SliceResult> {
    return this.#enqueue('file_slice', params, 'file', undefined, turn);
  }

  /** Where a vad-mode file's speech windows are (the first step of a vad-mode file in slices). */
  fileVadPlan(params: FileVadPlanParams, turn?: FileTurn): Promise<VadPlan> {
    return this.#enqueue('file_vad_plan', params, 'file', undefined, turn);
  }

  /** One batch of a vad-mode file's windows. */
  fileVadSlice(params: FileVadSliceParams, turn?: FileTurn): Promise<SliceResult> {
    return this.#enqueue('file_vad_slice', params, 'file', undefined, turn);
  }

  /** A sequential-mode file's frame count and feature floor (the first step of one in slices). */
  fileSeqPlan(params: FileSeqPlanParams, turn?: FileTurn): Promise<SeqPlan> {
    return this.#enqueue('file_seq_plan', params, 'file', undefined, turn);
  }

  /** A few windows of a sequential-mode file's seek loop, from one window start on. */
  fileSeqSlice(params: FileSeqSliceParams, turn?: FileTurn): Promise<SliceResult> {
    return this.#enqueue('file_seq_slice', params, 'file', undefined, turn);
  }

  /** A sliced file's speaker turns (after its slices and join). */
  fileDiarize(params: FileDiarizeParams, turn?: FileTurn): Promise<SpeakerTurn[]> {
    return this.#enqueue('file_diarize', params, 'file', undefined, turn);
  }

  /** The join of a sliced file's outputs into its transcript. */
  fileJoin(params: FileJoinParams, turn?: FileTurn): Promise<ItemResult> {
    return this.#enqueue('file_join', params, 'file', undefined, turn);
  }

  /** Speech probabilities (float32 LE, one per 512-sample frame) of 16 kHz s16le audio, batched with other sessions'. */
  vad(audio: Uint8Array, urgent = false): Promise<Uint8Array> {
    return this.#enqueueSpeech('vad', audio, urgent);
  }

  /** A speaker embedding (float32 LE unit vector) of 16 kHz s16le audio. */
  embed(audio: Uint8Array): Promise<Uint8Array> {
    return this.#enqueueSpeech('embed', audio, false);
  }

  /**
   * Milliseconds until an ordinary window request would go (the stream share while file work
   * waits), 0: now. A session asks before it cuts a re-decode, so the audio it sends is fresh when
   * the request goes, not as old as the hold.
   */
  windowHoldMs(now = Date.now()): number {
    const fileWork = this.#busy.file || this.#model.some((j) => j.priority === 'file');
    return windowHoldMs(this.#lastWindows, this.options.streamShare ?? 1, fileWork, now);
  }

  stats(): SchedulerStats {
    return {
      queued: this.#model.length + this.#speech.length,
      busy: this.#busy.stream || this.#busy.file,
      batches: this.#batches,
      lastBatchItems: this.#lastBatchItems,
      busyMs: this.#busyMs,
      speechRequests: this.#speechRequests,
      speechItems: this.#speechItems,
    };
  }

  #refuse(): AppError | undefined {
    const queued = this.#model.length + this.#speech.length;
    return queued >= this.options.maxQueue ? new AppError('overloaded', `${queued} jobs are waiting for the model`) : undefined;
  }

  #enqueue<R>(kind: ModelKind, params: RequestParams<ModelKind>, priority: QueuedJob['priority'], batchKey: string | undefined, turn?: FileTurn): Promise<R> {
    const refused = this.#refuse();
    if (refused) return Promise.reject(refused);
    return new Promise<R>((resolve, reject) => {
      const lane = kind === 'transcribe' && (params as TranscribeParams).mode === undefined ? 'stream' : 'file';
      const quick = kind === 'file_join' || kind === 'file_seq_plan';
      this.#model.push({ kind, params, priority, batchKey, lane, alone: priority === 'file', quick, turn, resolve: resolve as (r: unknown) => void, reject });
      this.#pumpModel();
    });
  }

  #enqueueSpeech(kind: SpeechJob['kind'], audio: Uint8Array, urgent: boolean): Promise<Uint8Array> {
    const refused = this.#refuse();
    if (refused) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      this.#speech.push({ kind, urgent, audio, resolve, reject });
      this.#pumpSpeech();
    });
  }

  #pumpModel(): void {
    this.#pumpWindows();
    this.#pumpFile();
  }

  #pumpWindows(): void {
    if (this.#busy.stream || (this.#busy.file && this.options.preemptFiles === false)) return;
    const picked = nextWindowBatch(this.#model, this.options.maxBatchItems);
    if (picked.length === 0) return;
    if (this.#held(picked)) return;
    const jobs = picked.map((i) => this.#model[i]!);
    this.#model = this.#model.filter((_, i) => !picked.includes(i));
    this.#dispatch('stream', jobs);
  }

  /**
   * Whether the window batch `picked` waits now for the stream share (none of it a flush, and a hold
   * running); if so, the model lane is pumped again when it may go.
   */
  #held(picked: readonly number[]): boolean {
    if (picked.some((i) => this.#model[i]!.priority === 'flush')) return false;
    const ms = this.windowHoldMs();
    if (ms === 0) return false;
    if (this.#holdTimer === undefined) {
      this.#holdTimer = setTimeout(() => {
        this.#holdTimer = undefined;
        this.#pumpModel();
      }, ms);
      this.#holdTimer.unref();
    }
    return true;
  }

  #pumpFile(): void {
    if (this.#busy.file) return;
    const waiting = nextWindowBatch(this.#model, 1);
    const windowsFirst = this.#busy.stream || (waiting.length > 0 && !this.#held(waiting));
    // Without preemption a window in flight, or one waiting, goes first.
    if (this.options.preemptFiles === false && windowsFirst) return;
    const index = nextFileJob(this.#model);
    if (index === -1) return;
    const job = this.#model[index]!;
    // A file request without a mode goes on the window lane: only when no window is in flight or
    // waiting (windows first), and it holds that lane (not the file one) while it runs.
    if (job.lane === 'stream' && windowsFirst) return;
    this.#model.splice(index, 1);
    if (job.turn && !job.quick) job.turn.last = ++this.#turns;
    this.#dispatch(job.lane, [job]);
  }

  #dispatch(lane: ModelJob['lane'], jobs: ModelJob[]): void {
    const started = Date.now();
    if (!this.#busy.stream && !this.#busy.file) this.#busySince = started;
    this.#busy[lane] = true;
    this.#batches += 1;
    this.#lastBatchItems = jobs.length;
    void this.#runModel(jobs).finally(() => {
      const ended = Date.now();
      if (jobs[0]!.priority !== 'file') this.#lastWindows = { endedAt: ended, tookMs: ended - started };
      this.#busy[lane] = false;
      if (!this.#busy.stream && !this.#busy.file) this.#busyMs += ended - this.#busySince;
      this.#pumpModel();
    });
  }

  async #runModel(jobs: ModelJob[]): Promise<void> {
    if (jobs.length === 1) {
      const job = jobs[0]!;
      await this.client.request(job.kind, job.params as never).then(job.resolve, job.reject);
      return;
    }
    const first = jobs[0]!.params as TranscribeParams;
    const params: TranscribeParams = { items: jobs.map((j) => (j.params as TranscribeParams).items[0]!), return_timestamps: first.return_timestamps };
    try {
      const results = await this.client.request('transcribe', params);
      jobs.forEach((job, i) => job.resolve([results[i]!]));
    } catch (err) {
      // Settle each job on its own: retry every item alone, at the head of the queue.
      this.options.log.warn({ err, items: jobs.length }, 'batch failed; retrying its items one by one');
      for (const job of jobs) job.alone = true;
      this.#model.unshift(...jobs);
    }
  }

  #pumpSpeech(): void {
    if (this.#speechBusy) return;
    const picked = nextSpeechBatch(this.#speech, this.options.maxBatchItems);
    if (picked.length === 0) return;
    const jobs = picked.map((i) => this.#speech[i]!);
    this.#speech = this.#speech.filter((_, i) => !picked.includes(i));
    this.#speechBusy = true;
    this.#speechRequests += 1;
    this.#speechItems += jobs.length;
    void this.#runSpeech(jobs).finally(() => {
      this.#speechBusy = false;
      this.#pumpSpeech();
    });
  }

  async #runSpeech(jobs: SpeechJob[]): Promise<void> {
    const items = jobs.map((j) => ({ audio: j.audio }));
    try {
      if (jobs[0]!.kind === 'embed') {
        const [result] = await this.client.request('embed', { items });
        jobs[0]!.resolve((result as EmbedResult).embedding);
        return;
      }
      const results: VadResult[] = await this.client.request('vad', { items });
      jobs.forEach((job, i) => job.resolve(results[i]!.probs));
    } catch (err) {
      if (jobs.length === 1) {
        jobs[0]!.reject(err as AppError);
        return;
      }
      // As in the model lane: each session's item is retried alone, at the head of the queue.
      this.options.log.warn({ err, items: jobs.length }, 'VAD batch failed; retrying its items one by one');
      for (const job of jobs) job.alone = true;
      this.#speech.unshift(...jobs);
    }
  }
}
