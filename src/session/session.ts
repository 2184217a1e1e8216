/**
 * @module One streaming session: config, audio in, interim and final transcripts out. Owns the
 * session's timers and its two requests in flight (one VAD, one decode); every decision it takes is
 * delegated to the pure modules beside it (window, agreement, endpointing, hypothesis, transcript).
 * It never sees a socket: route.ts gives it a SessionSink.
 *
 *   open ──audio──▶ streaming ──end──▶ draining ──final sent──▶ closed
 *     │               │                   │
 *     └───────────────┴── error / client gone ──────────────▶ closed
 *
 * Decode cadence: a decode of the whole window starts when enough new audio has come in since the
 * last one (cadence.ts: as long as the last decode took, within `minDecodeIntervalS` and
 * `decodeIntervalS`) and the VAD has heard speech in the window that is not committed yet. One decode at a time per
 * session, so newer audio folds into the next decode and the interval stretches under load
 * instead of a backlog growing. Interims are paced: one is sent, at most, in reply to each audio
 * frame, so a client that reads one message per chunk is never left holding a stale interim when
 * it reads the final.
 */
import { AppError, ERRORS, toAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { pcm16Problem, pcm16ToInt16 } from '../audio/pcm.js';
import { Resampler, TARGET_RATE } from '../audio/resample.js';
import type { ItemResult, TranscribeItem } from '../sidecar/protocol.js';
import { decodeInterval } from './cadence.js';
import { MISSED_SPEECH_S, flushReach } from './flush-reach.js';
import { agree, commitAll, committedCut, commitTentative, emptyAgreement, lastCommittedSegmentEnd, windowTrimmed, type AgreementState, type AgreementStep } from './agreement.js';
import { initialEndpoint, speechSince, stepEndpoint, VAD_FRAME, type EndpointingOptions, type EndpointState } from './endpointing.js';
import { wordsOf, type Word } from './hypothesis.js';
import { closeLastSegment, promptOf, segmentsOf, transcriptOf } from './transcript.js';
import { AudioWindow, toSample, toSeconds } from './window.js';
import type { ClientConfig, EndClose, FinalFrame, InterimFrame, SessionOptions, SessionSink, SpeakerLabeller, Transcriber } from './types.js';

export type { SessionOptions, Transcriber } from './types.js';

export type SessionState = 'open' | 'streaming' | 'draining' | 'closed';

/** The close after a final the client asked for with `end`. */
export const NORMAL_END: EndClose = { code: 1000, reason: 'final' };
/** The close after a final a server drain asked for: 1012 "service restart", so the client reconnects. */
export const RESTART_END: EndClose = { code: 1012, reason: 'service restart' };

/**
 * Frames of context (1 s) the VAD re-reads before new audio: it starts fresh on every call, and
 * measured on jfk+fleurs-en-003 in 512 ms steps, 8 frames of context found 36 % of the fleurs
 * speech frames, 32 frames 79 % (one pass over the whole clip: 0 %, its state drifts).
 */
const VAD_CONTEXT_FRAMES = 32;
/** New frames (512 ms) worth a VAD call while streaming. */
const VAD_MIN_FRAMES = 16;
/** Audio kept before detected speech, and after an utterance end. */
const PREROLL_S = 0.5;
const ENDPOINT_PAD_S = 0.3;
/** Audio after the VAD's last speech frame that a decode must have heard for a flush to reuse it. */
const HEARD_PAD_S = 0.1;
/** Speech the VAD heard after the context that a decode left out: the context goes (see #onHypothesis). */
const CONTEXT_SKIPPED_S = 1.0;
/**
 * When a commit trims the window at the last committed word (options.trimCommitted), the cut goes
 * this far back into that word: word ends are interpolated inside a segment, so cutting at the
 * estimate could clip the next word; the re-heard tail of the committed word is aligned away
 * (agreement.ts alignCommitted) instead of being decoded as new text.
 */
const TRIM_BACKOFF_S = 0.25;
/** A window shorter than this is not worth a decode. */
const MIN_DECODE_S = 0.3;
const ms = (seconds: number) => Math.round(seconds * 1000) / 1000;
/**
 * Tokens a window of `seconds` may decode: fast speech is ~4 tokens/s plus timestamp tokens, so
 * 8/s + 16 never cuts real speech, while a decode that starts looping stops early instead of
 * running to the pipeline's 128 (~40 ms per token on a CPU).
 */
export const tokenCap = (seconds: number): number => Math.min(444, Math.ceil(seconds * 8) + 16);

export class Session {
  #state: SessionState = 'open';
  #language: string | null = 'en';
  #detected: string | null = null;
  #task: 'transcribe' | 'translate' = 'transcribe';
  #words = false;
  #speakers: SpeakerLabeller | undefined;
  #interims = true;
  #resampler: Resampler | undefined;
  #endpointing: EndpointingOptions;
  readonly #window = new AudioWindow();
  readonly #vadAudio = new AudioWindow();
  #endpoint: EndpointState = initialEndpoint;
  #agreement: AgreementState = emptyAgreement;
  #vadBusy = false;
  #decodeBusy = false;
  /**
   * Timeline samples up to which everything is to be committed (utterance ends, finalize), oldest
   * first. Each is flushed on its own: Whisper decoding one window across a pause tends to skip the
   * words after it, and committing such a hypothesis whole would lose them.
   */
  #flushes: number[] = [];
  /** Timeline sample where the last decode's audio ended, and the one before. */
  #decodedUntil = 0;
  /** Where the audio of the decode whose hypothesis is the tentative ended (0: none since the last flush). */
  #tentativeUntil = 0;
  #interval = 0;
  /** Wall time of the last decode, queueing included: the cadence drops to minDecodeIntervalS while it stays under that. */
  #lastDecodeMs = Number.POSITIVE_INFINITY;
  /** A re-decode held back by the scheduler's stream share: #maybeDecode runs again when it may go. */
  #holdTimer: ReturnType<typeof setTimeout> | undefined;
  /** Decodes made after `end` (bounded, so the final always goes out). */
  #drainDecodes = 0;
  #decodes = 0;
  #interimDue = false;
  /** A `finalize` waits for a flush that reaches this timeline sample. */
  #finalizeAt: number | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** The close that follows the final, and when `end` came (for the final's lag). */
  #endClose: EndClose = NORMAL_END;
  #endedAt = 0;

  constructor(private readonly sink: SessionSink, private readonly model: Transcriber, private readonly options: SessionOptions) {
    this.#endpointing = options.endpointing;
    this.#touch();
  }

  get state(): SessionState {
    return this.#state;
  }

  /** Utterance ends (and finalizes) whose flush the session has not taken up yet. */
  get flushesPending(): number {
    return this.#flushes.length;
  }

  /** Apply a config message; only before the first audio frame. */
  configure(config: ClientConfig): void {
    if (this.#state !== 'open') return this.fail(new AppError('config_after_audio', 'config must be the first message and come only once'));
    this.#touch();
    const detect = config.detect_language === true || config.language === null;
    if (!detect && config.language && this.options.languages.length > 0 && !this.options.languages.includes(config.language)) {
      return this.fail(new AppError('invalid_config', `language ${JSON.stringify(config.language)} is not one the model knows`));
    }
    this.#language = detect ? null : (config.language ?? 'en');
    this.#task = config.task ?? 'transcribe';
    this.#words = config.word_timestamps ?? false;
    this.#interims = config.interim_results ?? true;
    this.#speakers = config.diarize ? this.model.speakers?.((err) => this.options.log.warn({ err }, 'speaker embedding failed')) : undefined;
    if (config.sample_rate !== undefined && config.sample_rate !== TARGET_RATE) this.#resampler = new Resampler(config.sample_rate);
    if (config.endpointing_ms !== undefined) this.#endpointing = { ...this.#endpointing, endpointMs: config.endpointing_ms };
    this.#setState('streaming', 'config');
  }

  /** A binary frame of s16le mono PCM at the configured rate. */
  audio(bytes: Uint8Array): void {
    if (this.#state === 'draining' || this.#state === 'closed') return; // in flight when `end` was sent: the final covers what came before
    this.#touch();
    const problem = pcm16Problem(bytes);
    if (problem) return this.fail(new AppError('invalid_audio', `${problem}; send 16-bit little-endian mono PCM`));
    if (this.#state === 'open') this.#setState('streaming', 'first audio');
    const input = pcm16ToInt16(bytes);
    this.#append(this.#resampler ? this.#resampler.push(input) : input);
    if (toSeconds(this.#window.end) > this.options.maxSessionS) {
      return this.fail(new AppError('session_too_long', `the session passed its limit of ${this.options.maxSessionS} s of audio`));
    }
    if (this.#interimDue) this.#sendInterim(false);
    this.#pumpVad();
    // A decode may be due on this frame: waiting for the next VAD reply (every 512 ms of audio)
    // would add up to half a second to every commit.
    this.#maybeDecode();
  }

  /**
   * `end`: commit everything heard, send the final, close normally. A server drain calls it too,
   * with close 1012, so a stream cut at the drain deadline gets exactly the final a client's `end`
   * would have got. A session already draining keeps the close it has.
   */
  end(close: EndClose = NORMAL_END): void {
    if (this.#state === 'draining' || this.#state === 'closed') return;
    this.#endClose = close;
    this.#endedAt = Date.now();
    if (this.#resampler) this.#append(this.#resampler.flush());
    this.#interimDue = false;
    this.#setState('draining', 'end');
    clearTimeout(this.#idleTimer);
    this.#pumpVad();
    this.#maybeDecode();
  }

  /** `finalize`: commit everything so far and say so, without closing. */
  finalize(): void {
    if (this.#state === 'draining' || this.#state === 'closed') return;
    this.#touch();
    this.#finalizeAt = this.#window.end;
    this.#flushes.push(this.#window.end);
    this.#pumpVad();
    this.#maybeDecode();
  }

  /** `keepalive`: nothing to do but reset the idle timer. */
  keepalive(): void {
    this.#touch();
  }

  /** The client is gone: stop everything; results still in flight are dropped. */
  closed(): void {
    clearTimeout(this.#idleTimer);
    this.#setState('closed', 'socket closed');
  }

  /** Report an error; where the error table gives a close code the session ends with it. */
  fail(err: unknown): void {
    if (this.#state === 'closed') return;
    const error = toAppError(err);
    if (error.code === 'internal_error') this.options.log.error({ err }, 'session failed');
    this.sink.send({ type: 'error', code: error.code, message: error.message });
    const close = ERRORS[error.code].wsClose;
    if (close === undefined) return;
    clearTimeout(this.#idleTimer);
    this.#setState('closed', error.code);
    this.sink.close(close, error.code);
  }

  #append(samples: Int16Array): void {
    this.#window.append(samples);
    this.#vadAudio.append(samples); this.#speakers?.append(samples);
  }

  #touch(): void {
    clearTimeout(this.#idleTimer);
    if (this.#state === 'draining' || this.#state === 'closed') return;
    this.#idleTimer = setTimeout(() => {
      // A client waiting for its finalize reply while we work on it is waiting on us, not idle:
      // under load the reply can take longer than the idle timeout (test/integration/ws-slow-clients.test.ts).
      if (this.#finalizeAt !== undefined && this.#state === 'streaming' && (this.#decodeBusy || this.#vadBusy)) return this.#touch();
      this.fail(new AppError('idle_timeout', `no message for ${this.options.idleTimeoutMs} ms`));
    }, this.options.idleTimeoutMs);
    this.#idleTimer.unref?.();
  }

  #pumpVad(): void {
    if (this.#vadBusy || this.#state === 'closed') return;
    const from = this.#endpoint.pos;
    const frames = Math.floor((this.#vadAudio.end - from) / VAD_FRAME);
    // Small client frames are judged in batches: each VAD call re-reads its context, and on a CPU it
    // shares the cores with the decoder. A flush or the end does not wait.
    const urgent = this.#state === 'draining' || this.#flushes.length > 0;
    if (frames === 0 || (frames < VAD_MIN_FRAMES && !urgent)) return;
    const context = Math.min(VAD_CONTEXT_FRAMES, Math.floor((from - this.#vadAudio.start) / VAD_FRAME));
    const audio = this.#vadAudio.bytes(from - context * VAD_FRAME, from + frames * VAD_FRAME);
    this.#vadBusy = true;
    this.model.vad(audio, urgent).then((probs) => {
      this.#vadBusy = false;
      if (this.#state === 'closed') return;
      this.#onSpeechProbabilities(probs.subarray(context, context + frames));
      this.#pumpVad();
      this.#maybeDecode();
    }, (err) => {
      this.#vadBusy = false;
      this.fail(err);
    });
  }

  #onSpeechProbabilities(probs: Float32Array): void {
    const step = stepEndpoint(this.#endpoint, probs, this.#endpointing);
    this.#endpoint = step.state;
    if (step.events.length > 0) this.options.log.debug({ events: step.events.map((e) => `${e.type}@${toSeconds(e.at).toFixed(2)}`), window: [toSeconds(this.#window.start), toSeconds(this.#window.end)] }, 'vad');
    this.#vadAudio.trimTo(this.#endpoint.pos - VAD_CONTEXT_FRAMES * VAD_FRAME);
    for (const event of step.events) {
      this.options.onSpeechEvent?.({ type: event.type, at: toSeconds(event.at) });
      if (event.type === 'utterance_end') this.#flushes.push(event.at + toSample(ENDPOINT_PAD_S));
    }
  }

  /** The VAD has judged every whole frame received (the last partial frame is under 32 ms). */
  #vadCaughtUp(): boolean {
    return !this.#vadBusy && this.#vadAudio.end - this.#endpoint.pos < VAD_FRAME;
  }

  #maybeDecode(): void {
    if (this.#decodeBusy || this.#state === 'closed' || this.#state === 'open') return;
    // Speech the window holds that is not committed yet (context kept before it does not count;
    // after `end`, word ends estimated a little early do not count as speech left behind either).
    const context = this.#contextUntil();
    const margin = this.#state === 'draining' && context > 0 ? toSample(MISSED_SPEECH_S) : 0;
    const heard = speechSince(this.#endpoint, Math.max(this.#window.start, context + margin)) || this.#agreement.tentative.length > 0;
    const flush = this.#flushes[0];
    if (flush !== undefined && flush <= this.#endpoint.pos + VAD_FRAME) {
      const until = Math.min(flush, this.#window.end);
      this.#flushes.shift();
      if (heard && this.#tentativeCovers(until)) {
        this.#flushed(until, commitTentative(this.#agreement, toSeconds(until)));
        return this.#committed();
      }
      if (heard) return this.#decode(until, 'all');
      this.#flushed(until, commitAll(this.#agreement, []));
      return this.#maybeDecode();
    }
    if (this.#state === 'draining') {
      if (!this.#vadCaughtUp()) return;
      // A decode that stopped early leaves audio behind; two more tries, then the final goes out.
      if (heard && this.#window.length > 0 && this.#drainDecodes++ < 3) return this.#decode(this.#window.end, 'all');
      return this.#sendFinal();
    }
    if (!heard) {
      // Nothing to hear: keep only a short pre-roll (and the context, over a short pause) so the
      // next utterance starts a short window.
      const preroll = this.#endpoint.pos - toSample(PREROLL_S);
      this.#window.trimTo(this.#withinGap() ? Math.min(preroll, this.#contextCut(this.#endpoint.pos)) : preroll);
      this.#agreement = windowTrimmed(this.#agreement, toSeconds(this.#window.start));
      this.#decodedUntil = Math.max(this.#decodedUntil, this.#window.start);
      return;
    }
    if (this.#window.end - Math.max(this.#decodedUntil, this.#window.start) < toSample(this.#decodeInterval())) return;
    const mode = toSeconds(this.#window.length) > this.options.maxWindowS ? 'cut' : 'agree';
    // A re-decode cut now would wait in the scheduler (the stream share while files wait) and be
    // stale when it went: cut it when it can go, with the audio that came in meanwhile.
    const holdMs = mode === 'agree' ? (this.model.holdMs?.() ?? 0) : 0;
    if (holdMs > 0) return this.#retryIn(holdMs);
    this.#decode(this.#window.end, mode);
  }

  #retryIn(ms: number): void {
    if (this.#holdTimer !== undefined) return;
    this.#holdTimer = setTimeout(() => {
      this.#holdTimer = undefined;
      this.#maybeDecode();
    }, ms);
    this.#holdTimer.unref?.();
  }

  /**
   * Whether the last decode's hypothesis (the tentative words) can stand for a flush decode up to
   * `until`, which then costs nothing (a decode, ~1 s on a CPU, saved per utterance end; the VAD
   * reports an utterance end 0.8 s after the speech, so the last decode has often heard it all):
   * it heard all the speech before `until`, no speech after it (the VAD judged all it decoded and
   * heard none: words of the next utterance, which Whisper may time inside the last segment, stay
   * out), and it did not stop early (its last word ends near the last speech).
   */
  #tentativeCovers(until: number): boolean {
    const lastSpeech = this.#endpoint.lastSpeech;
    if (this.#tentativeUntil === 0 || lastSpeech === undefined || lastSpeech > until) return false;
    if (this.#tentativeUntil < Math.min(until, lastSpeech + toSample(HEARD_PAD_S))) return false;
    if (this.#tentativeUntil > this.#endpoint.pos) return false;
    const last = this.#agreement.tentative[this.#agreement.tentative.length - 1] ?? this.#lastCommittedInWindow();
    return last !== undefined && toSample(last.end) >= lastSpeech - toSample(MISSED_SPEECH_S);
  }

  /** Seconds of new audio worth a re-decode (cadence.ts). */
  #decodeInterval(): number {
    return decodeInterval(this.#lastDecodeMs, this.options.minDecodeIntervalS, this.options.decodeIntervalS);
  }

  /**
   * Decode the window up to `until`. 'agree': LocalAgreement-2. 'all': commit everything (utterance
   * end, finalize, end). 'cut': the window is too long: commit through the last closed segment.
   */
  #decode(until: number, mode: 'agree' | 'all' | 'cut'): void {
    const start = this.#window.start;
    if (until - start < toSample(MIN_DECODE_S)) {
      if (mode === 'agree') return;
      this.#flushed(until, commitAll(this.#agreement, []));
      // Nothing to decode, so no result will call back: go on at once (a stale flush, e.g. an
      // utterance end the VAD reported after a finalize had already flushed past it, used to end
      // the drain here with no final; test/integration/ws-slow-clients.test.ts).
      return this.#maybeDecode();
    }
    const item: TranscribeItem = {
      audio: this.#window.bytes(start, until),
      language: this.#language ?? this.#detected,
      task: this.#task,
      prompt: this.options.promptChars > 0 ? promptOf(this.#agreement, this.options.promptChars) : null,
      max_new_tokens: tokenCap(toSeconds(until - start)),
      no_speech_threshold: this.options.noSpeechThreshold > 0 ? this.options.noSpeechThreshold : null,
    };
    this.#decodeBusy = true;
    this.#decodes += 1;
    const started = Date.now();
    this.model.decode(item, this.#words ? 'word' : true, mode !== 'agree').then((result) => {
      this.#decodeBusy = false;
      if (this.#state === 'closed') return;
      this.#lastDecodeMs = Date.now() - started;
      this.options.log.debug({ mode, from: toSeconds(start), until: toSeconds(until), ms: this.#lastDecodeMs, text: result.text }, 'decoded');
      if (this.#language === null && this.#detected === null && result.language) this.#detected = result.language;
      this.#interval = until - Math.max(this.#decodedUntil, start);
      this.#decodedUntil = until;
      const words = wordsOf(result.chunks, toSeconds(start), toSeconds(until - start), this.#words);
      this.#onHypothesis(words, until, mode);
    }, (err) => {
      this.#decodeBusy = false;
      this.fail(err);
    });
  }

  #onHypothesis(words: Word[], until: number, mode: 'agree' | 'all' | 'cut'): void {
    if (mode === 'all') {
      // Where the decode's text ends, re-heard context included: a decode that gave back only the
      // context's words (Whisper ends its text there and skips what follows a pause) stopped early too.
      const last = words[words.length - 1];
      this.#flushed(until, commitAll(this.#agreement, words), true, last && (last.segmentEnd ?? last.end));
    } else if (mode === 'cut') {
      let lastClosed = words.length - 1;
      while (lastClosed >= 0 && words[lastClosed]!.segmentEnd === undefined) lastClosed--;
      const keep = lastClosed === -1 ? words : words.slice(0, lastClosed + 1);
      this.#flushed(lastClosed === -1 ? until : toSample(words[lastClosed]!.segmentEnd!), commitAll(this.#agreement, keep), false);
    } else {
      const heardUntil = this.options.alignAttMarginS === undefined ? undefined : toSeconds(until) - this.options.alignAttMarginS;
      const step = agree(this.#agreement, words, this.options.agreement, heardUntil);
      this.#agreement = step.state;
      this.#tentativeUntil = until;
      let cut = this.options.trimCommitted ? committedCut(this.#agreement, TRIM_BACKOFF_S) : lastCommittedSegmentEnd(this.#agreement, toSeconds(until) - this.options.contextS);
      // Whisper may end its text with the context's last sentence and skip what follows a pause:
      // a decode that heard nothing past the context while the VAD heard a second of new speech
      // drops the context, and the next decode starts where the new speech does.
      const nothingNew = step.committedNow.length === 0 && step.state.tentative.length === 0;
      const context = this.#contextUntil();
      if (nothingNew && context > 0 && (this.#endpoint.lastSpeech ?? 0) - context >= toSample(CONTEXT_SKIPPED_S)) cut = toSeconds(context);
      if (cut !== undefined) {
        this.#window.trimTo(toSample(cut));
        this.#agreement = windowTrimmed(this.#agreement, toSeconds(this.#window.start));
      }
    }
    this.#committed();
  }

  /** After words were committed: speakers, the next interim, the next decode. */
  #committed(): void {
    this.#speakers?.committed(this.#agreement.committed);
    if (this.#state === 'streaming') this.#interimDue = this.#interims;
    this.#maybeDecode();
  }

  /**
   * Take a flush's commit (`step`: everything up to `until`) and cut the window at `until`, or
   * (`keepContext`) at the committed segment end that leaves the context before it; `decodedTo`:
   * seconds where the flush decode's words (context included) end.
   */
  #flushed(until: number, step: AgreementStep, keepContext = true, decodedTo?: number): void {
    this.#tentativeUntil = 0;
    this.#agreement = { ...step.state, committed: [...this.#agreement.committed, ...closeLastSegment(step.committedNow)] };
    // Cut only as far as the hypothesis reached (`decodedTo`, else its last committed word): the
    // audio a decode that stopped early did not transcribe stays for the next decode (flush-reach.ts),
    // which starts where it stopped, without context (the context may be what made it stop).
    const last = step.committedNow[step.committedNow.length - 1];
    const { reached, stoppedEarly } = flushReach(until, decodedTo ?? (last && (last.segmentEnd ?? last.end)), this.#endpoint.lastSpeech);
    // After `end` no decode follows that could use the context.
    const context = keepContext && this.#state === 'streaming';
    this.#window.trimTo(stoppedEarly ? reached : context ? Math.min(until, this.#contextCut(until)) : until);
    this.#agreement = windowTrimmed(this.#agreement, toSeconds(this.#window.start));
    if (this.#finalizeAt !== undefined && until >= this.#finalizeAt && this.#state === 'streaming') {
      this.#finalizeAt = undefined;
      this.#touch(); // the idle clock starts again from the reply
      this.#sendInterim(true);
    }
  }

  /**
   * Where the window may start so that it keeps `contextS` of committed speech before `until`:
   * the last committed segment end at least that far back (the window start where there is none).
   * Whisper hears a short utterance far better after the speech before it (jfk.wav's "ask not",
   * after a 1 s pause, decoded alone comes out "is not."); the re-heard words are aligned away.
   */
  #contextCut(until: number): number {
    if (this.options.contextS <= 0) return until;
    const end = lastCommittedSegmentEnd(this.#agreement, toSeconds(until) - this.options.contextS);
    return end === undefined ? this.#window.start : toSample(end);
  }

  /** Where the committed words of the window end (the context); 0 when it keeps none. */
  #contextUntil(): number {
    const last = this.#lastCommittedInWindow();
    if (this.options.contextS <= 0 || last === undefined) return 0;
    return toSample(last.segmentEnd ?? last.end);
  }

  /** The last committed word, if the window still holds it. */
  #lastCommittedInWindow(): Word | undefined {
    return this.#agreement.inWindow > 0 ? this.#agreement.committed[this.#agreement.committed.length - 1] : undefined;
  }

  /** The pause since the last speech is short enough to keep the context over it. */
  #withinGap(): boolean {
    const last = this.#endpoint.lastSpeech;
    return this.options.contextS > 0 && last !== undefined && this.#endpoint.pos - last <= toSample(this.options.contextGapS);
  }

  /** A final chunk's word probabilities (segments only: word-timestamp chunks come from the pipeline, which gives none). */
  #confidenceOf(s: { confidence?: number[] | number }): { confidence?: number[] } {
    return Array.isArray(s.confidence) ? { confidence: s.confidence } : {};
  }

  #progress() {
    const audio = toSeconds(this.#window.end);
    const decoded = toSeconds(this.#decodedUntil);
    const r = (x: number) => Math.round(x * 1000) / 1000;
    return { audio_s: r(audio), decoded_s: r(decoded), lag_s: r(Math.max(0, audio - decoded)), interval_s: r(toSeconds(this.#interval)) };
  }

  #sendInterim(finalized: boolean): void {
    this.#interimDue = false;
    if (this.#state === 'closed') return;
    const t = transcriptOf(this.#agreement, this.options.wordConfidence);
    const frame: InterimFrame = { type: 'interim', ...(this.#speakers?.labelled(t) ?? t), language: this.#language ?? this.#detected, ...this.#progress(), ...(finalized ? { finalized: true } : {}) };
    this.options.onLag?.(frame.lag_s);
    this.sink.send(frame);
  }

  #sendFinal(): void {
    if (this.#state !== 'draining' || this.#speakers?.pending(this.#agreement.committed, () => this.#sendFinal())) return;
    const t = transcriptOf(this.#agreement);
    const frame: FinalFrame = {
      type: 'final',
      text: t.text,
      language: this.#language ?? this.#detected,
      // word_timestamps: one chunk per word, as the pipeline gives them; otherwise segments.
      chunks: (this.#words ? this.#agreement.committed : segmentsOf(this.#agreement.committed, this.options.wordConfidence)).map((s) => ({ text: s.text, timestamp: [ms(s.start), ms(s.end)] as [number, number], ...this.#speakers?.at(s.start), ...this.#confidenceOf(s) })),
      duration_s: Math.round(toSeconds(this.#window.end) * 1000) / 1000,
      decodes: this.#decodes,
    };
    this.options.onLag?.((Date.now() - this.#endedAt) / 1000);
    this.sink.send(frame);
    this.#setState('closed', 'final sent');
    this.sink.close(this.#endClose.code, this.#endClose.reason);
  }

  #setState(next: SessionState, reason: string): void {
    if (this.#state === next) return;
    this.options.log.debug({ from: this.#state, to: next, reason }, 'session state');
    this.#state = next;
  }
}
