/**
 * @module Request ids and one access-log line per HTTP request: `X-Request-Id` (the client's, when it
 * is a sane token, else a new UUID) is set on the context, echoed in the response and put on every
 * line; the line names the route's path (never the query string, which may carry a `token`) and the
 * caller's key id (never the key).
 */
import type { MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from '../log.js';

/** The request-id middleware (hono/request-id). */
export const requestIds: () => MiddlewareHandler = () => requestId();

const QUIET = new Set(['/health', '/metrics']);

/** One `request` line per response: id, method, path, status, key id, milliseconds. */
export function accessLog(log: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    // Health checks and scrapes come every few seconds: keep them out of the info stream.
    const level = QUIET.has(c.req.path) ? 'debug' : 'info';
    log[level]({
      requestId: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      key: c.get('keyId'),
      ms: Math.round(performance.now() - started),
    }, 'request');
  };
}
