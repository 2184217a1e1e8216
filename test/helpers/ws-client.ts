/** @module A WebSocket client for tests and benchmarks: streams PCM to /ws/transcribe and records every message and the close. */
import WebSocket from 'ws';

export interface ServerMessage {
  type: string;
  [key: string]: unknown;
}

export interface StreamedSession {
  messages: Array<ServerMessage & { at: number }>;
  close: { code: number; reason: string };
  /** The final message, if one came. */
  final: ServerMessage | undefined;
  errors: ServerMessage[];
  interims: ServerMessage[];
}

/** An open socket that records what it receives. */
export class WsClient {
  readonly messages: Array<ServerMessage & { at: number }> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  #waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      this.messages.push({ ...(JSON.parse(data.toString()) as ServerMessage), at: Date.now() });
      for (const w of this.#waiters.splice(0)) w();
    });
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => {
      for (const w of this.#waiters.splice(0)) w();
      resolve({ code, reason: reason.toString() });
    }));
  }

  static async connect(url: string): Promise<WsClient> {
    const client = new WsClient(new WebSocket(url));
    await client.opened;
    return client;
  }

  send(data: string | Uint8Array | object): void {
    if (typeof data === 'string' || data instanceof Uint8Array) this.ws.send(data);
    else this.ws.send(JSON.stringify(data));
  }

  /** Resolves when a message matching `pred` has arrived (or the socket closed). */
  async waitFor(pred: (m: ServerMessage) => boolean): Promise<ServerMessage | undefined> {
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      if (this.ws.readyState === WebSocket.CLOSED) return undefined;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async result(): Promise<StreamedSession> {
    const close = await this.closed;
    return {
      messages: this.messages,
      close,
      final: this.messages.find((m) => m.type === 'final'),
      errors: this.messages.filter((m) => m.type === 'error'),
      interims: this.messages.filter((m) => m.type === 'interim'),
    };
  }
}

/** ws:// URL of /ws/transcribe for a server's http:// URL. */
export const wsUrl = (httpUrl: string): string => `${httpUrl.replace(/^http/, 'ws')}/ws/transcribe`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stream PCM in chunks of `chunkBytes`, pausing `pauseMs` after each (0: as fast as the socket
 * takes it), then `end`; resolves with everything received once the server closes.
 */
export async function streamPcm(url: string, pcm: Uint8Array, opts: { config?: object; chunkBytes?: number; pauseMs?: number } = {}): Promise<StreamedSession> {
  const client = await WsClient.connect(url);
  if (opts.config) client.send({ type: 'config', ...opts.config });
  const chunk = opts.chunkBytes ?? 32_000;
  for (let at = 0; at < pcm.length; at += chunk) {
    client.send(pcm.subarray(at, at + chunk));
    if (opts.pauseMs) await sleep(opts.pauseMs);
  }
  client.send({ type: 'end' });
  return client.result();
}
