/**
 * @module One Deepgram live connection (docs/deepgram.md): Deepgram's client messages onto a
 * session, and the session's committed/tentative transcript onto Deepgram's messages. Finals
 * (`is_final`) are the committed words, each sent exactly once, in contiguous time ranges; interims
 * are the tentative rest; `speech_final` marks the final of an utterance the VAD ended, and
 * `from_finalize` the final that answers `Finalize`. No socket here: `io` sends and closes.
 */
import { createHash, type Hash } from 'node:crypto';
import { AppError, ERRORS, isErrorCode, type ErrorCode } from '../../errors.js';
import type { EndClose, FinalFrame, InterimFrame } from '../../session/types.js';
import { AudioIn } from '../adapter/audio-in.js';
import { MIN_ENDPOINT_MS, type DecodeKind, type DriverEvents, type DriverLike, type InterimInfo, type VadEvent } from '../adapter/driver.js';

export type { DriverLike } from '../adapter/driver.js';
import { finalWords, interimWords, joinText, round, type TimedWord } from '../adapter/words.js';
import type { DeepgramOptions } from './query.js';

export interface DeepgramIo {
  send(message: object): void;
  close(code: number, reason: string): void;
}

/**
 * Word confidence where the model gave none (word_timestamps decodes go through the pipeline, which
 * returns no token probabilities): the word's stability instead, agreed on by two consecutive
 * decodes, committed by one flush decode, or still tentative. Stream-window decodes carry each
 * word's probability (sidecar/engine.py), and that is what a word's `confidence` is then.
 */
export const CONFIDENCE = { agreed: 0.95, flushed: 0.85, tentative: 0.6 } as const;

/** Deepgram close reasons for our codes where Deepgram documents one (else the code itself). */
const CLOSE_AS: Partial<Record<ErrorCode, [number, string]>> = {
  idle_timeout: [1011, 'NET-0001'],
  invalid_audio: [1008, 'DATA-0000'],
};

interface DgWord {
  word: string;
  start: number;
  end: number;
  confidence: number;
  punctuated_word: string;
  speaker?: number;
}

/** Deepgram's bare word: lower case, no punctuation around it. */
export function bareWord(text: string): string {
  const bare = text.toLowerCase().replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
  return bare === '' ? text.toLowerCase() : bare;
}

export class DeepgramConnection {
  readonly #audio: AudioIn;
  readonly #sha: Hash = createHash('sha256');
  readonly #created = new Date().toISOString();
  /** Committed words already sent in finals, and the confidence each got. */
  #emitted = 0;
  /** End (s) of the time range the finals so far cover. */
  #cursor = 0;
  #lastInterim = '';
  #finalizing = false;
  #closing = false;
  #done = false;
  /** The VAD ended an utterance; the interim that shows its commit carries the speech_final final. */
  #endpointsPending = 0;
  #inSpeech = false;
  #lastWordEnd = 0;
  /** Where the VAD heard the last utterance end (s), and whether its flush has been transcribed. */
  #silenceFrom: number | undefined;
  #silenceTranscribed = false;
  #driver: DriverLike;

  constructor(
    private readonly options: DeepgramOptions,
    private readonly io: DeepgramIo,
    makeDriver: (events: DriverEvents) => DriverLike,
    private readonly meta: { requestId: string },
  ) {
    this.#audio = new AudioIn(options.encoding, options.channels);
    this.#driver = makeDriver({
      interim: (frame, decode, info) => this.#onInterim(frame, decode, info ?? { utterancesDone: 0, finalizeReply: frame.finalized === true }),
      final: (frame) => this.#onFinal(frame),
      error: (code, message) => this.#onError(code, message),
      close: (code, reason) => this.#onSessionClose(code, reason),
      vad: (event) => this.#onVad(event),
    });
    this.#driver.configure({
      language: options.language,
      detect_language: options.language === null,
      sample_rate: options.sampleRate,
      diarize: options.diarize,
      ...(options.endpointing !== false && options.endpointing !== undefined ? { endpointing_ms: Math.min(10_000, Math.max(MIN_ENDPOINT_MS, options.endpointing)) } : {}),
    });
  }

  /** A binary frame: audio (an empty one ends the stream, as old SDKs send it). */
  onBinary(bytes: Uint8Array): void {
    if (this.#done) return;
    if (bytes.byteLength === 0) return this.#closeStream();
    this.#sha.update(bytes);
    this.#driver.audio(this.#audio.push(bytes));
    this.#checkUtteranceEnd();
  }

  /** A text frame: KeepAlive, Finalize, CloseStream (Configure: not supported, said so). */
  onText(text: string): void {
    if (this.#done) return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return this.#driver.fail(new AppError('invalid_message', 'text frames must be JSON, e.g. {"type":"KeepAlive"}'));
    }
    const type = (message as { type?: unknown } | null)?.type;
    if (type === 'KeepAlive') return this.#driver.keepalive();
    if (type === 'Finalize') {
      this.#finalizing = true;
      return this.#driver.finalize();
    }
    if (type === 'CloseStream') return this.#closeStream();
    if (type === 'Configure') {
      return this.io.send({ type: 'ConfigureFailure', request_id: this.meta.requestId, code: 'CONFIGURE_KEYTERMS_NOT_SUPPORTED', description: 'Configure is not supported by this server' });
    }
    if (typeof type !== 'string') return this.#driver.fail(new AppError('invalid_message', 'a text frame needs a string "type": KeepAlive, Finalize or CloseStream'));
    this.#driver.fail(new AppError('unknown_message_type', `unknown message type ${JSON.stringify(type).slice(0, 64)}; expected KeepAlive, Finalize or CloseStream`));
  }

  /** The socket is gone. */
  onSocketClosed(): void {
    this.#done = true;
    this.#driver.closed();
  }

  /** A refusal or limit from outside the session (too large, unauthorized, shutting down). */
  fail(err: unknown): void {
    this.#driver.fail(err);
  }

  /**
   * Server drain deadline: as CloseStream (final Results for every word not yet sent, Metadata),
   * but closed with `close` (1012) so the client reconnects. A CloseStream already sent wins: that
   * stream ends normally.
   */
  drain(close: EndClose): boolean {
    if (this.#done || this.#closing) return false;
    this.#closeStream(close);
    return true;
  }

  #closeStream(close?: EndClose): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#driver.end(close);
  }

  #onVad(event: VadEvent): void {
    if (event.type === 'speech_start') {
      this.#inSpeech = true;
      this.#silenceFrom = undefined;
      if (this.options.vadEvents && !this.#closing) this.io.send({ type: 'SpeechStarted', channel: [0, 1], timestamp: round(event.at) });
    } else {
      this.#inSpeech = false;
      this.#silenceFrom = event.at;
      this.#silenceTranscribed = false;
      if (!this.#closing) this.#endpointsPending += 1;
    }
  }

  #onInterim(frame: InterimFrame, decode: DecodeKind | undefined, info: InterimInfo): void {
    const { committed, tentative } = interimWords(frame);
    let ready = committed.slice(this.#emitted);
    let held: TimedWord[] = [];
    if (this.options.diarize) {
      // A final carries its speakers, so committed words wait for their segment's label.
      const unlabelled = ready.findIndex((w) => w.speaker === null || w.speaker === undefined);
      if (unlabelled !== -1) [ready, held] = [ready.slice(0, unlabelled), ready.slice(unlabelled)];
    }
    const fromFinalize = info.finalizeReply && this.#finalizing;
    const done = info.utterancesDone > 0 && this.#endpointsPending > 0;
    const speechFinal = done && this.options.endpointing !== false;
    const reply = fromFinalize || done;
    if (fromFinalize) this.#finalizing = false;
    if (done) this.#endpointsPending = Math.max(0, this.#endpointsPending - info.utterancesDone);
    // Committed words go out at once (a speech_final final may then be empty, as Deepgram allows):
    // holding them for the utterance's flush cost about a second of final latency.
    if (done && this.#endpointsPending === 0 && this.#silenceFrom !== undefined) this.#silenceTranscribed = true;
    if (ready.length > 0 || reply) {
      const confidence = decode === 'agree' ? CONFIDENCE.agreed : CONFIDENCE.flushed;
      const until = fromFinalize && held.length === 0 ? frame.audio_s : undefined;
      if (ready.length > 0 || fromFinalize || speechFinal) this.#sendFinal(ready, confidence, { speechFinal, fromFinalize, until });
    }
    for (const w of [...held, ...tentative]) this.#lastWordEnd = Math.max(this.#lastWordEnd, w.end);
    const rest = [...held, ...tentative];
    const text = joinText(rest);
    if (this.options.interimResults && rest.length > 0 && text !== this.#lastInterim) {
      this.#lastInterim = text;
      const end = Math.max(rest[rest.length - 1]!.end, frame.decoded_s);
      this.io.send(this.#results(rest.map((w) => this.#word(w, CONFIDENCE.tentative)), this.#cursor, end, { isFinal: false, speechFinal: false, fromFinalize: false }));
    }
    this.#checkUtteranceEnd();
  }

  #onFinal(frame: FinalFrame): void {
    const rest = finalWords(frame).slice(this.#emitted);
    // A Finalize the drain overtook is answered by the drain's final.
    if (rest.length > 0 || this.#finalizing) this.#sendFinal(rest, CONFIDENCE.flushed, { speechFinal: false, fromFinalize: this.#finalizing, until: frame.duration_s });
    this.#finalizing = false;
    this.io.send({
      type: 'Metadata',
      transaction_key: 'deprecated',
      request_id: this.meta.requestId,
      sha256: this.#sha.digest('hex'),
      created: this.#created,
      duration: round(frame.duration_s),
      channels: this.options.channels,
      models: [MODEL_UUID],
      model_info: { [MODEL_UUID]: this.#modelInfo() },
    });
  }

  #onError(code: ErrorCode, message: string): void {
    this.io.send({ type: 'Error', variant: ERRORS[code].http < 500 ? 'ClientError' : 'ServerError', code, description: message, message: '' });
  }

  #onSessionClose(code: number, reason: string): void {
    this.#done = true;
    const mapped = isErrorCode(reason) ? CLOSE_AS[reason] : undefined;
    this.io.close(mapped?.[0] ?? code, mapped?.[1] ?? reason);
  }

  #sendFinal(words: TimedWord[], confidence: number, flags: { speechFinal: boolean; fromFinalize: boolean; until: number | undefined }): void {
    const start = this.#cursor;
    const lastEnd = words.length > 0 ? words[words.length - 1]!.end : start;
    const end = Math.max(start, lastEnd, flags.until ?? 0);
    this.#emitted += words.length;
    this.#cursor = end;
    this.#lastInterim = '';
    for (const w of words) this.#lastWordEnd = Math.max(this.#lastWordEnd, w.end);
    this.io.send(this.#results(words.map((w) => this.#word(w, confidence)), start, end, { isFinal: true, ...flags }));
  }

  /**
   * UtteranceEnd: `utterance_end_ms` of audio since the VAD last heard speech, once the words
   * before that silence have been transcribed (so `last_word_end` is the real last word).
   */
  #checkUtteranceEnd(): void {
    const gap = this.options.utteranceEndMs;
    if (gap === undefined || !this.options.interimResults || this.#closing || this.#inSpeech) return;
    if (this.#silenceFrom === undefined || !this.#silenceTranscribed || this.#lastWordEnd === 0) return;
    const width = this.options.encoding === 'linear16' ? 2 : 1;
    const received = this.#audio.bytes / (width * this.options.channels * this.options.sampleRate);
    if (received - Math.max(this.#silenceFrom, this.#lastWordEnd) < gap / 1000) return;
    this.#silenceFrom = undefined;
    this.io.send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: round(this.#lastWordEnd) });
  }

  #word(w: TimedWord, confidence: number): DgWord {
    return {
      word: bareWord(w.text),
      start: w.start,
      end: w.end,
      confidence: w.confidence ?? confidence,
      punctuated_word: w.text,
      ...(this.options.diarize && typeof w.speaker === 'string' ? { speaker: speakerIndex(w.speaker) } : {}),
    };
  }

  #results(words: DgWord[], start: number, end: number, flags: { isFinal: boolean; speechFinal: boolean; fromFinalize: boolean }): object {
    const transcript = words.map((w) => (this.options.punctuate ? w.punctuated_word : w.word)).join(' ');
    const confidence = words.length === 0 ? 0 : round(words.reduce((s, w) => s + w.confidence, 0) / words.length);
    return {
      type: 'Results',
      channel_index: [0, 1],
      duration: round(Math.max(0, end - start)),
      start: round(start),
      is_final: flags.isFinal,
      speech_final: flags.speechFinal,
      from_finalize: flags.fromFinalize,
      channel: { alternatives: [{ transcript, confidence, words }] },
      metadata: { request_id: this.meta.requestId, model_info: this.#modelInfo(), model_uuid: MODEL_UUID },
    };
  }

  #modelInfo() {
    return { name: this.options.model, version: 'whisper', arch: 'whisper' };
  }
}

/** A fixed id for "the loaded Whisper model" (Deepgram sends a model UUID). */
export const MODEL_UUID = '00000000-0000-4000-8000-000000000001';

/** "A" → 0, "B" → 1, ..., "AA" → 26 (the inverse of sidecar/protocol.ts speakerLabel). */
export function speakerIndex(label: string): number {
  let n = 0;
  for (const ch of label) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}
