/**
 * @module The options a streaming client may set (the `config` message of docs/protocol.md): one zod
 * schema, the single source of the ClientConfig type. ws/messages.ts adds the `type` field to it;
 * the hosted-API adapters (Deepgram, Realtime) build the same shape from their own parameters.
 */
import { z } from 'zod';

/** Every field is optional; unknown fields are ignored (the brief's clients send extras). */
export const clientConfigSchema = z.object({
  /** ISO 639-1 code; null (or detect_language) lets the model detect it. Default "en", as in the brief. */
  language: z.string().regex(/^[a-z]{2,3}$/, 'expected an ISO 639-1 code such as "en"').nullable().optional(),
  detect_language: z.boolean().optional(),
  task: z.enum(['transcribe', 'translate']).optional(),
  word_timestamps: z.boolean().optional(),
  /** Rate of the PCM the client sends, 8000..48000; resampled to 16 kHz. */
  sample_rate: z.number().int().min(8_000).max(48_000).optional(),
  interim_results: z.boolean().optional(),
  /** Pause (ms) that ends an utterance and commits it. */
  endpointing_ms: z.number().int().min(100).max(10_000).optional(),
  /** Speaker labels on committed segments and the final's chunks, stable for the session (src/session/speakers.ts). */
  diarize: z.boolean().optional(),
});

/** Options of the `config` message (all optional). */
export type ClientConfig = z.infer<typeof clientConfigSchema>;
