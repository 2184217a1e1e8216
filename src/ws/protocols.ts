/**
 * @module The hosted-API protocols next to /ws/transcribe: Deepgram live at `/v1/listen`
 * (docs/deepgram.md) and OpenAI Realtime transcription at `/v1/realtime` (docs/realtime.md). Each
 * is an adapter over the same Session, scheduler and model as /ws/transcribe; this file is their
 * socket side: the upgrade (auth and query checks answered as plain HTTP before it, as both hosted
 * APIs do), admission limits, message size, and shutdown. It has its own WebSocketServer, so its
 * subprotocol choice and payload cap are its own; `dispatch()` sends their upgrades here and every
 * other upgrade on to the /ws/transcribe handler.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { createNodeWebSocket } from '@hono/node-ws';
import type { Context, Hono } from 'hono';
import type { Config } from '../config.js';
import { AppError, ERRORS } from '../errors.js';
import type { Logger } from '../log.js';
import type { SessionOptions, Transcriber } from '../session/types.js';
import { SessionDriver, tuned, type DriverEvents, type DriverTuning } from './adapter/driver.js';
import { DeepgramConnection } from './deepgram/connection.js';
import { parseListenQuery, QueryError } from './deepgram/query.js';
import { RealtimeConnection } from './realtime/connection.js';
import { realtimeDialect } from './realtime/events.js';
import { heartbeat, type PingableSocket } from './heartbeat.js';
import { RESTART_END } from '../session/session.js';
import type { EndClose } from '../session/types.js';

export const LISTEN_PATH = '/v1/listen';
export const REALTIME_PATH = '/v1/realtime';
/** Paths whose upgrade checks its own key (Deepgram's `Token` scheme, OpenAI's key subprotocol). */
export const PROTOCOL_PATHS: readonly string[] = [LISTEN_PATH, REALTIME_PATH];

/** How long a client gets to answer our close frame before its socket is destroyed (as /ws/transcribe). */
const CLOSE_GRACE_MS = 2_000;

export interface ProtocolDeps {
  config: Config;
  /** The model side of a session: the same one /ws/transcribe sessions get (decodes, VAD, embeddings). */
  transcriber: Transcriber;
  /** The same session settings /ws/transcribe sessions get. */
  sessionOptions(log: Logger): SessionOptions;
  /** Languages the loaded model knows (empty: not checked). */
  languages(): readonly string[];
  log: Logger;
  /** The caller's key id for a token, or undefined when API_KEYS is set and it is missing or wrong. */
  identify(token: string | undefined): string | undefined;
  /** A streaming-session slot for a key id (MAX_SESSIONS, MAX_CONCURRENT_PER_KEY, draining), or the refusal. */
  openSession(keyId: string): { release(): void } | AppError;
}

export interface Protocols {
  /** Attach to the HTTP server; returns the emitter the /ws/transcribe handler attaches to instead. */
  dispatch(server: Server): Server;
  /** Sessions open now. */
  openCount(): number;
  /** Drain deadline: each open session ends with its protocol's final (Deepgram: Results + Metadata; Realtime: completed) and close 1012. */
  finishAll(): number;
  /** The last step of a shutdown: `shutting_down` and close 1001. */
  closeAll(): void;
}

interface Connection {
  onBinary(bytes: Uint8Array): void;
  onText(text: string): void;
  onSocketClosed(): void;
  fail(err: unknown): void;
  /** End the session with its protocol's final and `close`; false when it was already ending. */
  drain(close: EndClose): boolean;
}

/** `Authorization: Token|Bearer <key>`, or the browser's subprotocol pair `token, <key>` / `bearer, <key>`. */
export function deepgramToken(authorization: string | undefined, protocols: string | undefined): string | undefined {
  const header = /^(?:Token|Bearer)\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (header) return header;
  const offered = (protocols ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const at = offered.findIndex((p) => p === 'token' || p === 'bearer');
  return at !== -1 ? offered[at + 1] : undefined;
}

/** `Authorization: Bearer <key>`, the `openai-insecure-api-key.<key>` subprotocol, or Azure's `api-key` header. */
export function realtimeToken(authorization: string | undefined, protocols: string | undefined, apiKey: string | undefined): string | undefined {
  const header = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (header) return header;
  const offered = (protocols ?? '').split(',').map((p) => p.trim());
  const key = offered.find((p) => p.startsWith('openai-insecure-api-key.'));
  if (key) return key.slice('openai-insecure-api-key.'.length);
  return apiKey || undefined;
}

/** The subprotocol to answer with: `realtime` (OpenAI), `token`/`bearer` (Deepgram), never a key. */
export function chooseProtocolSubprotocol(offered: Set<string>): string | false {
  for (const p of ['realtime', 'token', 'bearer']) if (offered.has(p)) return p;
  return [...offered].find((p) => !p.startsWith('openai-') && !p.startsWith('bearer.')) ?? false;
}

export function mountProtocols(app: Hono, deps: ProtocolDeps): Protocols {
  const nodeWs = createNodeWebSocket({ app });
  nodeWs.wss.options.maxPayload = deps.config.WS_MAX_MESSAGE_BYTES * 4;
  (nodeWs.wss.options as { closeTimeout?: number }).closeTimeout = CLOSE_GRACE_MS;
  nodeWs.wss.options.handleProtocols = chooseProtocolSubprotocol;
  const { transcriber } = deps;
  const open = new Set<Connection>();
  let nextId = 1;

  const socketEvents = (c: Context, keyId: string, kind: string, make: (send: (m: object) => void, close: (code: number, reason: string) => void, log: Logger) => Connection) => {
    const log = deps.log.child({ session: `${kind}-${nextId++}`, requestId: c.get('requestId') });
    let connection: Connection | undefined;
    let slot: { release(): void } | undefined;
    return {
      onOpen(_event: Event, ws: import('hono/ws').WSContext) {
        (ws.raw as { on?(event: 'error', fn: (err: Error) => void): void } | undefined)?.on?.('error', (err) => log.info({ err: err.message }, 'client protocol error'));
        connection = make(
          (m) => ws.readyState === 1 && ws.send(JSON.stringify(m)),
          (code, reason) => ws.readyState === 1 && ws.close(code, reason),
          log,
        );
        const raw = ws.raw as PingableSocket | undefined;
        if (raw) heartbeat(raw, deps.config.WS_PING_INTERVAL_MS, (silentMs) => log.warn({ silentMs }, 'no pong from the client for two pings: connection cut'));
        const admission = deps.openSession(keyId);
        if (admission instanceof AppError) return connection.fail(admission);
        slot = admission;
        open.add(connection);
        log.info('session opened');
      },
      onMessage(event: MessageEvent, _ws: import('hono/ws').WSContext) {
        if (!connection) return;
        const data: unknown = event.data;
        const size = typeof data === 'string' ? Buffer.byteLength(data) : data instanceof ArrayBuffer ? data.byteLength : 0;
        if (size > deps.config.WS_MAX_MESSAGE_BYTES) {
          return connection.fail(new AppError('message_too_large', `a ${size}-byte message is over the limit of ${deps.config.WS_MAX_MESSAGE_BYTES} bytes`));
        }
        try {
          if (data instanceof ArrayBuffer) connection.onBinary(new Uint8Array(data));
          else if (typeof data === 'string') connection.onText(data);
        } catch (err) {
          connection.fail(err);
        }
      },
      onClose(event: CloseEvent) {
        slot?.release();
        if (connection) {
          open.delete(connection);
          connection.onSocketClosed();
        }
        log.info({ code: event.code }, 'session closed');
      },
    };
  };

  const driverFor = (log: Logger) => (events: DriverEvents, tuning?: DriverTuning) => new SessionDriver(transcriber, tuned(deps.sessionOptions(log), tuning), events);

  app.get(LISTEN_PATH, async (c, next) => {
    const requestId = randomUUID();
    const keyId = deps.identify(deepgramToken(c.req.header('authorization'), c.req.header('sec-websocket-protocol')));
    if (keyId === undefined) return c.json({ err_code: 'unauthorized', err_msg: 'a valid API key is required: Authorization: Token <key>', request_id: requestId, error: { code: 'unauthorized', message: ERRORS.unauthorized.message } }, 401);
    let options;
    try {
      options = parseListenQuery(new URL(c.req.url).searchParams, deps.languages());
    } catch (err) {
      if (!(err instanceof QueryError)) throw err;
      return c.json({ err_code: 'invalid_request', err_msg: err.message, request_id: requestId, error: { code: 'invalid_request', message: err.message } }, 400);
    }
    const parsed = options;
    return nodeWs.upgradeWebSocket((ctx) => socketEvents(ctx, keyId, 'listen', (send, close, log) => new DeepgramConnection(parsed, { send, close }, driverFor(log), { requestId })), {
      onError: (err) => deps.log.error({ err }, 'WebSocket handler threw'),
    })(c, next);
  });

  app.get(REALTIME_PATH, async (c, next) => {
    const keyId = deps.identify(realtimeToken(c.req.header('authorization'), c.req.header('sec-websocket-protocol'), c.req.header('api-key') ?? c.req.query('api-key')));
    const error = (status: 400 | 401, code: string, param: string | null, message: string) => c.json({ error: { type: 'invalid_request_error', code, message, param } }, status);
    if (keyId === undefined) return error(401, 'unauthorized', null, 'a valid API key is required: Authorization: Bearer <key>');
    if (c.req.query('call_id')) return error(400, 'invalid_request', 'call_id', 'call_id (WebRTC/SIP sideband) is not supported; open a transcription session');
    const dialect = realtimeDialect(c.req.header('openai-beta'), c.req.header('sec-websocket-protocol'));
    const model = c.req.query('model') ?? null;
    return nodeWs.upgradeWebSocket((ctx) => socketEvents(ctx, keyId, 'realtime', (send, close, log) => new RealtimeConnection(dialect, { send, close }, driverFor(log), { model, languages: deps.languages() })), {
      onError: (err) => deps.log.error({ err }, 'WebSocket handler threw'),
    })(c, next);
  });

  return {
    dispatch(server) {
      const others = new EventEmitter();
      const ours = new EventEmitter();
      nodeWs.injectWebSocket(ours as unknown as Server);
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        const path = (request.url ?? '/').split('?')[0]!;
        (PROTOCOL_PATHS.includes(path) ? ours : others).emit('upgrade', request, socket, head);
      });
      return others as unknown as Server;
    },
    openCount: () => open.size,
    finishAll() {
      // An adapter whose client already ended the stream (CloseStream) keeps its normal close.
      let ended = 0;
      for (const connection of open) if (connection.drain(RESTART_END)) ended += 1;
      return ended;
    },
    closeAll() {
      for (const connection of open) connection.fail(new AppError('shutting_down'));
      open.clear();
    },
  };
}
