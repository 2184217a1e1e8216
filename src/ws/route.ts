/**
 * @module /ws/transcribe: the WebSocket upgrade, frames ↔ Session calls, close codes, and the
 * message size limit. The only file that sees a socket; everything a session decides lives in
 * src/session/. Mounted by server.ts with @hono/node-ws (createNodeWebSocket + injectWebSocket).
 */
import type { Server } from 'node:http';
import { createNodeWebSocket } from '@hono/node-ws';
import type { Context, Hono } from 'hono';
import type { WSContext } from 'hono/ws';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { sessionOptionsFrom } from '../session/options.js';
import { RESTART_END, Session } from '../session/session.js';
import { transcriberFor, type SpeechModel } from '../session/transcriber.js';
import type { ServerFrame, SessionSink } from '../session/types.js';
import { parseClientText } from './messages.js';
import { chooseSubprotocol } from './subprotocol.js';
import { heartbeat, type PingableSocket } from './heartbeat.js';

export interface StreamingDeps {
  config: Config;
  /** The one queue in front of the model (the scheduler): decodes, VAD, embeddings. */
  model: SpeechModel;
  /** Languages the loaded model knows (empty: not checked yet). */
  languages(): readonly string[];
  log: Logger;
  /** Auth and admission limits (src/http/limits.ts): a slot held until close, or a coded refusal sent as error + close. */
  gate?: { admit(c: Context): { release(): void } | AppError };
  /** Told every real-time lag a session reports (the server's whisper_stream_lag_seconds). */
  onLag?(seconds: number): void;
}

/** What server.ts needs to finish the wiring. */
export interface Streaming {
  /** Attach the upgrade handler to the HTTP server. */
  injectWebSocket(server: Server): void;
  /** Sessions open now. */
  openCount(): number;
  /**
   * Drain deadline: every open session not already ending gets its final through its own end path
   * (everything received decoded and committed), then close 1012. Returns how many it ended.
   */
  finishAll(): number;
  /** The last step of a shutdown: every session still open gets `shutting_down` and close 1001. */
  closeAll(): void;
}

export const STREAM_PATH = '/ws/transcribe';
/** How long a client gets to answer our close frame before its socket is destroyed. */
export const CLOSE_GRACE_MS = 2_000;

/** Add /ws/transcribe to `app`. */
export function mountStreaming(app: Hono, deps: StreamingDeps): Streaming {
  const nodeWs = createNodeWebSocket({ app });
  // Messages over 4× our limit are refused by the socket layer itself (close 1009, no error frame),
  // so a hostile client cannot make us buffer more than that; smaller ones get our coded error.
  nodeWs.wss.options.maxPayload = deps.config.WS_MAX_MESSAGE_BYTES * 4;
  // After we close, a client that never answers the close (it stopped reading, or stalled in the
  // middle of a frame) is cut off after CLOSE_GRACE_MS instead of ws's default 30 s, so its session
  // and buffers are freed soon after the idle timeout (test/integration/ws-slow-clients.test.ts).
  // (the pinned ws 8.23 reads closeTimeout from the server options; @types/ws does not list it.)
  (nodeWs.wss.options as { closeTimeout?: number }).closeTimeout = CLOSE_GRACE_MS;
  nodeWs.wss.options.handleProtocols = chooseSubprotocol;
  const open = new Map<WSContext, Session>();
  const transcriber = transcriberFor(deps.model);
  let nextId = 1;

  app.get(STREAM_PATH, nodeWs.upgradeWebSocket((c) => {
    const id = nextId++;
    const log = deps.log.child({ session: id, requestId: c.get('requestId') });
    let session: Session | undefined;
    let slot: { release(): void } | undefined;
    return {
      onOpen(_event, ws) {
        // Not an onError handler: @hono/node-ws builds an ErrorEvent for it, a global Node 20 lacks,
        // so every client protocol error printed a ReferenceError (found by test/integration/fuzz-quick.test.ts).
        (ws.raw as { on?(event: 'error', fn: (err: Error) => void): void } | undefined)?.on?.('error', (err) => log.info({ err: err.message }, 'client protocol error'));
        session = new Session(sinkFor(ws, log), transcriber, { ...sessionOptionsFrom(deps.config, deps.languages(), log), ...(deps.onLag ? { onLag: deps.onLag } : {}) });
        const raw = ws.raw as PingableSocket | undefined;
        if (raw) heartbeat(raw, deps.config.WS_PING_INTERVAL_MS, (silentMs) => log.warn({ silentMs }, 'no pong from the client for two pings: connection cut'));
        const admission = deps.gate?.admit(c);
        if (admission instanceof AppError) return session.fail(admission);
        slot = admission;
        open.set(ws, session);
        log.info('session opened');
      },
      onMessage(event, ws) {
        if (!session) return;
        const data: unknown = event.data;
        const size = typeof data === 'string' ? Buffer.byteLength(data) : data instanceof ArrayBuffer ? data.byteLength : 0;
        if (size > deps.config.WS_MAX_MESSAGE_BYTES) {
          return session.fail(new AppError('message_too_large', `a ${size}-byte message is over the limit of ${deps.config.WS_MAX_MESSAGE_BYTES} bytes`));
        }
        if (data instanceof ArrayBuffer) return session.audio(new Uint8Array(data));
        if (typeof data !== 'string') return session.fail(new AppError('invalid_message', 'unsupported frame'));
        try {
          const message = parseClientText(data);
          if (message.type === 'config') session.configure(message);
          else if (message.type === 'end') session.end();
          else if (message.type === 'finalize') session.finalize();
          else session.keepalive();
        } catch (err) {
          session.fail(err);
        }

      },
      onClose(event, ws) {
        slot?.release();
        open.delete(ws);
        session?.closed();
        log.info({ code: event.code }, 'session closed');
      },
    };
  }, {
    // A handler that throws is ours to log (@hono/node-ws would print it with console.error).
    onError: (err) => deps.log.error({ err }, 'WebSocket handler threw'),
  }));

  return {
    injectWebSocket: (server) => nodeWs.injectWebSocket(server),
    openCount: () => open.size,
    finishAll() {
      let ended = 0;
      for (const session of open.values()) {
        if (session.state === 'draining' || session.state === 'closed') continue; // already ending by itself
        session.end(RESTART_END);
        ended += 1;
      }
      return ended;
    },
    closeAll() {
      for (const session of open.values()) session.fail(new AppError('shutting_down'));
      open.clear();
    },
  };
}

function sinkFor(ws: WSContext, log: Logger): SessionSink {
  return {
    send(frame: ServerFrame) {
      if (ws.readyState !== 1) return;
      ws.send(JSON.stringify(frame));
      if (frame.type === 'error') log.info({ code: frame.code }, frame.message);
    },
    close(code, reason) {
      if (ws.readyState === 1) ws.close(code, reason);
    },
  };
}
