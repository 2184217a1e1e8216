/**
 * @module OpenAI Realtime transcription sessions (docs/realtime.md): the two dialects (GA, and the
 * beta one chosen by the `OpenAI-Beta: realtime=v1` header or the `openai-beta.realtime-v1`
 * subprotocol), the session configuration both express, and how a `session.update` /
 * `transcription_session.update` changes it. A bad field is an EventError naming it as `param`. Pure.
 */

export type Dialect = 'ga' | 'beta';

export type AudioFormat = 'pcm16' | 'g711_ulaw' | 'g711_alaw';

export interface TurnDetection {
  type: 'server_vad';
  threshold: number;
  prefix_padding_ms: number;
  silence_duration_ms: number;
}

export interface RealtimeConfig {
  format: AudioFormat;
  model: string;
  /** ISO 639-1, or null: the model detects it. */
  language: string | null;
  prompt: string;
  /** null: the client commits (`input_audio_buffer.commit`). */
  turnDetection: TurnDetection | null;
  include: string[];
}

export const DEFAULT_TURN_DETECTION: TurnDetection = { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 };

export function defaultConfig(model: string | null): RealtimeConfig {
  return { format: 'pcm16', model: model ?? 'whisper-1', language: null, prompt: '', turnDetection: { ...DEFAULT_TURN_DETECTION }, include: [] };
}

/** A client event that cannot be applied: `code` is ours (src/errors.ts), `param` the field. */
export class EventError extends Error {
  constructor(readonly code: 'invalid_event' | 'unknown_event' | 'input_audio_buffer_commit_empty', readonly param: string | null, message: string) {
    super(message);
  }
}

/** Beta when the client asks for it by header or subprotocol. */
export function realtimeDialect(betaHeader: string | undefined, protocols: string | undefined): Dialect {
  if (/realtime=v1/.test(betaHeader ?? '')) return 'beta';
  return (protocols ?? '').split(',').some((p) => p.trim() === 'openai-beta.realtime-v1') ? 'beta' : 'ga';
}

/** PCM rate of a format as the client sends it. */
export const rateOf = (format: AudioFormat): number => (format === 'pcm16' ? 24_000 : 8_000);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function num(v: unknown, param: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new EventError('invalid_event', param, `${param} must be a number from ${min} to ${max}`);
  return v;
}

function turnDetectionOf(v: unknown, param: string, current: TurnDetection | null): TurnDetection | null {
  if (v === null) return null;
  if (!isObject(v)) throw new EventError('invalid_event', param, `${param} must be an object or null`);
  const type = v.type ?? 'server_vad';
  if (type === 'semantic_vad') throw new EventError('invalid_event', `${param}.type`, 'semantic_vad is not supported; use server_vad or null');
  if (type !== 'server_vad') throw new EventError('invalid_event', `${param}.type`, `unknown turn_detection type ${JSON.stringify(type).slice(0, 40)}`);
  const base = current ?? DEFAULT_TURN_DETECTION;
  return {
    type: 'server_vad',
    threshold: v.threshold === undefined ? base.threshold : num(v.threshold, `${param}.threshold`, 0, 1),
    prefix_padding_ms: v.prefix_padding_ms === undefined ? base.prefix_padding_ms : num(v.prefix_padding_ms, `${param}.prefix_padding_ms`, 0, 10_000),
    silence_duration_ms: v.silence_duration_ms === undefined ? base.silence_duration_ms : num(v.silence_duration_ms, `${param}.silence_duration_ms`, 0, 10_000),
  };
}

function transcriptionOf(v: unknown, param: string, config: RealtimeConfig, languages: readonly string[]): Pick<RealtimeConfig, 'model' | 'language' | 'prompt'> {
  if (v === null || v === undefined) return config;
  if (!isObject(v)) throw new EventError('invalid_event', param, `${param} must be an object`);
  let { model, language, prompt } = config;
  if (v.model !== undefined) {
    if (typeof v.model !== 'string') throw new EventError('invalid_event', `${param}.model`, 'model must be a string');
    model = v.model;
  }
  if (v.language !== undefined && v.language !== null && v.language !== '') {
    if (typeof v.language !== 'string' || !/^[a-z]{2,3}$/.test(v.language) || (languages.length > 0 && !languages.includes(v.language))) {
      throw new EventError('invalid_event', `${param}.language`, `language ${JSON.stringify(v.language).slice(0, 40)} is not an ISO 639-1 code the model knows`);
    }
    language = v.language;
  } else if (v.language === null || v.language === '') language = null;
  if (v.prompt !== undefined) {
    if (typeof v.prompt !== 'string') throw new EventError('invalid_event', `${param}.prompt`, 'prompt must be a string');
    prompt = v.prompt;
  }
  return { model, language, prompt };
}

/** The configuration after a GA `session.update` (its `session` field). */
export function applyGaUpdate(config: RealtimeConfig, session: unknown, languages: readonly string[]): RealtimeConfig {
  if (!isObject(session)) throw new EventError('invalid_event', 'session', 'session must be an object');
  if (session.type !== undefined && session.type !== 'transcription') throw new EventError('invalid_event', 'session.type', `this server runs transcription sessions only; session.type must be "transcription", not ${JSON.stringify(session.type).slice(0, 40)}`);
  let next = { ...config };
  const audio = session.audio;
  if (audio !== undefined) {
    if (!isObject(audio)) throw new EventError('invalid_event', 'session.audio', 'session.audio must be an object');
    const input = audio.input;
    if (input !== undefined) {
      if (!isObject(input)) throw new EventError('invalid_event', 'session.audio.input', 'session.audio.input must be an object');
      if (input.format !== undefined) next.format = gaFormat(input.format);
      next = { ...next, ...transcriptionOf(input.transcription, 'session.audio.input.transcription', next, languages) };
      if ('turn_detection' in input) next.turnDetection = turnDetectionOf(input.turn_detection, 'session.audio.input.turn_detection', next.turnDetection);
    }
  }
  if (session.include !== undefined) next.include = includeOf(session.include, 'session.include');
  return next;
}

/** The configuration after a beta `transcription_session.update` (its `session` field). */
export function applyBetaUpdate(config: RealtimeConfig, session: unknown, languages: readonly string[]): RealtimeConfig {
  if (!isObject(session)) throw new EventError('invalid_event', 'session', 'session must be an object');
  let next = { ...config };
  if (session.input_audio_format !== undefined) {
    const f = session.input_audio_format;
    if (f !== 'pcm16' && f !== 'g711_ulaw' && f !== 'g711_alaw') throw new EventError('invalid_event', 'session.input_audio_format', 'input_audio_format must be pcm16, g711_ulaw or g711_alaw');
    next.format = f;
  }
  next = { ...next, ...transcriptionOf(session.input_audio_transcription, 'session.input_audio_transcription', next, languages) };
  if ('turn_detection' in session) next.turnDetection = turnDetectionOf(session.turn_detection, 'session.turn_detection', next.turnDetection);
  if (session.include !== undefined) next.include = includeOf(session.include, 'session.include');
  return next;
}

function gaFormat(v: unknown): AudioFormat {
  const param = 'session.audio.input.format';
  if (!isObject(v)) throw new EventError('invalid_event', param, `${param} must be an object such as {"type":"audio/pcm","rate":24000}`);
  if (v.type === 'audio/pcm') {
    if (v.rate !== undefined && v.rate !== 24_000) throw new EventError('invalid_event', `${param}.rate`, 'audio/pcm is 24000 Hz only');
    return 'pcm16';
  }
  if (v.type === 'audio/pcmu') return 'g711_ulaw';
  if (v.type === 'audio/pcma') return 'g711_alaw';
  throw new EventError('invalid_event', `${param}.type`, `unsupported format ${JSON.stringify(v.type).slice(0, 40)}; expected audio/pcm, audio/pcmu or audio/pcma`);
}

function includeOf(v: unknown, param: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new EventError('invalid_event', param, `${param} must be an array of strings`);
  return v as string[];
}

/** The session object of `session.created|updated` (GA) or `transcription_session.*` (beta). */
export function sessionObject(dialect: Dialect, id: string, config: RealtimeConfig, expiresAt: number): object {
  const transcription = { model: config.model, language: config.language, prompt: config.prompt };
  if (dialect === 'beta') {
    return {
      id,
      object: 'realtime.transcription_session',
      expires_at: expiresAt,
      modalities: ['text'],
      input_audio_format: config.format,
      input_audio_transcription: transcription,
      turn_detection: config.turnDetection,
      input_audio_noise_reduction: null,
      include: config.include,
    };
  }
  const format = config.format === 'pcm16' ? { type: 'audio/pcm', rate: 24_000 } : { type: config.format === 'g711_ulaw' ? 'audio/pcmu' : 'audio/pcma' };
  return {
    type: 'transcription',
    id,
    object: 'realtime.transcription_session',
    expires_at: expiresAt,
    audio: { input: { format, transcription, turn_detection: config.turnDetection, noise_reduction: null } },
    include: config.include,
  };
}

/** Strict base64 (what `input_audio_buffer.append` carries). */
export function decodeBase64(text: unknown): Uint8Array {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new EventError('invalid_event', 'audio', 'audio must be base64 of the session\'s audio format');
  return new Uint8Array(Buffer.from(text, 'base64'));
}
