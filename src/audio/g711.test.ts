import { describe, expect, it } from 'vitest';
import { alawToLinear, decodeG711, encodeG711, linearToAlaw, linearToUlaw, ulawToLinear } from './g711.js';

describe('G.711', () => {
  it('decodes the reference points of both laws', () => {
    expect(ulawToLinear(0xff)).toBe(0);
    expect(ulawToLinear(0x7f)).toBe(0);
    expect(ulawToLinear(0x00)).toBe(-32124);
    expect(ulawToLinear(0x80)).toBe(32124);
    expect(alawToLinear(0xd5)).toBe(8);
    expect(alawToLinear(0x55)).toBe(-8);
    expect(alawToLinear(0xaa)).toBe(32256);
    expect(alawToLinear(0x2a)).toBe(-32256);
  });

  it('every byte survives decode → encode (both laws)', () => {
    for (let b = 0; b < 256; b++) {
      // µ-law has two zeros (0x7f, 0xff): both decode to 0, which encodes as 0xff.
      if (b !== 0x7f) expect(linearToUlaw(ulawToLinear(b))).toBe(b);
      expect(linearToAlaw(alawToLinear(b))).toBe(b);
    }
  });

  it('round trip of a sine stays within the law\'s quantisation step', () => {
    const sine = Int16Array.from({ length: 800 }, (_, i) => Math.round(20_000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
    for (const law of ['ulaw', 'alaw'] as const) {
      const back = decodeG711(encodeG711(sine, law), law);
      for (let i = 0; i < sine.length; i++) expect(Math.abs(back[i]! - sine[i]!)).toBeLessThanOrEqual(Math.abs(sine[i]!) / 16 + 16);
    }
  });
});
