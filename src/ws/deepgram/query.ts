/**
 * @module Deepgram live query parameters (`/v1/listen?...`), parsed leniently as Deepgram does:
 * unknown parameters are ignored (LiveKit sends `no_delay`, `filler_words`, ...), a known one with
 * a bad value is an error the route answers with HTTP 400 before the upgrade. Pure.
 */

export type DeepgramEncoding = 'linear16' | 'mulaw' | 'alaw';

export interface DeepgramOptions {
  encoding: DeepgramEncoding;
  sampleRate: number;
  channels: number;
  /** ISO 639-1 code for Whisper; null: detect (`multi`, or no language given with detect_language). */
  language: string | null;
  interimResults: boolean;
  /** punctuate or smart_format: transcripts keep Whisper's punctuation and casing. */
  punctuate: boolean;
  /** Pause in ms that ends an utterance (speech_final); false: no speech_final; undefined: the server's STREAM_ENDPOINT_MS. */
  endpointing: number | false | undefined;
  utteranceEndMs: number | undefined;
  vadEvents: boolean;
  diarize: boolean;
  model: string;
  /** Words to pass to Whisper as its prompt (keyterm / keywords). */
  keyterms: string[];
}

/** Encodings Deepgram accepts that this server does not decode. */
const UNSUPPORTED_ENCODINGS = new Set(['linear32', 'flac', 'amr-nb', 'amr-wb', 'opus', 'ogg-opus', 'speex', 'g729']);

export class QueryError extends Error {
  constructor(readonly param: string, message: string) {
    super(message);
  }
}

function bool(params: URLSearchParams, name: string, fallback: boolean): boolean {
  const v = params.get(name);
  if (v === null || v === '') return fallback;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new QueryError(name, `${name} must be true or false, not ${JSON.stringify(v)}`);
}

function int(params: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const v = params.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new QueryError(name, `${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(v)}`);
  return Number(v);
}

/** The session options of a query string, or a QueryError naming the bad parameter. */
export function parseListenQuery(params: URLSearchParams, languages: readonly string[] = []): DeepgramOptions {
  const encoding = params.get('encoding') || 'linear16';
  if (UNSUPPORTED_ENCODINGS.has(encoding)) throw new QueryError('encoding', `encoding ${encoding} is not supported here; send linear16, mulaw or alaw`);
  if (encoding !== 'linear16' && encoding !== 'mulaw' && encoding !== 'alaw') throw new QueryError('encoding', `unknown encoding ${JSON.stringify(encoding).slice(0, 40)}; expected linear16, mulaw or alaw`);
  const sampleRate = int(params, 'sample_rate', 8_000, 48_000) ?? (encoding === 'linear16' ? 16_000 : 8_000);
  const channels = int(params, 'channels', 1, 8) ?? 1;
  const language = parseLanguage(params.get('language'), languages);
  const endpointingRaw = params.get('endpointing');
  // Deepgram's default is 10 ms; a client that names none gets the server's own (STREAM_ENDPOINT_MS).
  let endpointing: number | false | undefined;
  if (endpointingRaw === 'false') endpointing = false;
  else if (endpointingRaw !== null && endpointingRaw !== '' && endpointingRaw !== 'true') endpointing = int(params, 'endpointing', 0, 60_000)!;
  const interimResults = bool(params, 'interim_results', false);
  const utteranceEndMs = int(params, 'utterance_end_ms', 0, 60_000);
  const keyterms = [...params.getAll('keyterm'), ...params.getAll('keywords').map((k) => k.replace(/:[-\d.]+$/, ''))].filter(Boolean);
  return {
    encoding,
    sampleRate,
    channels,
    language,
    interimResults,
    punctuate: bool(params, 'punctuate', false) || bool(params, 'smart_format', false),
    endpointing,
    utteranceEndMs,
    vadEvents: bool(params, 'vad_events', false),
    diarize: bool(params, 'diarize', false),
    model: params.get('model') || 'whisper',
    keyterms,
  };
}

/** BCP-47 (`en`, `en-US`, `pt-BR`) → the ISO 639-1 code Whisper takes; `multi` → detect. */
function parseLanguage(raw: string | null, languages: readonly string[]): string | null {
  if (raw === null || raw === '') return 'en'; // Deepgram's default
  if (raw === 'multi') return null;
  const m = /^([a-zA-Z]{2,3})(?:-[a-zA-Z0-9]{2,8})*$/.exec(raw);
  const code = m?.[1]?.toLowerCase();
  if (!code || (languages.length > 0 && !languages.includes(code))) throw new QueryError('language', `language ${JSON.stringify(raw).slice(0, 40)} is not one the model knows; use a BCP-47 tag such as en or en-US, or multi`);
  return code;
}
