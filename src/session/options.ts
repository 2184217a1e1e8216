/**
 * @module SessionOptions from the server's config: decode cadence, window and session limits, the
 * prompt, the no-speech gate and the endpointing thresholds (the VAD's release threshold sits
 * 0.15 below its onset, as silero-vad's own get_speech_timestamps does).
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { defaultEndpointing, type EndpointingOptions } from './endpointing.js';
import type { SessionOptions } from './types.js';

/** Endpointing thresholds from STREAM_ENDPOINT_MS and STREAM_VAD_THRESHOLD. */
export function endpointingFrom(config: Pick<Config, 'STREAM_ENDPOINT_MS' | 'STREAM_VAD_THRESHOLD'>): EndpointingOptions {
  const threshold = config.STREAM_VAD_THRESHOLD;
  return { ...defaultEndpointing, endpointMs: config.STREAM_ENDPOINT_MS, threshold, negThreshold: Math.max(0.01, threshold - 0.15) };
}

/** The options of one session; `languages`: what the loaded model knows (empty: not checked). */
export function sessionOptionsFrom(config: Config, languages: readonly string[], log: Logger): SessionOptions {
  return {
    decodeIntervalS: config.STREAM_DECODE_INTERVAL_S,
    minDecodeIntervalS: Math.min(config.STREAM_MIN_DECODE_INTERVAL_S, config.STREAM_DECODE_INTERVAL_S),
    trimCommitted: config.STREAM_TRIM_COMMITTED === 'true',
    agreement: config.STREAM_AGREEMENT === 3 ? 3 : 2,
    ...(config.STREAM_COMMIT_POLICY === 'alignatt' ? { alignAttMarginS: config.STREAM_ALIGNATT_MARGIN_S } : {}),
    maxWindowS: config.STREAM_MAX_WINDOW_S,
    contextS: config.STREAM_CONTEXT_S,
    contextGapS: config.STREAM_CONTEXT_GAP_S,
    maxSessionS: config.WS_MAX_SESSION_S,
    promptChars: config.STREAM_PROMPT_CHARS,
    noSpeechThreshold: config.STREAM_NO_SPEECH_THRESHOLD,
    idleTimeoutMs: config.WS_IDLE_TIMEOUT_MS,
    endpointing: endpointingFrom(config),
    languages,
    log,
  };
}
