import { describe, expect, it } from 'vitest';
import { float32LeToArray, float32ToInt16, int16ToFloat32, int16ToPcm16, pcm16Problem, pcm16ToInt16 } from './pcm.js';

describe('pcm', () => {
  it('reads and writes s16le exactly, whatever the alignment', () => {
    const bytes = new Uint8Array([0xff, 0x01, 0x00, 0x80, 0xff, 0x7f]);
    const unaligned = new Uint8Array(7);
    unaligned.set(bytes, 1);
    const samples = pcm16ToInt16(unaligned.subarray(1));
    expect(Array.from(samples)).toEqual([0x01ff, -32768, 32767]);
    expect(Array.from(int16ToPcm16(samples))).toEqual(Array.from(bytes));
  });

  it('rejects odd byte counts and accepts even ones', () => {
    expect(pcm16Problem(new Uint8Array(3))).toMatch(/3 bytes/);
    expect(pcm16Problem(new Uint8Array(4))).toBeUndefined();
    expect(pcm16Problem(new Uint8Array(0))).toBeUndefined();
  });

  it('converts to floats and back, clipping out-of-range values', () => {
    expect(Array.from(int16ToFloat32(Int16Array.from([-32768, 0, 16384])))).toEqual([-1, 0, 0.5]);
    expect(Array.from(float32ToInt16(Float32Array.from([-2, 0.5, 2])))).toEqual([-32768, 16384, 32767]);
  });

  it('reads little-endian float32 probabilities', () => {
    const bytes = new Uint8Array(Float32Array.from([0.25, 1]).buffer);
    expect(Array.from(float32LeToArray(bytes))).toEqual([0.25, 1]);
  });
});
