/**
 * @module One Session (src/session/session.ts) driven by a protocol adapter instead of the
 * /ws/transcribe socket. The adapter gets the session's frames through a SessionSink as usual, plus
 * three things the sink does not carry, read without copying any session logic:
 *  - which kind of decode the next interim reflects (a re-decode for LocalAgreement, or a flush that
 *    commits everything: utterance end, finalize, end), seen by wrapping the Transcriber;
 *  - the VAD's speech onsets and utterance ends, from the session's own `vad` debug line (it logs
 *    the endpointer's events; the timeline positions are the session's, so nothing is re-judged);
 *  - interims without waiting for the next audio frame: /ws/transcribe paces interims to one per
 *    audio frame for the brief's client; these protocols have no such client, so after each decode
 *    the driver hands the session an empty audio frame, which sends a due interim at once.
 * A small event hook in session.ts would replace the log reading (docs/deepgram.md, "Gaps").
 */
import type { ErrorCode } from '../../errors.js';
import { Session } from '../../session/session.js';
import type { ClientConfig, EndClose, FinalFrame, InterimFrame, ServerFrame, SessionOptions, Transcriber } from '../../session/types.js';

/** A speech onset or an utterance end, in seconds on the session timeline. */
export interface VadEvent {
  type: 'speech_start' | 'utterance_end';
  at: number;
}

/**
 * The shortest pause that may end an utterance here. Deepgram's `endpointing` only marks
 * `speech_final` (and OpenAI's `silence_duration_ms` only ends a turn); here the pause also commits the utterance and cuts the window, and Whisper
 * decoding windows cut at 100 ms pauses hallucinated (jfk.wav: "As long as you're not here").
 */
export const MIN_ENDPOINT_MS = 300;

/** Per-protocol session settings beyond ClientConfig (OpenAI's turn_detection.threshold). */
export interface DriverTuning {
  /** silero-vad speech probability threshold (the session's endpointing threshold). */
  vadThreshold?: number;
}

/** The session options with a protocol's tuning applied. */
export function tuned(options: SessionOptions, tuning: DriverTuning | undefined): SessionOptions {
  if (tuning?.vadThreshold === undefined) return options;
  const threshold = Math.min(0.95, Math.max(0.05, tuning.vadThreshold));
  return { ...options, endpointing: { ...options.endpointing, threshold, negThreshold: Math.max(0.01, threshold - 0.15) } };
}

/** What the last decode before an interim was. */
export type DecodeKind = 'agree' | 'flush';

/** What the driver knows about an interim beyond the frame. */
export interface InterimInfo {
  /** Utterances the VAD ended whose commit this interim shows (their flush decodes, or a finalize when nothing was left to decode), oldest first. */
  utterancesDone: number;
  /** The frame answers the adapter's own finalize() call(s). */
  finalizeReply: boolean;
}

export interface DriverEvents {
  interim(frame: InterimFrame, decode: DecodeKind | undefined, info?: InterimInfo): void;
  final(frame: FinalFrame): void;
  /** The session's error frame; `close` follows when the error ends the session. */
  error(code: ErrorCode, message: string): void;
  /** The session is over: after the final (1000) or after an error with a close code. */
  close(code: number, reason: string): void;
  vad?(event: VadEvent): void;
}

const EMPTY = new Uint8Array(0);

/** What the connection needs of a session (SessionDriver, or a test double). */
export interface DriverLike {
  configure(config: ClientConfig): void;
  audio(pcm: Uint8Array): void;
  finalize(): void;
  end(close?: EndClose): void;
  keepalive(): void;
  fail(err: unknown): void;
  closed(): void;
}

export class SessionDriver implements DriverLike {
  readonly session: Session;
  #pendingDecode: DecodeKind | undefined;
  #kick: NodeJS.Immediate | undefined;
  #over = false;
  /** Flush decodes in flight. */
  #flushDecoding = 0;
  /** Utterances the VAD ended whose commit has not been seen yet, oldest first. */
  #endpoints: Array<{ flushSeen: boolean; flushDone: boolean; own: boolean }> = [];
  #poll: NodeJS.Timeout | undefined;
  #adapterFinalizes = 0;

  constructor(model: Transcriber, options: SessionOptions, private readonly events: DriverEvents) {
    const observed: Transcriber = {
      ...model,
      decode: (item, timestamps, flush) => {
        if (flush) this.#flushDecoding += 1;
        // The session flushes one utterance per decode, in order.
        const next = flush ? this.#endpoints.find((e) => !e.flushSeen && !e.own) : undefined;
        if (next) next.flushSeen = true;
        return model.decode(item, timestamps, flush).then((result) => {
          if (flush) this.#flushDecoding -= 1;
          if (next) next.flushDone = true;
          // Set before the session's own continuation runs, so any interim sent from now on reflects it.
          this.#pendingDecode = flush ? 'flush' : (this.#pendingDecode ?? 'agree');
          this.#scheduleKick();
          return result;
        }, (err: unknown) => {
          if (flush) this.#flushDecoding -= 1;
          throw err;
        });
      },
    };
    const sink = {
      send: (frame: ServerFrame) => this.#onFrame(frame),
      close: (code: number, reason: string) => {
        this.#over = true;
        this.events.close(code, reason);
      },
    };
    // Adapters report word confidence (Deepgram's `confidence`), so the session's frames carry it.
    this.session = new Session(sink, observed, { ...options, wordConfidence: true, onSpeechEvent: (e) => this.#onVad(e) });
  }

  get over(): boolean {
    return this.#over;
  }

  configure(config: ClientConfig): void {
    this.session.configure({ ...config, interim_results: true });
  }

  /** s16le mono PCM at the configured rate (an even byte count). */
  audio(pcm: Uint8Array): void {
    if (pcm.byteLength > 0) this.session.audio(pcm);
  }

  finalize(): void {
    this.#adapterFinalizes += 1;
    this.session.finalize();
  }

  /** The session's own end path: everything committed, the final, then `close` (1000 unless a drain says 1012). */
  end(close?: EndClose): void {
    this.session.end(close);
  }

  keepalive(): void {
    this.session.keepalive();
  }

  fail(err: unknown): void {
    this.session.fail(err);
  }

  /** The socket is gone (or the adapter drops this session). */
  closed(): void {
    this.#over = true;
    clearImmediate(this.#kick);
    clearInterval(this.#poll);
    this.session.closed();
  }

  #scheduleKick(): void {
    if (this.#kick) return;
    this.#kick = setImmediate(() => {
      this.#kick = undefined;
      if (this.#over || this.session.state !== 'streaming') return;
      this.session.audio(EMPTY); // sends the interim the decode made due, if any
    });
  }

  /**
   * An utterance end: the session pushes a flush and, when there is something to decode, starts its
   * decode at once (or after the decode in flight). If no flush decode has started once the session
   * holds no flush and none is in flight, the flush was done without one, and a finalize says so.
   */
  #onVad(event: VadEvent): void {
    if (event.type === 'utterance_end') {
      this.#endpoints.push({ flushSeen: false, flushDone: false, own: false });
      clearInterval(this.#poll);
      this.#poll = setInterval(() => {
        if (this.#endpoints.length === 0 || this.#over || this.session.state !== 'streaming') return clearInterval(this.#poll);
        // The flush is still to come (queued behind a decode in flight) or in flight. Re-decodes
        // do not count: in a pause the session may re-decode back to back, and waiting for a gap
        // between them left an utterance without its speech_final for a minute (CI, under load).
        if (this.#flushDecoding > 0 || this.session.flushesPending > 0) return;
        const waiting = this.#endpoints.filter((e) => !e.flushSeen && !e.own);
        if (waiting.length === 0) return;
        for (const e of waiting) e.own = true;
        this.session.finalize();
      }, 250);
      this.#poll.unref?.();
    }
    this.events.vad?.(event);
  }

  #onFrame(frame: ServerFrame): void {
    if (frame.type === 'interim') {
      const decode = this.#pendingDecode;
      this.#pendingDecode = undefined;
      const reply = frame.finalized === true;
      let utterancesDone = 0;
      // Utterances whose flush decode has returned are in; a finalize reply: all of them.
      while (this.#endpoints.length > 0 && (reply || this.#endpoints[0]!.flushDone)) {
        this.#endpoints.shift();
        utterancesDone += 1;
      }
      if (this.#endpoints.length === 0) clearInterval(this.#poll);
      const finalizeReply = reply && this.#adapterFinalizes > 0;
      if (reply) this.#adapterFinalizes = 0;
      this.events.interim(frame, decode, { utterancesDone, finalizeReply });
    } else if (frame.type === 'final') {
      this.events.final(frame);
    } else {
      this.events.error(frame.code, frame.message);
    }
  }
}

/** The logger the session gets: the real one, plus a look at its `vad` debug lines. */
