/**
 * @module Server-sent WebSocket pings (WS_PING_INTERVAL_MS) on every stream. Two reasons:
 *  - a proxy in front (nginx `proxy_read_timeout`, 60 s by default; cloud load balancers alike)
 *    cuts a socket on which the server sent nothing for that long, and a stream is silent from the
 *    server side while its final decodes or while a client sends audio that makes no interim;
 *  - a peer that vanished without a close (network gone, laptop lid shut) holds a session slot
 *    until TCP gives up: with no pong for two pings the socket is cut and its slot freed.
 * Protocol-level ping frames (RFC 6455 §5.5.2): every client library and browser answers them
 * by itself, and no client sees them as messages. The socket is structural (the `ws` library's
 * WebSocket behind @hono/node-ws), so only the socket files import a WebSocket.
 */

/** What a heartbeat needs of a socket (the `ws` WebSocket has it). */
export interface PingableSocket {
  readonly readyState: number;
  ping(): void;
  terminate(): void;
  on(event: 'pong' | 'close', listener: () => void): unknown;
}

const OPEN = 1;

/**
 * Ping `socket` every `intervalMs` (0: never) until it closes; when no pong has come for two
 * intervals, call `onDead(silentMs)` and terminate it. Returns a stop function.
 */
export function heartbeat(socket: PingableSocket, intervalMs: number, onDead: (silentMs: number) => void, now: () => number = Date.now): () => void {
  if (intervalMs <= 0) return () => undefined;
  let lastPong = now();
  socket.on('pong', () => {
    lastPong = now();
  });
  const timer = setInterval(() => {
    if (socket.readyState !== OPEN) return;
    const silent = now() - lastPong;
    if (silent > 2 * intervalMs) {
      clearInterval(timer);
      onDead(silent);
      socket.terminate();
      return;
    }
    socket.ping();
  }, intervalMs);
  // A ping timer alone never keeps the process alive (shutdown closes the sockets anyway).
  timer.unref?.();
  const stop = () => clearInterval(timer);
  socket.on('close', stop);
  return stop;
}
