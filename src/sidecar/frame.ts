/**
 * @module The byte layer of the sidecar protocol: 4-byte big-endian length + one msgpack map.
 * Pure: no I/O, no timers. Mirror of sidecar/framing.py; docs/sidecar-protocol.md is the contract.
 *
 * Faults are classified, never guessed: a frame over the size limit is discarded by counting
 * bytes (never buffered) and reported with the request id when its first bytes reveal one; a
 * payload that does not decode is skipped; a length no honest peer sends means the stream is
 * out of sync, which only a restart can mend.
 */
import { Packr } from 'msgpackr';

export const HEADER_BYTES = 4;
/** Past this a length prefix cannot be honest: the byte stream is out of sync. */
export const SYNC_LOST_BYTES = 1024 * 1024 * 1024;
const PEEK_BYTES = 64;

// useRecords off: plain maps that the Python msgpack library reads as dicts.
// encodeUndefinedAsNil: an optional field left undefined must reach Python as None, not as an
// extension type it cannot read.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, encodeUndefinedAsNil: true });

/** A frame that could not become a message. `fatal` means the stream is out of sync. */
export type FrameFault =
  | { kind: 'too_large'; size: number; id: number | undefined; fatal: false }
  | { kind: 'undecodable'; detail: string; id: number | undefined; fatal: false }
  | { kind: 'out_of_sync'; size: number; fatal: true };

/** What the decoder yields: a message, or a fault in its place. */
export type DecodedFrame = { message: Record<string, unknown> } | { fault: FrameFault };

/** Thrown by encodeFrame when a message does not fit the limit. */
export class FrameTooLargeError extends Error {
  constructor(readonly size: number, readonly limit: number) {
    super(`frame of ${size} bytes exceeds the limit of ${limit}`);
    this.name = 'FrameTooLargeError';
  }
}

/**
 * Encode one message. Put `id` first in the object so a peer can read it from the first bytes.
 * @example encodeFrame({ id: 1, type: 'ping' }, 1 << 20)
 */
export function encodeFrame(message: Record<string, unknown>, maxBytes: number): Buffer {
  const payload = packr.pack(message);
  if (payload.length > maxBytes) throw new FrameTooLargeError(payload.length, maxBytes);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/** Read the request id from the first bytes of a msgpack map whose first key is "id". */
export function peekId(prefix: Uint8Array): number | undefined {
  let at = 0;
  const b = prefix[at++];
  if (b === undefined) return undefined;
  if (b >= 0x80 && b <= 0x8f) { /* fixmap */ } else if (b === 0xde) at += 2; else if (b === 0xdf) at += 4; else return undefined;
  // key must be the fixstr "id"
  if (prefix[at] !== 0xa2 || prefix[at + 1] !== 0x69 || prefix[at + 2] !== 0x64) return undefined;
  at += 3;
  const t = prefix[at++];
  if (t === undefined) return undefined;
  const view = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.length);
  try {
    if (t <= 0x7f) return t;
    if (t === 0xcc) return view.readUInt8(at);
    if (t === 0xcd) return view.readUInt16BE(at);
    if (t === 0xce) return view.readUInt32BE(at);
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * Incremental decoder: push() any slicing of the byte stream; complete messages and faults come out in order.
 * @example const d = new FrameDecoder(1 << 20); for (const out of d.push(chunk)) ...
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Bytes of an oversize frame still to discard, and what we learned of it. */
  #skip: { remaining: number; size: number; prefix: Buffer[]; prefixLen: number; reported: boolean } | undefined;
  #dead = false;

  constructor(readonly maxFrameBytes: number) {}

  /** Feed bytes; returns decoded messages and faults in stream order. */
  push(chunk: Buffer): DecodedFrame[] {
    const out: DecodedFrame[] = [];
    if (this.#dead) return out;
    let data = chunk;
    while (data.length > 0 || this.#ready()) {
      if (this.#skip) {
        data = this.#discard(data, out);
        continue;
      }
      if (data.length > 0) {
        this.#chunks.push(data);
        this.#buffered += data.length;
        data = Buffer.alloc(0);
      }
      if (this.#buffered < HEADER_BYTES) break;
      const head = this.#peek(HEADER_BYTES);
      const size = head.readUInt32BE(0);
      if (size > SYNC_LOST_BYTES) {
        this.#dead = true;
        out.push({ fault: { kind: 'out_of_sync', size, fatal: true } });
        return out;
      }
      if (size > this.maxFrameBytes) {
        const rest = this.#take(this.#buffered).subarray(HEADER_BYTES);
        this.#skip = { remaining: size, size, prefix: [], prefixLen: 0, reported: false };
        data = rest;
        continue;
      }
      if (this.#buffered < HEADER_BYTES + size) break;
      const frame = this.#take(HEADER_BYTES + size).subarray(HEADER_BYTES);
      out.push(decodePayload(frame));
    }
    return out;
  }

  #ready(): boolean {
    if (this.#skip || this.#buffered < HEADER_BYTES) return false;
    const size = this.#peek(HEADER_BYTES).readUInt32BE(0);
    return size > this.maxFrameBytes || this.#buffered >= HEADER_BYTES + size;
  }

  #discard(data: Buffer, out: DecodedFrame[]): Buffer {
    const skip = this.#skip!;
    const n = Math.min(skip.remaining, data.length);
    if (skip.prefixLen < PEEK_BYTES) {
      const part = data.subarray(0, Math.min(n, PEEK_BYTES - skip.prefixLen));
      skip.prefix.push(Buffer.from(part));
      skip.prefixLen += part.length;
    }
    skip.remaining -= n;
    if (!skip.reported && (skip.prefixLen >= PEEK_BYTES || skip.remaining === 0)) {
      skip.reported = true;
      out.push({ fault: { kind: 'too_large', size: skip.size, id: peekId(Buffer.concat(skip.prefix)), fatal: false } });
    }
    if (skip.remaining === 0) this.#skip = undefined;
    return data.subarray(n);
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length >= n) return this.#chunks[0]!.subarray(0, n);
    const all = Buffer.concat(this.#chunks);
    this.#chunks = [all];
    return all.subarray(0, n);
  }

  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return taken;
  }
}

function decodePayload(payload: Buffer): DecodedFrame {
  try {
    const message: unknown = packr.unpack(payload);
    if (message !== null && typeof message === 'object' && !Array.isArray(message) && !(message instanceof Uint8Array)) {
      return { message: message as Record<string, unknown> };
    }
    return { fault: { kind: 'undecodable', detail: 'payload is not a map', id: undefined, fatal: false } };
  } catch (err) {
    return { fault: { kind: 'undecodable', detail: String(err), id: peekId(payload.subarray(0, PEEK_BYTES)), fatal: false } };
  }
}
