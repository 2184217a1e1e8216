/**
 * @module One OpenAI Realtime transcription session (docs/realtime.md) over one Session. Items are
 * turns: with `server_vad` the session's own VAD ends them (speech_started / speech_stopped, then an
 * automatic commit); with `turn_detection: null` the client's `input_audio_buffer.commit` does. A
 * commit is a session `finalize`, whose reply completes the item. Deltas are committed words only
 * (append-only, never taken back), sent as soon as the session commits them, so they arrive while
 * audio is still being sent; `completed` has the item's whole transcript. Words belong to the item
 * whose audio they start in. No socket here: `io` sends and closes.
 */
import { randomUUID } from 'node:crypto';
import { AppError, ERRORS, type ErrorCode } from '../../errors.js';
import type { EndClose, FinalFrame, InterimFrame } from '../../session/types.js';
import { AudioIn } from '../adapter/audio-in.js';
import { MIN_ENDPOINT_MS, type DecodeKind, type DriverEvents, type DriverLike, type DriverTuning, type InterimInfo, type VadEvent } from '../adapter/driver.js';

export type { DriverLike } from '../adapter/driver.js';
import { finalWords, interimWords, round, type TimedWord } from '../adapter/words.js';
import { applyBetaUpdate, applyGaUpdate, decodeBase64, defaultConfig, EventError, rateOf, sessionObject, type Dialect, type RealtimeConfig } from './events.js';

export interface RealtimeIo {
  send(event: object): void;
  close(code: number, reason: string): void;
}

interface Item {
  id: string;
  previous: string | null;
  /** Audio (s, session timeline) where the item starts; its end once committed. */
  from: number;
  until: number | undefined;
  words: TimedWord[];
  /** Sent `committed` (+ item added); waiting for its transcript. */
  committed: boolean;
  /** Ended by the client's commit (a session finalize answers it), else by the VAD (the utterance's commit does). */
  manual: boolean;
  /** Finalizes asked again because words of its audio were still tentative. */
  retries: number;
}

/** Client events this server takes; conversation events of voice sessions are refused, the socket kept. */
const EVENTS = new Set(['session.update', 'transcription_session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', 'input_audio_buffer.clear']);

export class RealtimeConnection {
  #config: RealtimeConfig;
  readonly #sessionId = `sess_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
  readonly #expiresAt = Math.floor(Date.now() / 1000) + 3600;
  #driver: DriverLike | undefined;
  #audio: AudioIn | undefined;
  #events = 0;
  #items: Item[] = [];
  #open: Item | undefined;
  #lastCommitted: string | null = null;
  /** Committed words of the session handed to items so far. */
  #taken = 0;
  #finalizing = false;
  /** Commits waiting for the finalize in flight to be answered. */
  #queued = 0;
  /** Audio seconds received (session timeline). */
  #received = 0;
  #committedUntil = 0;
  /** Words starting before this (s) were cleared with the buffer. */
  #clearedUntil = 0;
  #done = false;

  constructor(
    private readonly dialect: Dialect,
    private readonly io: RealtimeIo,
    private readonly makeDriver: (events: DriverEvents, tuning?: DriverTuning) => DriverLike,
    private readonly meta: { model: string | null; languages: readonly string[] },
  ) {
    this.#config = defaultConfig(meta.model);
    this.#emit(dialect === 'beta' ? 'transcription_session.created' : 'session.created', { session: this.#sessionObject() });
  }

  onBinary(_bytes: Uint8Array): void {
    this.#error(new EventError('invalid_event', null, 'binary frames are not part of this protocol; send audio as base64 in input_audio_buffer.append'));
  }

  onText(text: string): void {
    if (this.#done) return;
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch {
      return this.#error(new EventError('invalid_event', null, 'events must be JSON objects'));
    }
    const clientEventId = typeof (event as { event_id?: unknown } | null)?.event_id === 'string' ? (event as { event_id: string }).event_id : null;
    try {
      this.#handle(event, clientEventId);
    } catch (err) {
      if (err instanceof EventError) return this.#error(err, clientEventId);
      throw err;
    }
  }

  onSocketClosed(): void {
    this.#done = true;
    this.#driver?.closed();
  }

  /** A refusal or limit from outside (too large, too many sessions, shutting down): error, then close. */
  fail(err: unknown): void {
    const error = err instanceof AppError ? err : new AppError('internal_error');
    if (this.#driver) return this.#driver.fail(error); // the session sends the error and closes
    this.#sendError(error.code, error.message, null, null);
    const close = ERRORS[error.code].wsClose;
    if (close !== undefined) {
      this.#done = true;
      this.io.close(close, error.code);
    }
  }

  /**
   * Server drain deadline: the item in progress is committed, the session's own
   * end path commits every word heard, and the final hands the last words to their items, each then
   * `completed`; the session then closes with `close` (1012) so the client reconnects.
   */
  drain(close: EndClose): boolean {
    if (this.#done || this.#draining) return false;
    this.#draining = true;
    if (!this.#driver) {
      this.#done = true;
      this.io.close(close.code, close.reason);
      return true;
    }
    if (this.#open) this.#commitItem(false); // speech began (server VAD) or words came: the pending item
    this.#driver.end(close);
    return true;
  }

  #draining = false;

  #onFinal(frame: FinalFrame): void {
    if (!this.#draining) return; // the session never ends by itself here: items end by finalize
    for (const word of finalWords(frame).slice(this.#taken)) this.#take(word);
    this.#taken = Number.POSITIVE_INFINITY;
    if (this.#open && this.#open.words.length > 0) this.#commitItem(false); // a word timed past the last item's end
    while (this.#items.some((i) => i.committed)) this.#complete((i) => i.committed);
  }

  #handle(event: unknown, clientEventId: string | null): void {
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new EventError('invalid_event', null, 'events must be JSON objects with a "type"');
    const e = event as Record<string, unknown>;
    if (typeof e.type !== 'string') throw new EventError('invalid_event', 'type', 'an event needs a string "type"');
    if (!EVENTS.has(e.type)) throw new EventError('unknown_event', 'type', `${JSON.stringify(e.type).slice(0, 64)} is not supported in a transcription session; send session.update or input_audio_buffer.append|commit|clear`);
    switch (e.type) {
      case 'session.update':
      case 'transcription_session.update':
        return this.#update(e.type === 'session.update' ? applyGaUpdate(this.#config, e.session, this.meta.languages) : applyBetaUpdate(this.#config, e.session, this.meta.languages));
      case 'input_audio_buffer.append':
        return this.#append(decodeBase64(e.audio));
      case 'input_audio_buffer.commit':
        return this.#commit(clientEventId);
      default:
        return this.#clear();
    }
  }

  #update(next: RealtimeConfig): void {
    if (this.#driver) {
      // The session was set up by the first audio: what it fixed cannot change any more.
      const fixed: Array<[keyof RealtimeConfig, string]> = [['format', 'format'], ['language', 'transcription.language'], ['turnDetection', 'turn_detection']];
      for (const [key, name] of fixed) {
        if (JSON.stringify(next[key]) !== JSON.stringify(this.#config[key])) throw new EventError('invalid_event', `session.${this.dialect === 'ga' ? 'audio.input.' : ''}${name}`, `${name} cannot change after the first audio; open a new session`);
      }
    }
    this.#config = next;
    this.#emit(this.dialect === 'beta' ? 'transcription_session.updated' : 'session.updated', { session: this.#sessionObject() });
  }

  #start(): DriverLike {
    const c = this.#config;
    this.#audio = new AudioIn(c.format === 'pcm16' ? 'linear16' : c.format === 'g711_ulaw' ? 'mulaw' : 'alaw');
    const driver = this.makeDriver({
      interim: (frame, decode, info) => this.#onInterim(frame, decode, info),
      final: (frame) => this.#onFinal(frame),
      error: (code, message) => this.#onSessionError(code, message),
      close: (code, reason) => {
        this.#done = true;
        this.io.close(code, reason);
      },
      vad: (event) => this.#onVad(event),
    }, c.turnDetection ? { vadThreshold: c.turnDetection.threshold } : undefined);
    driver.configure({
      language: c.language,
      detect_language: c.language === null,
      sample_rate: rateOf(c.format),
      ...(c.turnDetection ? { endpointing_ms: Math.min(10_000, Math.max(MIN_ENDPOINT_MS, c.turnDetection.silence_duration_ms)) } : {}),
    });
    this.#driver = driver;
    return driver;
  }

  #append(bytes: Uint8Array): void {
    const driver = this.#driver ?? this.#start();
    const pcm = this.#audio!.push(bytes);
    this.#received += pcm.byteLength / 2 / rateOf(this.#config.format);
    driver.audio(pcm);
  }

  #commit(clientEventId: string | null): void {
    const buffered = this.#received - this.#committedUntil;
    if (!this.#driver || buffered < 0.1) {
      throw new EventError('input_audio_buffer_commit_empty', null, `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${(buffered * 1000).toFixed(2)}ms of audio.`);
    }
    void clientEventId;
    this.#commitItem(true);
  }

  #clear(): void {
    this.#clearedUntil = this.#received;
    this.#committedUntil = this.#received;
    if (this.#open) this.#open.words = [];
    this.#emit('input_audio_buffer.cleared', {});
  }

  /** The open item ends at the audio received so far: committed + item added; a manual commit then finalizes. */
  #commitItem(manual: boolean): void {
    const item = this.#openItem();
    item.until = this.#received;
    item.committed = true;
    item.manual = manual;
    this.#committedUntil = this.#received;
    this.#open = undefined;
    this.#lastCommitted = item.id;
    this.#emit('input_audio_buffer.committed', { previous_item_id: item.previous, item_id: item.id });
    const added = { previous_item_id: item.previous, item: { id: item.id, object: 'realtime.item', type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_audio', transcript: null }] } };
    this.#emit(this.dialect === 'beta' ? 'conversation.item.created' : 'conversation.item.added', added);
    if (!manual) return; // the session commits the utterance the VAD ended by itself
    if (this.#finalizing) this.#queued += 1;
    else {
      this.#finalizing = true;
      this.#driver!.finalize();
    }
  }

  #openItem(): Item {
    if (!this.#open) {
      this.#open = { id: `item_${randomUUID().replace(/-/g, '').slice(0, 20)}`, previous: this.#lastCommitted, from: this.#committedUntil, until: undefined, words: [], committed: false, manual: false, retries: 0 };
      this.#items.push(this.#open);
      this.#lastCommitted = this.#open.id;
    }
    return this.#open;
  }

  #onVad(event: VadEvent): void {
    const vad = this.#config.turnDetection;
    if (!vad || this.#done) return;
    if (event.type === 'speech_start') {
      if (this.#speaking) return;
      this.#speaking = true;
      const item = this.#openItem();
      this.#emit('input_audio_buffer.speech_started', { audio_start_ms: Math.max(0, Math.round(event.at * 1000 - vad.prefix_padding_ms)), item_id: item.id });
    } else if (this.#speaking) {
      this.#speaking = false;
      const item = this.#openItem();
      this.#emit('input_audio_buffer.speech_stopped', { audio_end_ms: Math.round(event.at * 1000), item_id: item.id });
      this.#commitItem(false);
    }
  }

  #speaking = false;

  #onInterim(frame: InterimFrame, _decode: DecodeKind | undefined, info: InterimInfo | undefined): void {
    const { committed, tentative } = interimWords(frame);
    for (const word of committed.slice(this.#taken)) this.#take(word);
    this.#taken = committed.length;
    for (let n = 0; n < (info?.utterancesDone ?? 0); n++) this.#complete((i) => !i.manual);
    if (info ? info.finalizeReply : frame.finalized) this.#onFinalized(tentative);
  }

  /** Hand a newly committed word to the item whose audio it starts in, as a delta. */
  #take(word: TimedWord): void {
    if (word.start < this.#clearedUntil) return;
    const mid = (word.start + word.end) / 2;
    const item = this.#items.find((i) => i.until !== undefined && mid < i.until) ?? this.#openItem();
    const delta = item.words.length === 0 ? word.text : ` ${word.text}`;
    item.words.push(word);
    this.#emit('conversation.item.input_audio_transcription.delta', { item_id: item.id, content_index: 0, delta });
  }

  /** The finalize in flight is answered: every word of the oldest manually committed item is in. */
  #onFinalized(tentative: TimedWord[]): void {
    const item = this.#items.find((i) => i.committed && i.manual);
    // A window decode that stopped early leaves words of the item's audio tentative: finalize again
    // (twice at most, as the session's own drain retries) so they land in this item, not the next.
    if (item && item.retries < 2 && tentative.some((w) => (w.start + w.end) / 2 < (item.until ?? 0))) {
      item.retries += 1;
      this.#driver!.finalize();
      return;
    }
    this.#finalizing = false;
    this.#complete((i) => i.manual);
    if (this.#queued > 0) {
      this.#queued -= 1;
      this.#finalizing = true;
      this.#driver!.finalize();
    }
  }

  /** The oldest committed item of a kind has all its words: completed (GA: and item done). */
  #complete(kind: (item: Item) => boolean): void {
    const item = this.#items.find((i) => i.committed && kind(i));
    if (item) {
      this.#items.splice(this.#items.indexOf(item), 1);
      const transcript = item.words.map((w) => w.text).join(' ');
      const seconds = round(Math.max(0, (item.until ?? this.#received) - item.from));
      this.#emit('conversation.item.input_audio_transcription.completed', { item_id: item.id, content_index: 0, transcript, usage: { type: 'duration', seconds } });
      if (this.dialect === 'ga') {
        this.#emit('conversation.item.done', { previous_item_id: item.previous, item: { id: item.id, object: 'realtime.item', type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_audio', transcript }] } });
      }
    }
  }

  #onSessionError(code: ErrorCode, message: string): void {
    // Items waiting for their transcript will not get one.
    for (const item of this.#items.filter((i) => i.committed)) {
      this.#emit('conversation.item.input_audio_transcription.failed', { item_id: item.id, content_index: 0, error: { type: 'transcription_error', code, message, param: null } });
    }
    this.#items = this.#items.filter((i) => !i.committed);
    this.#sendError(code, message, null, null);
  }

  #error(err: EventError, clientEventId: string | null = null): void {
    this.#sendError(err.code, err.message, err.param, clientEventId);
  }

  #sendError(code: string, message: string, param: string | null, clientEventId: string | null): void {
    const server = code in ERRORS && ERRORS[code as ErrorCode].http >= 500;
    this.#emit('error', { error: { type: server ? 'server_error' : 'invalid_request_error', code, message, param, event_id: clientEventId } });
  }

  #sessionObject(): object {
    return sessionObject(this.dialect, this.#sessionId, this.#config, this.#expiresAt);
  }

  #emit(type: string, body: object): void {
    if (this.#done && type !== 'error') return;
    this.#events += 1;
    this.io.send({ type, event_id: `event_${this.#sessionId.slice(5, 13)}${this.#events}`, ...body });
  }
}
