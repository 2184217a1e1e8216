/**
 * @module Admission limits: open streaming sessions (MAX_SESSIONS) and work in progress per API key
 * (MAX_CONCURRENT_PER_KEY: sessions + file requests). Past a limit the caller gets a coded error
 * (`too_many_sessions` 503 / close 1013, `too_many_requests` 429 / close 1013), never a crash.
 * The other limits already live where their data is: MAX_UPLOAD_BYTES and MAX_FILE_SECONDS in
 * transcriptions.ts / files, WS_MAX_SESSION_S and WS_MAX_MESSAGE_BYTES in the session and ws route.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { ANONYMOUS, ApiKeys, unauthorized, webSocketToken } from './auth.js';

/** A held slot; release() is idempotent. */
export interface Slot {
  release(): void;
}

export interface LimiterStats {
  sessions: number;
  requests: number;
}

/** Counts what is running; hands out slots or refuses. */
export class Limiter {
  #sessions = 0;
  #requests = 0;
  #draining = false;
  readonly #perKey = new Map<string, number>();

  constructor(private readonly limits: Pick<Config, 'MAX_SESSIONS' | 'MAX_CONCURRENT_PER_KEY'>) {}

  /**
   * Refuse every new session and file request from now on (`draining`); slots already held are
   * kept. The one admission point of all three WebSocket routes and the file endpoints, so a drain
   * cannot miss one of them.
   */
  drain(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** A streaming session for `keyId`, or the error that refuses it. */
  openSession(keyId: string): Slot | AppError {
    if (this.#draining) return new AppError('draining', 'the server is draining before a restart: open the stream again (another instance will take it)');
    if (this.#sessions >= this.limits.MAX_SESSIONS) {
      return new AppError('too_many_sessions', `${this.#sessions} streaming sessions are open (MAX_SESSIONS=${this.limits.MAX_SESSIONS}); retry later`);
    }
    return this.#take(keyId, 'session');
  }

  /** A file request for `keyId`, or the error that refuses it. */
  startRequest(keyId: string): Slot | AppError {
    if (this.#draining) return new AppError('draining', 'the server is draining before a restart: send the file again (another instance will take it)');
    return this.#take(keyId, 'request');
  }

  stats(): LimiterStats {
    return { sessions: this.#sessions, requests: this.#requests };
  }

  #take(keyId: string, kind: 'session' | 'request'): Slot | AppError {
    const held = this.#perKey.get(keyId) ?? 0;
    const max = this.limits.MAX_CONCURRENT_PER_KEY;
    if (max > 0 && held >= max) {
      const who = keyId === ANONYMOUS ? 'all clients together' : `API key ${keyId}`;
      return new AppError('too_many_requests', `${who} already run ${held} sessions and requests (MAX_CONCURRENT_PER_KEY=${max}); retry when one ends`);
    }
    this.#perKey.set(keyId, held + 1);
    if (kind === 'session') this.#sessions += 1;
    else this.#requests += 1;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.#perKey.get(keyId) ?? 1) - 1;
        if (left > 0) this.#perKey.set(keyId, left);
        else this.#perKey.delete(keyId);
        if (kind === 'session') this.#sessions -= 1;
        else this.#requests -= 1;
      },
    };
  }
}

/**
 * Middleware for the file endpoints: one request slot per call, held until the response body has
 * been sent (an SSE stream=true response ends long after the handler returns).
 */
export function requestLimit(limiter: Limiter): MiddlewareHandler {
  return async (c, next) => {
    const slot = limiter.startRequest(c.get('keyId') ?? ANONYMOUS);
    if (slot instanceof AppError) throw slot;
    try {
      await next();
    } catch (err) {
      slot.release();
      throw err;
    }
    const body = c.res.body;
    if (!body) return slot.release();
    c.res = new Response(releasingAtEnd(body, slot), c.res);
  };
}

function releasingAtEnd(body: ReadableStream<Uint8Array>, slot: Slot): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          slot.release();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        slot.release();
        controller.error(err);
      }
    },
    cancel(reason) {
      slot.release();
      return reader.cancel(reason);
    },
  });
}

/** What ws/route.ts asks before a session starts: a slot to hold until it closes, or a coded refusal. */
export function sessionGate(keys: ApiKeys, limiter: Limiter): { admit(c: Context): Slot | AppError } {
  return {
    admit(c) {
      const token = webSocketToken(c);
      const keyId = keys.identify(token);
      if (keyId === undefined) return unauthorized(token !== undefined);
      return limiter.openSession(keyId);
    },
  };
}
