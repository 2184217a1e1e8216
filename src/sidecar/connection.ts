/**
 * @module Request ids, pending replies and deadlines over any byte-stream pair (no process here).
 * A reply is matched to its request by id; a request past its deadline is rejected with
 * request_timeout; close() rejects everything still pending with sidecar_exited. Deciding what
 * to do about a hang or an exit (kill, restart, replay) is the supervisor's job, not this one's.
 */
import type { Readable, Writable } from 'node:stream';
import { AppError, isErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { encodeFrame, FrameDecoder, FrameTooLargeError, type FrameFault } from './frame.js';
import {
  pingFrame,
  readySchema,
  REQUESTS,
  shutdownFrame,
  sidecarMessageSchema,
  type ReadyInfo,
  type RequestKind,
  type RequestParams,
  type RequestResult,
  type SidecarMessage,
  type TranscribeParams,
} from './protocol.js';

/** Moves a request's deadline `ms` later (no effect once it is settled). */
export type ExtendDeadline = (ms: number) => void;

/** What the owner of a connection hears about besides replies. */
export interface ConnectionHandlers {
  onReady(info: ReadyInfo): void;
  /** The byte stream cannot be trusted any more: the owner must restart the peer. */
  onFatal(reason: string): void;
  /** An error frame with no request id (e.g. model_load_failed before ready). */
  onUnaddressedError(code: string, message: string): void;
}

interface Pending {
  /** Progress frames of this request (file requests that asked for them). */
  onProgress?: TranscribeParams['onProgress'];
  resolve(message: SidecarMessage): void;
  reject(err: AppError): void;
  timer: NodeJS.Timeout;
}

/** One conversation with one sidecar process. */
export class Connection {
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #decoder: FrameDecoder;
  #closed: AppError | undefined;

  constructor(
    input: Readable,
    private readonly output: Writable,
    private readonly maxFrameBytes: number,
    private readonly handlers: ConnectionHandlers,
    private readonly log: Logger,
  ) {
    this.#decoder = new FrameDecoder(maxFrameBytes);
    input.on('data', (chunk: Buffer) => this.#onData(chunk));
    // A write to a process that just died fails with EPIPE; the exit handler reports that.
    output.on('error', (err) => this.log.debug({ err }, 'sidecar stdin error'));
  }

  /** Number of requests awaiting a reply. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Send one request of any kind (REQUESTS in protocol.ts) and read its reply into its result type.
   * `onSent` gets a function that moves this request's deadline later (the supervisor's file work,
   * while the sidecar decodes stream windows inside it).
   * @example await conn.request('vad', { items: [{ audio }] }, 5_000) // VadResult[]
   */
  async request<K extends RequestKind>(kind: K, params: RequestParams<K>, deadlineMs: number, onSent?: (extend: ExtendDeadline) => void): Promise<RequestResult<K>> {
    const type = REQUESTS[kind];
    const onProgress = kind === 'transcribe' ? (params as TranscribeParams).onProgress : undefined;
    const reply = await this.#request((id) => type.frame(id, params), deadlineMs, onProgress, onSent);
    return type.read(reply, params);
  }

  /** Resolves when the sidecar answers a ping within timeoutMs. */
  async ping(timeoutMs: number): Promise<void> {
    await this.#request(pingFrame, timeoutMs);
  }

  /** Ask the sidecar to finish and exit; resolves on its goodbye. */
  async shutdown(timeoutMs: number): Promise<void> {
    await this.#request(shutdownFrame, timeoutMs);
  }

  /** Reject everything pending; later requests fail at once. Idempotent. */
  close(reason: AppError): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(id);
      pending.reject(reason);
    }
  }

  #request(build: (id: number) => Record<string, unknown>, deadlineMs: number, onProgress?: Pending['onProgress'], onSent?: (extend: ExtendDeadline) => void): Promise<SidecarMessage> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    let frame: Buffer;
    try {
      frame = encodeFrame(build(id), this.maxFrameBytes);
    } catch (err) {
      if (err instanceof FrameTooLargeError) return Promise.reject(new AppError('frame_too_large', err.message));
      throw err;
    }
    return new Promise<SidecarMessage>((resolve, reject) => {
      let allowedMs = deadlineMs;
      let due = Date.now() + deadlineMs;
      const expire = () => {
        this.#pending.delete(id);
        reject(new AppError('request_timeout', `no reply to request ${id} within ${allowedMs} ms`));
      };
      const pending: Pending = { onProgress, resolve, reject, timer: setTimeout(expire, deadlineMs) };
      this.#pending.set(id, pending);
      this.output.write(frame);
      onSent?.((ms) => {
        if (this.#pending.get(id) !== pending || ms <= 0) return;
        allowedMs += ms;
        due += ms;
        clearTimeout(pending.timer);
        pending.timer = setTimeout(expire, Math.max(0, due - Date.now()));
      });
    });
  }

  #onData(chunk: Buffer): void {
    for (const out of this.#decoder.push(chunk)) {
      if ('fault' in out) this.#onFault(out.fault);
      else this.#onMessage(out.message);
    }
  }

  #onFault(fault: FrameFault): void {
    if (fault.fatal) {
      this.handlers.onFatal(`sidecar frame stream out of sync (length ${fault.size})`);
      return;
    }
    const code = fault.kind === 'too_large' ? 'frame_too_large' : 'bad_frame';
    const message = fault.kind === 'too_large' ? `sidecar sent a frame of ${fault.size} bytes` : `sidecar frame does not decode: ${fault.detail}`;
    this.log.warn({ fault }, message);
    if (fault.id !== undefined) this.#settle(fault.id, undefined, new AppError(code, message));
  }

  #onMessage(raw: Record<string, unknown>): void {
    if (raw.type === 'ready') {
      const ready = readySchema.safeParse(raw);
      if (ready.success) this.handlers.onReady(ready.data);
      else this.handlers.onFatal(`invalid ready frame: ${ready.error.issues[0]?.message}`);
      return;
    }
    const parsed = sidecarMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const id = typeof raw.id === 'number' ? raw.id : undefined;
      const message = `invalid sidecar message: ${parsed.error.issues[0]?.message}`;
      this.log.warn({ type: raw.type, id }, message);
      if (id !== undefined) this.#settle(id, undefined, new AppError('bad_frame', message));
      return;
    }
    const msg = parsed.data;
    if (msg.type === 'progress') {
      // Not a reply: the request stays pending. A throwing listener must not break the reader.
      const { id, type: _type, ...progress } = msg;
      try {
        this.#pending.get(id)?.onProgress?.(progress);
      } catch (err) {
        this.log.warn({ err, id }, 'progress listener threw');
      }
      return;
    }
    if (msg.type === 'error') {
      const code = isErrorCode(msg.code) ? msg.code : 'internal_error';
      if (msg.id === null) this.handlers.onUnaddressedError(msg.code, msg.message);
      else this.#settle(msg.id, undefined, new AppError(code, msg.message));
      return;
    }
    this.#settle(msg.id, msg);
  }

  #settle(id: number, message: SidecarMessage | undefined, err?: AppError): void {
    const pending = this.#pending.get(id);
    if (!pending) {
      this.log.debug({ id }, 'reply for a request no longer pending');
      return;
    }
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (err) pending.reject(err);
    else pending.resolve(message!);
  }
}
