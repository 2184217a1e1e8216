/**
 * @module The OpenAPI 3.1 document of the HTTP API, built from zod schemas with z.toJSONSchema: the
 * upload form is the very schema transcriptions.ts validates with; the response shapes are zod
 * schemas here, which the integration tests parse real responses with, so they cannot drift.
 * Served at GET /openapi.json, with a self-contained docs page at GET /docs (no CDN: the server
 * may run where nothing outside is reachable). The WebSocket protocol is docs/protocol.md.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Hono } from 'hono';
import { ROOT_DIR } from '../config.js';
import { z } from 'zod';
import { ERRORS } from '../errors.js';
import { fieldsSchema } from './transcriptions.js';
import { readWebAsset } from './demo.js';

/** `{"error": {"code", "message"}}`: every error response. */
export const errorSchema = z.object({ error: z.object({ code: z.enum(Object.keys(ERRORS) as [string, ...string[]]), message: z.string() }) });
/** response_format=json. */
export const transcriptionJsonSchema = z.object({ text: z.string() });
/** response_format=verbose_json. */
export const transcriptionVerboseSchema = z.object({
  task: z.enum(['transcribe', 'translate']),
  language: z.string().nullable(),
  duration: z.number(),
  text: z.string(),
  segments: z.array(z.object({ id: z.number().int(), seek: z.number(), start: z.number(), end: z.number(), text: z.string(), tokens: z.array(z.number()), temperature: z.number() })).optional(),
  words: z.array(z.object({ word: z.string(), start: z.number(), end: z.number() })).optional(),
});
/** GET / (JSON): the design brief's fields first. */
export const rootSchema = z.object({ status: z.literal('ok'), model: z.string(), device: z.string() }).loose();
/** GET /health. */
export const healthSchema = z.object({ status: z.enum(['healthy', 'initializing', 'restarting', 'stopped', 'draining']), model_loaded: z.boolean() }).loose();
/** GET /livez. */
export const livezSchema = z.object({ status: z.literal('ok') });
/** GET /readyz: `reason` says why not ready (`draining`, `sidecar_starting`, `sidecar_restarting`, `sidecar_stopped`). */
export const readyzSchema = z.object({ status: z.enum(['ready', 'not_ready']), reason: z.string().optional(), sidecar: z.enum(['ready', 'starting', 'restarting', 'stopped']) });
/** GET /v1/models. */
export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(z.object({ id: z.string(), object: z.literal('model'), created: z.number(), owned_by: z.string() }).loose()) });
/** One server-sent event of stream=true. */
export const sseEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('transcript.text.delta'), delta: z.string(), done_s: z.number(), total_s: z.number() }),
  z.object({ type: z.literal('transcript.text.done'), text: z.string(), language: z.string().nullable(), duration: z.number() }),
  z.object({ type: z.literal('error'), error: errorSchema.shape.error }),
]);

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'output' });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });

function fileOperation(summary: string) {
  const form = z.toJSONSchema(fieldsSchema, { io: 'input' }) as { properties: Record<string, unknown>; required?: string[] };
  form.properties = { file: { type: 'string', format: 'binary', description: 'Audio in any container ffmpeg decodes (wav, mp3, flac, ogg/opus, webm, m4a, ...).' }, ...form.properties };
  form.required = ['file', ...(form.required ?? [])];
  return {
    summary,
    security: [{ bearer: [] }, {}],
    requestBody: { required: true, content: { 'multipart/form-data': { schema: form } } },
    responses: {
      200: {
        description: 'The transcript in response_format; with stream=true, server-sent events (each `data:` is one TranscriptEvent).',
        content: {
          'application/json': { schema: { oneOf: [ref('TranscriptionJson'), ref('TranscriptionVerbose')] } },
          'text/plain': { schema: { type: 'string' } },
          'application/x-subrip': { schema: { type: 'string' } },
          'text/vtt': { schema: { type: 'string' } },
          'text/event-stream': { schema: ref('TranscriptEvent') },
        },
      },
      400: errorResponse('Bad form field or undecodable audio'),
      401: errorResponse('API_KEYS is set and the key is missing or wrong'),
      413: errorResponse('Upload over MAX_UPLOAD_BYTES or audio over MAX_FILE_SECONDS'),
      429: errorResponse('MAX_CONCURRENT_PER_KEY reached'),
      503: errorResponse('Queue full, model not running, ffmpeg missing, shutting down, or draining (with Retry-After)'),
    },
  };
}

/** The OpenAPI document. */
export function openApiDocument(version: string): Record<string, unknown> {
  const get = (summary: string, schema: string, secured = false) => ({
    summary,
    ...(secured ? { security: [{ bearer: [] }, {}] } : {}),
    responses: { 200: { description: 'OK', content: { 'application/json': { schema: ref(schema) } } } },
  });
  // A WebSocket route: what the upgrade request is answered with before any message.
  const upgrade = (summary: string) => ({
    summary,
    security: [{ bearer: [] }, {}],
    responses: { 101: { description: 'Switching Protocols: the session starts' }, 400: { description: 'a known parameter with a bad value' }, 401: { description: 'API_KEYS set and no valid key' } },
  });
  return {
    openapi: '3.1.0',
    info: { title: 'whisper-sidecar-server', version, description: 'Self-hosted speech-to-text: OpenAI-compatible file endpoints, health, metrics. Streaming is a WebSocket at /ws/transcribe (docs/protocol.md), Deepgram live at /v1/listen (docs/deepgram.md) and OpenAI Realtime transcription at /v1/realtime (docs/realtime.md). With API_KEYS set, every route except /, /health, /livez, /readyz, /openapi.json and /docs needs `Authorization: Bearer <key>`.' },
    paths: {
      '/': { get: get('Service info (JSON unless the client asks for text/html, which gets the browser demo)', 'Root') },
      '/health': { get: { summary: 'Health: 200 when the model is loaded, else 503', responses: { 200: { description: 'healthy', content: { 'application/json': { schema: ref('Health') } } }, 503: { description: 'not ready', content: { 'application/json': { schema: ref('Health') } } } } } },
      '/livez': { get: get('Liveness: 200 whenever the process answers, also while the sidecar restarts or the server drains', 'Livez') },
      '/readyz': { get: { summary: 'Readiness: 200 only when the sidecar is ready and the server is not draining, else 503 with the reason', responses: { 200: { description: 'ready', content: { 'application/json': { schema: ref('Readyz') } } }, 503: { description: 'not ready (draining, or the sidecar is not ready)', content: { 'application/json': { schema: ref('Readyz') } } } } } },
      '/v1/models': { get: get('Models (OpenAI list shape)', 'ModelList', true) },
      '/v1/audio/transcriptions': { post: fileOperation('Transcribe a file (OpenAI-compatible)') },
      '/v1/audio/translations': { post: fileOperation('Translate a file into English (OpenAI-compatible)') },
      '/v1/listen': { get: upgrade('Deepgram live streaming (WebSocket upgrade; query parameters and messages: docs/deepgram.md). Auth: `Authorization: Token <key>` or the `token, <key>` subprotocols') },
      '/v1/realtime': { get: upgrade('OpenAI Realtime transcription session (WebSocket upgrade; events: docs/realtime.md). Auth: `Authorization: Bearer <key>` or the `openai-insecure-api-key.<key>` subprotocol') },
      '/metrics': { get: { summary: 'Prometheus metrics', security: [{ bearer: [] }, {}], responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'One of API_KEYS' } },
      schemas: {
        Error: json(errorSchema),
        TranscriptionJson: json(transcriptionJsonSchema),
        TranscriptionVerbose: json(transcriptionVerboseSchema),
        TranscriptEvent: json(sseEventSchema),
        Root: json(rootSchema),
        Health: json(healthSchema),
        Livez: json(livezSchema),
        Readyz: json(readyzSchema),
        ModelList: json(modelListSchema),
      },
    },
  };
}

/** GET /openapi.json and GET /docs. */
export function openApiRoutes(): Hono {
  const app = new Hono();
  let doc: Record<string, unknown> | undefined;
  app.get('/openapi.json', (c) => {
    // Built on first use: createApp does no I/O.
    doc ??= openApiDocument((JSON.parse(readFileSync(path.join(ROOT_DIR, 'package.json'), 'utf8')) as { version: string }).version);
    return c.json(doc);
  });
  app.get('/docs', async (c) => c.html(await readWebAsset('docs.html')));
  return app;
}
