import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../config.js';
import { encodeFrame, FrameDecoder, FrameTooLargeError, peekId, type DecodedFrame } from './frame.js';

const GOLDEN = path.join(ROOT_DIR, 'test', 'golden', 'frames');
interface Vector { file: string; max_frame_bytes: number; expect: Array<{ message?: unknown; fault?: string; id?: number }> }
const vectors = JSON.parse(readFileSync(path.join(GOLDEN, 'manifest.json'), 'utf8')) as Vector[];

/** Golden JSON spells bytes as {"$bytes": hex}; turn decoded values into the same shape. */
function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  return value;
}

function summarise(out: DecodedFrame[]) {
  return out.map((o) => ('message' in o ? { message: normalise(o.message) } : { fault: o.fault.kind, ...('id' in o.fault && o.fault.id !== undefined ? { id: o.fault.id } : {}) }));
}

describe('FrameDecoder on golden vectors', () => {
  for (const vector of vectors) {
    const bytes = readFileSync(path.join(GOLDEN, vector.file));
    it(`${vector.file} in one piece`, () => {
      expect(summarise(new FrameDecoder(vector.max_frame_bytes).push(bytes))).toEqual(vector.expect);
    });
    it(`${vector.file} split at every byte boundary`, () => {
      for (let cut = 1; cut < bytes.length; cut++) {
        const d = new FrameDecoder(vector.max_frame_bytes);
        const out = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
        expect(summarise(out)).toEqual(vector.expect);
      }
    });
    it(`${vector.file} one byte at a time`, () => {
      const d = new FrameDecoder(vector.max_frame_bytes);
      const out: DecodedFrame[] = [];
      for (const byte of bytes) out.push(...d.push(Buffer.from([byte])));
      expect(summarise(out)).toEqual(vector.expect);
    });
  }
});

describe('encodeFrame', () => {
  it('round-trips a message with raw PCM bytes', () => {
    const audio = Buffer.from(Int16Array.from([0, 1, -1, 32767, -32768]).buffer);
    const frame = encodeFrame({ id: 5, type: 'transcribe', items: [{ audio }] }, 1 << 20);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    const [out] = new FrameDecoder(1 << 20).push(frame);
    expect(out && 'message' in out && Buffer.from((out.message.items as Array<{ audio: Uint8Array }>)[0]!.audio).equals(audio)).toBe(true);
  });

  it('puts the id first so peekId reads it', () => {
    for (const id of [0, 127, 128, 65535, 65536, 2 ** 32 - 1]) {
      expect(peekId(encodeFrame({ id, type: 'ping' }, 1024).subarray(4))).toBe(id);
    }
  });

  it('refuses a message over the limit', () => {
    expect(() => encodeFrame({ id: 1, audio: Buffer.alloc(2048) }, 1024)).toThrow(FrameTooLargeError);
  });

  it('keeps decoding after an oversize frame that never gets buffered', () => {
    const d = new FrameDecoder(64);
    const big = encodeFrame({ id: 9, blob: Buffer.alloc(10_000) }, 1 << 20);
    const out = [...d.push(big.subarray(0, 100)), ...d.push(big.subarray(100)), ...d.push(encodeFrame({ id: 3, type: 'pong' }, 64))];
    expect(summarise(out)).toEqual([{ fault: 'too_large', id: 9 }, { message: { id: 3, type: 'pong' } }]);
  });
});
