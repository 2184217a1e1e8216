/** @module Logger factory: structured JSON lines (pino) on stdout; callers tag children with request, session or sidecar. */
import { pino, type Logger } from 'pino';

export type { Logger };

/** A root logger at `level`; `destination` lets tests capture lines. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { service: 'whisper-server' } };
  return destination ? pino(options, destination) : pino(options);
}
