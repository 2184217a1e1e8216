/**
 * @module A WebSocket client at the byte level, for tests that must send what a well-behaved library
 * never would: half a frame then a hang-up, bad opcodes, unmasked or oversized control frames.
 * It does the upgrade by hand over a TCP socket and parses the server's (unmasked) frames.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';

export interface RawFrameOptions {
  fin?: boolean;
  rsv?: number;
  mask?: boolean;
  /** Length written in the header when it must lie about the payload. */
  declaredLength?: number;
}

/** A client frame (masked unless told otherwise), as the bytes that go on the wire. */
export function clientFrame(opcode: number, payload: Uint8Array, opts: RawFrameOptions = {}): Buffer {
  const fin = opts.fin ?? true;
  const mask = opts.mask ?? true;
  const length = opts.declaredLength ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) & 7) << 4 | (opcode & 0x0f)];
  const maskBit = mask ? 0x80 : 0;
  if (length < 126) head.push(maskBit | length);
  else if (length < 65_536) head.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(maskBit | 127, ...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i % 4]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}

export interface RawMessage {
  opcode: number;
  payload: Buffer;
}

/** A raw connection to a WebSocket path: frames the server sent, and how the TCP stream ended. */
export class RawWs {
  readonly frames: RawMessage[] = [];
  readonly ended: Promise<void>;
  #buf = Buffer.alloc(0);

  private constructor(readonly socket: net.Socket, private readonly answerClose: boolean) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {}); // a reset by the server is an outcome the caller inspects, not a failure
  }

  /**
   * Upgrade to WebSocket on `path`; rejects if the server does not answer 101. With `answerClose`
   * the client echoes the server's close frame as a polite client does; without it, it never does.
   */
  static async connect(port: number, path: string, answerClose = false): Promise<RawWs> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const rest = await new Promise<Buffer>((resolve, reject) => {
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onData);
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!/^HTTP\/1\.1 101/.test(status)) return reject(new Error(`upgrade refused: ${status}`));
        resolve(head.subarray(end + 4));
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('closed during upgrade')));
    });
    const raw = new RawWs(socket, answerClose);
    raw.#feed(rest);
    socket.on('data', (chunk: Buffer) => raw.#feed(chunk));
    return raw;
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Text payloads of the server's text frames, parsed as JSON where they are. */
  texts(): unknown[] {
    return this.frames.filter((f) => f.opcode === 1).map((f) => {
      try {
        return JSON.parse(f.payload.toString('utf8')) as unknown;
      } catch {
        return f.payload.toString('utf8');
      }
    });
  }

  /** The status code of the server's close frame, if it sent one. */
  closeCode(): number | undefined {
    const close = this.frames.find((f) => f.opcode === 8);
    return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined;
  }

  /** Resolves once the server closed the TCP stream or `ms` passed; true if it closed. */
  async waitEnded(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([this.ended.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), ms); })]);
    clearTimeout(timer);
    return closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #feed(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    for (;;) {
      if (this.#buf.length < 2) return;
      const opcode = this.#buf[0]! & 0x0f;
      let length = this.#buf[1]! & 0x7f;
      let at = 2;
      if (length === 126) {
        if (this.#buf.length < 4) return;
        length = this.#buf.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (this.#buf.length < 10) return;
        length = Number(this.#buf.readBigUInt64BE(2));
        at = 10;
      }
      if (this.#buf.length < at + length) return;
      const payload = Buffer.from(this.#buf.subarray(at, at + length));
      this.frames.push({ opcode, payload });
      if (opcode === 8 && this.answerClose) this.write(clientFrame(8, payload.subarray(0, 2)));
      this.#buf = this.#buf.subarray(at + length);
    }
  }
}
