/**
 * @module Optional API keys (API_KEYS): who is calling, as a key id that is safe to log. HTTP
 * clients send `Authorization: Bearer <key>`; WebSocket clients send the same header or, since
 * browsers cannot set headers on a WebSocket, a `bearer.<key>` subprotocol or a `?token=<key>`
 * query parameter. Keys are compared in constant time (digests of equal length, every key
 * compared, no early exit) and never logged: logs and metrics see only `key:<8 hex of sha256>`.
 * This module decides; it does not refuse WebSocket sessions itself (limits.ts' gate does, so the
 * browser gets close 1008 with a reason instead of a bare failed upgrade).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** Who is calling: `anonymous` without API_KEYS, else `key:<fingerprint>`. */
    keyId: string;
  }
}

/** The key id every caller has when API_KEYS is unset. */
export const ANONYMOUS = 'anonymous';
/** Browsers send the key as the subprotocol `bearer.<key>` (keys are token characters only). */
export const SUBPROTOCOL_PREFIX = 'bearer.';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** The configured keys, held only as digests. */
export class ApiKeys {
  readonly #keys: Array<{ digest: Buffer; id: string }>;

  /** `list`: API_KEYS as configured (comma-separated); undefined or empty turns auth off. */
  constructor(list: string | undefined) {
    const keys = (list ?? '').split(',').map((k) => k.trim()).filter((k) => k.length > 0);
    this.#keys = keys.map((k) => ({ digest: digest(k), id: `key:${digest(k).toString('hex').slice(0, 8)}` }));
  }

  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  /** The caller's key id, or undefined when auth is on and `candidate` is missing or wrong. */
  identify(candidate: string | undefined): string | undefined {
    if (!this.enabled) return ANONYMOUS;
    if (candidate === undefined || candidate === '') return undefined;
    const given = digest(candidate);
    let found: string | undefined;
    // Compare against every key so the time taken says nothing about which one (nearly) matched.
    for (const key of this.#keys) if (timingSafeEqual(given, key.digest) && found === undefined) found = key.id;
    return found;
  }
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Where a WebSocket upgrade may carry its key: the header, a `bearer.` subprotocol, or `?token=`. */
export function webSocketToken(c: Context): string | undefined {
  const fromHeader = bearerToken(c.req.header('authorization'));
  if (fromHeader) return fromHeader;
  const protocols = (c.req.header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
  const fromProtocol = protocols.find((p) => p.startsWith(SUBPROTOCOL_PREFIX));
  if (fromProtocol) return fromProtocol.slice(SUBPROTOCOL_PREFIX.length);
  return c.req.query('token') || undefined;
}

/** The 401 every refused HTTP request gets. */
export function unauthorized(hasToken: boolean): AppError {
  return new AppError('unauthorized', hasToken ? 'the API key is not valid' : 'an API key is required: send Authorization: Bearer <key>');
}

/**
 * HTTP middleware: sets `keyId`, or answers 401 (with `WWW-Authenticate: Bearer`) on routes that are
 * not `open`. The WebSocket path is left to the session gate, which reads the other token places.
 */
export function httpAuth(keys: ApiKeys, open: (c: Context) => boolean): MiddlewareHandler {
  return async (c, next) => {
    if (!keys.enabled || open(c)) {
      c.set('keyId', keys.enabled ? keys.identify(bearerToken(c.req.header('authorization'))) ?? ANONYMOUS : ANONYMOUS);
      return next();
    }
    const token = bearerToken(c.req.header('authorization'));
    const id = keys.identify(token);
    if (id === undefined) {
      const err = unauthorized(token !== undefined);
      return c.json(err.toJSON(), 401, { 'WWW-Authenticate': 'Bearer' });
    }
    c.set('keyId', id);
    return next();
  };
}
