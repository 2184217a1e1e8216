/**
 * @module POST /v1/audio/transcriptions and /v1/audio/translations: OpenAI's multipart fields and
 * response formats, so the official SDKs work with our base URL. Extensions (ignored by OpenAI
 * clients): `mode` = pipeline | sequential | vad picks the long-form mode, `vad=true` is mode vad,
 * and `stream=true` sends progress and partial text as server-sent events while the file decodes.
 * Bad uploads are answered 400/413 before any model work; the body limit is enforced while the
 * body arrives, so an oversized upload is never buffered.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { Config } from '../config.js';
import { AppError, toAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { decodeUpload, transcribePcm, type FileJobDeps, type FileJobRequest } from '../files/job.js';
import { formatTranscript, RESPONSE_FORMATS } from '../files/formats.js';
import type { HealthSource } from './health.js';

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');

/** The form fields, as OpenAI documents them (plus our extensions). */
export const fieldsSchema = z.object({
  model: z.string().min(1, 'model is required'),
  language: z.string().regex(/^[a-z]{2,3}$/, 'language must be an ISO-639-1 code such as "en"').optional(),
  prompt: z.string().max(2000).optional(),
  response_format: z.enum(RESPONSE_FORMATS).default('json'),
  temperature: z.coerce.number().min(0).max(1).default(0),
  timestamp_granularities: z.array(z.enum(['word', 'segment'])).default([]),
  mode: z.enum(['pipeline', 'sequential', 'vad']).optional(),
  vad: bool.optional(),
  stream: bool.default(false),
  // Speaker labels (docs/files.md): diarize=true, or response_format=diarized_json; optional count hints.
  diarize: bool.optional(),
  num_speakers: z.coerce.number().int().min(1).max(32).optional(),
  min_speakers: z.coerce.number().int().min(1).max(32).optional(),
  max_speakers: z.coerce.number().int().min(1).max(32).optional(),
});

export interface TranscriptionDeps {
  config: Config;
  sidecar: HealthSource;
  files: FileJobDeps;
  log: Logger;
}

function one(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

/** Multipart body → validated fields and the file's bytes. */
async function readForm(c: Context, languages: readonly string[]) {
  let body: Record<string, unknown>;
  try {
    body = await c.req.parseBody({ all: true });
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('invalid_request', 'expected a multipart/form-data body with a file field');
  }
  const file = one(body.file);
  if (!(file instanceof File)) throw new AppError('invalid_request', 'the file field is required and must be a file upload');
  const granularities = body['timestamp_granularities[]'] ?? body.timestamp_granularities;
  const raw = Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'file' && !k.startsWith('timestamp_granularities')).map(([k, v]) => [k, one(v)]));
  const parsed = fieldsSchema.safeParse({ ...raw, timestamp_granularities: granularities === undefined ? undefined : [granularities].flat() });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError('invalid_request', `${issue.path.join('.') || 'form'}: ${issue.message}`);
  }
  const fields = parsed.data;
  if (fields.language && languages.length > 0 && !languages.includes(fields.language)) {
    throw new AppError('invalid_request', `language "${fields.language}" is not one the model knows`);
  }
  if (fields.timestamp_granularities.length > 0 && fields.response_format !== 'verbose_json') {
    throw new AppError('invalid_request', 'timestamp_granularities needs response_format verbose_json');
  }
  if (fields.stream && (fields.diarize || fields.response_format === 'diarized_json')) {
    throw new AppError('invalid_request', 'diarize does not work with stream=true');
  }
  if ((fields.min_speakers ?? 1) > (fields.max_speakers ?? 32)) {
    throw new AppError('invalid_request', 'min_speakers is over max_speakers');
  }
  if (fields.stream && !['json', 'text'].includes(fields.response_format)) {
    throw new AppError('invalid_request', 'stream=true works with response_format json or text');
  }
  return { fields, data: new Uint8Array(await file.arrayBuffer()) };
}

function handler(task: FileJobRequest['task'], deps: TranscriptionDeps) {
  return async (c: Context) => {
    const languages = deps.sidecar.snapshot().loaded?.languages ?? [];
    const { fields, data } = await readForm(c, languages);
    const pcm = await decodeUpload(deps.files, data);
    const request: FileJobRequest = {
      task,
      // Translation is always into English; the source language may still be given.
      language: fields.language,
      prompt: fields.prompt,
      temperature: fields.temperature,
      mode: fields.mode ?? (fields.vad ? 'vad' : deps.config.FILE_LONGFORM_MODE),
      words: fields.timestamp_granularities.includes('word'),
      diarize: fields.diarize || fields.response_format === 'diarized_json'
        ? Object.fromEntries(Object.entries({ num_speakers: fields.num_speakers, min_speakers: fields.min_speakers, max_speakers: fields.max_speakers }).filter(([, v]) => v !== undefined))
        : undefined,
    };
    if (!fields.stream) {
      const transcript = await transcribePcm(deps.files, pcm, request);
      const { body, contentType } = formatTranscript(transcript, fields.response_format, fields.timestamp_granularities);
      return c.body(body, 200, { 'content-type': contentType });
    }
    return streamSSE(c, async (sse) => {
      let sent = '';
      const events: Promise<void>[] = [];
      request.onProgress = (p) => {
        // Partial text usually extends what was sent; when it does not, send it whole.
        const delta = p.text.startsWith(sent) ? p.text.slice(sent.length) : p.text;
        sent = p.text;
        events.push(sse.writeSSE({ data: JSON.stringify({ type: 'transcript.text.delta', delta, done_s: p.done_s, total_s: p.total_s }) }));
      };
      try {
        const transcript = await transcribePcm(deps.files, pcm, request);
        await Promise.all(events);
        await sse.writeSSE({ data: JSON.stringify({ type: 'transcript.text.done', text: transcript.text, language: transcript.language, duration: transcript.duration }) });
      } catch (err) {
        const appError = toAppError(err);
        deps.log.warn({ err, code: appError.code }, 'streamed transcription failed');
        await sse.writeSSE({ data: JSON.stringify({ type: 'error', ...appError.toJSON() }) });
      }
    });
  };
}

/** The two file endpoints, mounted under /v1/audio. */
export function transcriptionRoutes(deps: TranscriptionDeps): Hono {
  const app = new Hono();
  const limit = bodyLimit({
    maxSize: deps.config.MAX_UPLOAD_BYTES,
    onError: () => {
      throw new AppError('file_too_large', `the upload is over MAX_UPLOAD_BYTES (${deps.config.MAX_UPLOAD_BYTES} bytes)`);
    },
  });
  app.post('/v1/audio/transcriptions', limit, handler('transcribe', deps));
  app.post('/v1/audio/translations', limit, handler('translate', deps));
  return app;
}
