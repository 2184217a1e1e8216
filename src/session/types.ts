/**
 * @module What a session exchanges with its transport: the options a client may set, the frames it
 * is sent, and the sink it sends them through. The client options' schema is client-config.ts
 * (ws/messages.ts validates client frames with it); session/ never sees a socket.
 */
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { ItemResult, TranscribeItem } from '../sidecar/protocol.js';
import type { EndpointingOptions } from './endpointing.js';
import type { SpeakerLabeller } from './speakers.js';
export type { SpeakerLabeller };

export type { ClientConfig } from './client-config.js';

/** A timed piece of the transcript on the session timeline (seconds since the first sample). */
export interface SegmentFrame {
  text: string;
  start: number;
  end: number;
  committed: boolean;
  /** With diarize: the speaker ("A", "B", ...) of a committed segment; null until it is known. */
  speaker?: string | null;
  /** With SessionOptions.wordConfidence: each word's probability from the model, in order. */
  confidence?: number[];
}

/** How far decoding lags behind the audio received. */
export interface ProgressFields {
  /** Seconds of audio received. */
  audio_s: number;
  /** Seconds of audio the latest hypothesis covers. */
  decoded_s: number;
  /** audio_s − decoded_s. */
  lag_s: number;
  /** Seconds of new audio between the last two decodes: the update interval the load allows. */
  interval_s: number;
}

/** `interim`: the whole transcript so far; `committed` never changes, `tentative` may. */
export interface InterimFrame extends ProgressFields {
  type: 'interim';
  text: string;
  committed: string;
  tentative: string;
  segments: SegmentFrame[];
  language: string | null;
  /** True on the reply to `finalize`: everything so far is committed. */
  finalized?: true;
}

/** `final`: the brief's fields (text, language, chunks) plus the session's figures. */
export interface FinalFrame {
  type: 'final';
  text: string;
  language: string | null;
  chunks: Array<{ text: string; timestamp: [number, number]; speaker?: string | null; confidence?: number[] }>;
  duration_s: number;
  decodes: number;
}

export interface ErrorFrame {
  type: 'error';
  code: ErrorCode;
  message: string;
}

/** Every frame the server sends. */
export type ServerFrame = InterimFrame | FinalFrame | ErrorFrame;

/** How a session talks back; route.ts implements it over the socket. */
export interface SessionSink {
  send(frame: ServerFrame): void;
  close(code: number, reason: string): void;
}

/** The model side a session needs; transcriber.ts builds it from the scheduler. */
export interface Transcriber {
  /** `flush`: the decode commits an utterance or ends the session, so it goes ahead of re-decodes. */
  decode(item: TranscribeItem, timestamps: true | 'word', flush: boolean): Promise<ItemResult>;
  /** Speech probability per 512-sample frame of 16 kHz s16le audio; `urgent` (draining or flushing) goes first. */
  vad(audio: Uint8Array, urgent?: boolean): Promise<Float32Array>;
  speakers?(onError: (err: unknown) => void): SpeakerLabeller; // labels for diarize sessions (speakers.ts)
  /** Milliseconds until an ordinary re-decode would go to the model (the stream share while files wait); 0 or absent: now. */
  holdMs?(): number;
}

export interface SessionOptions {
  decodeIntervalS: number;
  /** The cadence follows the last decode's time (queueing included) down to this (= decodeIntervalS: fixed cadence). */
  minDecodeIntervalS: number;
  /** LocalAgreement-n: a word is committed once this many consecutive hypotheses agree on it. */
  agreement: 2 | 3;
  /**
   * AlignAtt beside LocalAgreement (STREAM_COMMIT_POLICY=alignatt): a word is also committed on its
   * first decode when the model wrote it listening at least this many seconds before the window's
   * end (STREAM_ALIGNATT_MARGIN_S). Undefined: LocalAgreement only.
   */
  alignAttMarginS?: number;
  /** After a commit, start the window at the last committed word instead of the last committed segment end. */
  trimCommitted: boolean;
  maxWindowS: number;
  /**
   * Seconds of committed speech a window keeps before its new audio (0: none, the window starts at
   * the last committed segment end or utterance end), across pauses up to `contextGapS`.
   */
  contextS: number;
  /** A pause longer than this (s) drops the context: the next utterance's window starts fresh. */
  contextGapS: number;
  /** Segments and final chunks carry each word's model probability (the protocol adapters ask; /ws/transcribe does not). */
  wordConfidence?: boolean;
  maxSessionS: number;
  /** Committed text carried into each decode as Whisper's prompt, in characters (0: none). */
  promptChars: number;
  /** Drop a window Whisper itself rates as no speech above this (0: never). */
  noSpeechThreshold: number;
  idleTimeoutMs: number;
  endpointing: EndpointingOptions;
  /** Languages the loaded model knows; empty: not checked. */
  languages: readonly string[];
  log: Logger;
  /** Told each real-time lag the session reports: an interim's lag_s, and at the final the seconds from `end` to it (the server's metrics). */
  onLag?(seconds: number): void;
  /** Told each endpointer event as the session's VAD finds it (`at`: seconds on the session timeline): the protocol adapters' speech events. */
  onSpeechEvent?(event: { type: 'speech_start' | 'utterance_end'; at: number }): void;
}

/** How a session closes after its final: 1000 after the client's `end`; 1012 when a server drain ended it. */
export interface EndClose {
  code: number;
  reason: string;
}
