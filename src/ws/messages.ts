/**
 * @module The client WebSocket protocol (docs/protocol.md): zod schemas of the text frames a client
 * sends, parseClientText() that turns a text frame into a message or a coded AppError, and the
 * constructors of every frame the server sends. Field names follow the design brief.
 */
import { z } from 'zod';
import { AppError, type ErrorCode } from '../errors.js';
import { clientConfigSchema } from '../session/client-config.js';
import type { ErrorFrame } from '../session/types.js';

export type { ClientConfig, ErrorFrame, FinalFrame, InterimFrame, ServerFrame } from '../session/types.js';

/** `{"type":"config", ...}`: optional, before the first audio frame; its fields are the session's ClientConfig schema. */
export const configSchema = clientConfigSchema.extend({ type: z.literal('config') });
export type ConfigMessage = z.infer<typeof configSchema>;

const endSchema = z.object({ type: z.literal('end') });
const finalizeSchema = z.object({ type: z.literal('finalize') });
const keepaliveSchema = z.object({ type: z.literal('keepalive') });

/** Every text frame a client may send. */
export const clientMessageSchema = z.discriminatedUnion('type', [configSchema, endSchema, finalizeSchema, keepaliveSchema]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

const KNOWN = new Set(['config', 'end', 'finalize', 'keepalive']);

/** Parse one text frame; throws AppError invalid_message / invalid_config / unknown_message_type. */
export function parseClientText(text: string): ClientMessage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AppError('invalid_message', 'text frames must be JSON objects, e.g. {"type":"end"}');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new AppError('invalid_message', 'text frames must be JSON objects with a "type"');
  const type = (json as { type?: unknown }).type;
  if (typeof type !== 'string') throw new AppError('invalid_message', 'a text frame needs a string "type"');
  if (!KNOWN.has(type)) throw new AppError('unknown_message_type', `unknown message type ${JSON.stringify(type).slice(0, 64)}; expected config, end, finalize or keepalive`);
  const parsed = clientMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const code: ErrorCode = type === 'config' ? 'invalid_config' : 'invalid_message';
    throw new AppError(code, `${type}.${issue.path.join('.') || '?'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The error frame of an AppError. */
export function errorFrame(err: AppError): ErrorFrame {
  return { type: 'error', code: err.code, message: err.message };
}
