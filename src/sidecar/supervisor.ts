/**
 * @module The sidecar's lifecycle: start, watch, restart, replay, stop. It holds at most one request
 * per lane (the scheduler, the only queue, sends no more), so that a crash loses nothing: the requests
 * in flight are sent again once a new process is ready, unless replay-policy.ts says one has crashed
 * (or hung) the sidecar twice. Requests that were in flight together on the model (a stream window
 * and file work) are replayed one at a time, so a second crash is blamed on the one that caused it.
 *
 *   starting ──ready──▶ ready ──exit/hang──▶ restarting ──ready──▶ ready
 *      │                  │                      │
 *      └──────────────────┴──── stop() ──────────┴──▶ stopped
 *
 * Requests go to the process one at a time per lane. The `stream` lane (windows) and the `file` lane
 * (file work) share the model worker: a window sent while file work runs is decoded inside it, before
 * its next model layer (sidecar/preempt.py), and the time it took moves the file work's deadline.
 * The `speech` lane (VAD, speaker embeddings) runs beside them so it never waits behind a long decode.
 * Queueing, priorities and batching are the scheduler's job; the request deadline (base + per audio
 * second) and the ping are this file's.
 */
import { EventEmitter } from 'node:events';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { Connection, type ExtendDeadline } from './connection.js';
import type { SidecarFactory, SidecarProcess, ProcessExit } from './process.js';
import { REQUESTS, type EmbedResult, type ItemResult, type Lane, type ReadyInfo, type RequestKind, type RequestParams, type RequestResult, type TranscribeParams, type VadParams, type VadResult } from './protocol.js';
import { afterExit, sharedCrashSuspects, waitsForReplay, type Attempts } from './replay-policy.js';
import { nextFailureCount, restartDelayMs, type RestartPolicyOptions } from './restart-policy.js';

export type SidecarState = 'starting' | 'ready' | 'restarting' | 'stopped';

export interface SupervisorOptions {
  factory: SidecarFactory;
  log: Logger;
  maxFrameBytes: number;
  startTimeoutMs: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  requestTimeoutMs: number;
  requestTimeoutPerAudioSecondMs: number;
  restart: RestartPolicyOptions;
}

type KillCause = 'hang' | 'deadline' | 'start_timeout' | 'out_of_sync' | 'stop';

export type { Lane };
/** Requests that may be in flight at the same time, one each; the first two share the model. */
const LANES: Lane[] = ['stream', 'file', 'speech'];
const MODEL_LANES: Lane[] = ['stream', 'file'];

interface Job {
  lane: Lane;
  seconds: number;
  send(conn: Connection, deadlineMs: number, onSent: (extend: ExtendDeadline) => void): Promise<unknown>;
  attempts: Attempts;
  /** Sent to the current process (false: held until a process is ready). */
  sent: boolean;
  sentAt: number;
  /** Moves the deadline of this job's request later (set once it is sent). */
  extend: ExtendDeadline | undefined;
  resolve(value: unknown): void;
  reject(err: AppError): void;
}

interface Running {
  proc: SidecarProcess;
  conn: Connection;
  readyAt: number | undefined;
  killCause: KillCause | undefined;
  timers: NodeJS.Timeout[];
  pinging: boolean;
  /** The job whose deadline got the process killed. */
  culprit: Job | undefined;
}

/** What /health and GET / report about the sidecar. */
export interface SidecarSnapshot {
  state: SidecarState;
  restarts: number;
  uptime_s: number | null;
  pid: number | null;
  /** Requests held for a ready process (during a start or a restart; at most one per lane). */
  queue_depth: number;
  in_flight: number;
  last_exit: (ProcessExit & { cause: string; at: string }) | null;
  loaded: ReadyInfo | null;
}

/** Supervises one sidecar process. Events: 'state' (state, reason), 'dispatch' (pid), 'exit' (ProcessExit & cause). */
export class Supervisor extends EventEmitter {
  #state: SidecarState = 'starting';
  #lanes: Record<Lane, Job | undefined> = { stream: undefined, file: undefined, speech: undefined };
  /** Model jobs that were in flight together when a process died: replayed one at a time. */
  #suspects = new Set<Job>();
  #running: Running | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #restarts = 0;
  #loaded: ReadyInfo | null = null;
  #lastExit: SidecarSnapshot['last_exit'] = null;
  #stopping: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  constructor(private readonly options: SupervisorOptions) {
    super();
  }

  get state(): SidecarState {
    return this.#state;
  }

  /** Start the first process. */
  start(): void {
    this.#spawn();
  }

  /**
   * Send one request once a ready sidecar can take it; resolves with its result. At most one per
   * lane at a time: a second one on a busy lane is refused (the scheduler never sends one).
   */
  request<K extends RequestKind>(kind: K, params: RequestParams<K>): Promise<RequestResult<K>> {
    const type = REQUESTS[kind];
    const lane = type.lane(params);
    if (this.#stopping) return Promise.reject(new AppError('shutting_down'));
    if (this.#lanes[lane]) return Promise.reject(new AppError('internal_error', `the ${lane} lane already has a request in flight`));
    return new Promise((resolve, reject) => {
      const send = (conn: Connection, deadline: number, onSent: (extend: ExtendDeadline) => void) => conn.request(kind, params, deadline, onSent);
      this.#lanes[lane] = { lane, seconds: type.seconds(params), send, attempts: { crashes: 0, timeouts: 0 }, sent: false, sentAt: 0, extend: undefined, resolve: resolve as (v: unknown) => void, reject };
      this.#pump(lane);
    });
  }

  /** One transcribe request (tests and tools; the server goes through the scheduler). */
  transcribe(params: TranscribeParams): Promise<ItemResult[]> {
    return this.request('transcribe', params);
  }

  /** Speech probabilities per 32 ms frame for each item, on the speech lane. */
  vad(params: VadParams): Promise<VadResult[]> {
    return this.request('vad', params);
  }

  /** A speaker embedding for each item, on the speech lane. */
  embed(params: VadParams): Promise<EmbedResult[]> {
    return this.request('embed', params);
  }

  /** A point-in-time view for health endpoints and metrics. */
  snapshot(): SidecarSnapshot {
    const readyAt = this.#running?.readyAt;
    return {
      state: this.#state,
      restarts: this.#restarts,
      uptime_s: readyAt !== undefined && this.#state === 'ready' ? Math.round((Date.now() - readyAt) / 100) / 10 : null,
      pid: this.#running?.proc.pid ?? null,
      queue_depth: LANES.filter((l) => this.#lanes[l] && !this.#lanes[l].sent).length,
      in_flight: LANES.filter((l) => this.#lanes[l]?.sent).length,
      last_exit: this.#lastExit,
      loaded: this.#loaded,
    };
  }

  /**
   * Stop accepting, let queued and in-flight work finish within graceMs, ask the sidecar to exit,
   * and SIGKILL it if it does not. Idempotent: a second call returns the first call's promise.
   */
  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    if (!this.#idle()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const lane of LANES) {
      const job = this.#lanes[lane];
      if (job && !job.sent) {
        this.#lanes[lane] = undefined;
        this.#suspects.delete(job);
        job.reject(new AppError('shutting_down'));
      }
    }
    clearTimeout(this.#restartTimer);
    const running = this.#running;
    if (running) {
      running.killCause = 'stop';
      // A sidecar that says goodbye gets 2 s to exit; one that does not answer is killed at once.
      const polite = running.readyAt !== undefined && (await running.conn.shutdown(2_000).then(() => true, () => false));
      const exited = polite && (await Promise.race([running.proc.exited.then(() => true), delay(2_000).then(() => false)]));
      if (!exited) running.proc.kill('SIGKILL');
      await running.proc.exited;
    }
    this.#setState('stopped', 'stop requested');
  }

  #spawn(): void {
    const proc = this.options.factory();
    const log = this.options.log;
    const running: Running = { proc, conn: undefined as unknown as Connection, readyAt: undefined, killCause: undefined, timers: [], pinging: false, culprit: undefined };
    running.conn = new Connection(proc.stdout, proc.stdin, this.options.maxFrameBytes, {
      onReady: (info) => this.#onReady(running, info),
      onFatal: (reason) => {
        log.error({ reason }, 'sidecar stream out of sync; killing it');
        this.#kill(running, 'out_of_sync');
      },
      onUnaddressedError: (code, message) => log.error({ code }, `sidecar: ${message}`),
    }, log);
    this.#running = running;
    running.timers.push(setTimeout(() => {
      if (running.readyAt === undefined) {
        log.error({ timeoutMs: this.options.startTimeoutMs }, 'sidecar not ready in time; killing it');
        this.#kill(running, 'start_timeout');
      }
    }, this.options.startTimeoutMs));
    log.info({ pid: proc.pid }, 'sidecar spawned');
    void proc.exited.then((exit) => this.#onExit(running, exit));
  }

  #onReady(running: Running, info: ReadyInfo): void {
    if (this.#running !== running) return;
    running.readyAt = Date.now();
    this.#loaded = info;
    this.options.log.info({ model: info.model, device: info.device, dtype: info.dtype, attn: info.attn_implementation, loadSeconds: info.load_seconds, pid: info.pid }, 'sidecar ready');
    running.timers.push(setInterval(() => this.#ping(running), this.options.pingIntervalMs));
    if (!this.#stopping) this.#setState('ready', `pid ${info.pid} loaded ${info.model}`);
    for (const lane of LANES) this.#pump(lane);
  }

  #ping(running: Running): void {
    if (running.pinging) return;
    running.pinging = true;
    running.conn.ping(this.options.pongTimeoutMs).then(
      () => { running.pinging = false; },
      (err: AppError) => {
        running.pinging = false;
        if (err.code === 'request_timeout') {
          this.options.log.error({ pongTimeoutMs: this.options.pongTimeoutMs }, 'sidecar did not answer a ping; killing it');
          this.#kill(running, 'hang');
        }
      },
    );
  }

  #idle(): boolean {
    return LANES.every((l) => !this.#lanes[l]);
  }

  #pump(lane: Lane): void {
    const job = this.#lanes[lane];
    const running = this.#running;
    if (!job) {
      if (this.#idle()) this.#drained?.();
      return;
    }
    if (job.sent || !running || running.readyAt === undefined || running.killCause || this.#heldForReplay(job)) return;
    job.sent = true;
    job.sentAt = Date.now();
    job.extend = undefined;
    if (lane !== 'speech') this.emit('dispatch', running.proc.pid);
    const deadline = this.options.requestTimeoutMs + job.seconds * this.options.requestTimeoutPerAudioSecondMs;
    job.send(running.conn, deadline, (extend) => { job.extend = extend; }).then(
      (value) => this.#finish(job, () => job.resolve(value)),
      (err: AppError) => {
        if (this.#lanes[lane] !== job || !job.sent) return; // already held for replay or failed by the exit handler
        if (err.code === 'request_timeout') {
          this.options.log.error({ deadlineMs: deadline, lane }, 'request past its deadline; killing the sidecar');
          running.culprit = job;
          this.#kill(running, 'deadline');
          return;
        }
        this.#finish(job, () => job.reject(err));
      },
    );
  }

  /** After a shared crash, a suspect model job waits while another model job is in flight (replay-policy.ts). */
  #heldForReplay(job: Job): boolean {
    return waitsForReplay({ lane: job.lane, suspect: this.#suspects.has(job) }, this.#suspects.size, MODEL_LANES.some((l) => this.#lanes[l]?.sent));
  }

  #finish(job: Job, settle: () => void): void {
    if (this.#lanes[job.lane] !== job || !job.sent) return;
    this.#lanes[job.lane] = undefined;
    this.#suspects.delete(job);
    this.#failures = 0;
    // The window was decoded inside the file work in flight (or waited for one of its forward
    // passes): that time was not the file's, so its deadline moves by as much.
    if (job.lane === 'stream') this.#lanes.file?.extend?.(Date.now() - job.sentAt);
    settle();
    for (const lane of LANES) this.#pump(lane);
  }

  #kill(running: Running, cause: KillCause): void {
    if (running.killCause) return;
    running.killCause = cause;
    running.proc.kill('SIGKILL');
  }

  #onExit(running: Running, exit: ProcessExit): void {
    for (const timer of running.timers) clearTimeout(timer);
    const cause = running.killCause ?? (exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`);
    this.#lastExit = { ...exit, cause, at: new Date().toISOString() };
    this.emit('exit', this.#lastExit);
    const jobs = LANES.map((l) => this.#lanes[l]).filter((j): j is Job => j?.sent === true);
    for (const job of jobs) job.sent = false;
    const suspects = sharedCrashSuspects(jobs.map((j) => j.lane));
    for (const job of jobs) if (suspects.includes(job.lane)) this.#suspects.add(job);
    running.conn.close(new AppError('sidecar_exited', `the model process ${cause}`));
    if (this.#running === running) this.#running = undefined;
    for (const job of jobs) {
      const decision = afterExit(job.attempts, { deadline: running.killCause === 'deadline', culprit: running.culprit === job, stopping: this.#stopping !== undefined });
      job.attempts = decision.attempts;
      if (decision.action === 'fail') {
        this.#lanes[job.lane] = undefined;
        this.#suspects.delete(job);
        job.reject(new AppError(decision.code));
      }
    }
    if (this.#stopping && this.#idle()) this.#drained?.();
    if (this.#stopping) return;
    const readyMs = running.readyAt === undefined ? 0 : Date.now() - running.readyAt;
    this.#failures = nextFailureCount(this.#failures, readyMs, this.options.restart);
    const wait = restartDelayMs(this.#failures, this.options.restart);
    this.#restarts += 1;
    this.options.log.warn({ cause, code: exit.code, signal: exit.signal, restarts: this.#restarts, backoffMs: wait, replaying: jobs.length }, 'sidecar exited; restarting');
    this.#setState('restarting', cause);
    this.#restartTimer = setTimeout(() => this.#spawn(), wait);
  }

  #setState(next: SidecarState, reason: string): void {
    if (this.#state === next) return;
    this.options.log.info({ from: this.#state, to: next, reason }, 'sidecar state');
    this.#state = next;
    this.emit('state', next, reason);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
