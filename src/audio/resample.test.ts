import { describe, expect, it } from 'vitest';
import { Resampler } from './resample.js';

function tone(rate: number, hz: number, seconds: number, amp = 10_000): Int16Array {
  return Int16Array.from({ length: Math.round(rate * seconds) }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * hz * i) / rate)));
}

function rms(x: Int16Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! ** 2;
  return Math.sqrt(s / (to - from));
}

function resampleInChunks(rate: number, input: Int16Array, chunk: number): Int16Array {
  const r = new Resampler(rate);
  const parts: Int16Array[] = [];
  for (let i = 0; i < input.length; i += chunk) parts.push(r.push(input.subarray(i, i + chunk)));
  parts.push(r.flush());
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('Resampler', () => {
  it('passes 16 kHz through unchanged', () => {
    const x = tone(16_000, 440, 0.1);
    expect(Array.from(resampleInChunks(16_000, x, 333))).toEqual(Array.from(x));
  });

  it.each([8_000, 22_050, 44_100, 48_000])('turns %i Hz into the right number of 16 kHz samples and keeps a 440 Hz tone', (rate) => {
    const x = tone(rate, 440, 1);
    const y = resampleInChunks(rate, x, 1_000);
    expect(Math.abs(y.length - 16_000)).toBeLessThanOrEqual(1);
    const expected = tone(16_000, 440, 1);
    // Away from the edges the output is the same tone, sample for sample within 2 %.
    let err = 0;
    for (let i = 1_000; i < 15_000; i++) err = Math.max(err, Math.abs(y[i]! - expected[i]!));
    expect(err).toBeLessThan(200);
  });

  it('gives the same samples whatever the chunking', () => {
    const x = tone(44_100, 1_000, 0.5);
    expect(Array.from(resampleInChunks(44_100, x, 7))).toEqual(Array.from(resampleInChunks(44_100, x, 10_000)));
  });

  it('filters out what 16 kHz cannot hold (a 12 kHz tone at 48 kHz) instead of aliasing it', () => {
    const y = resampleInChunks(48_000, tone(48_000, 12_000, 1), 4_800);
    expect(rms(y, 500, 15_500)).toBeLessThan(100); // of an input rms of ~7,000
  });

  it('refuses rates outside 8..48 kHz', () => {
    expect(() => new Resampler(7_999)).toThrow(RangeError);
    expect(() => new Resampler(48_001)).toThrow(RangeError);
  });
});
