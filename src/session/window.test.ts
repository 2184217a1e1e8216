import { describe, expect, it } from 'vitest';
import { pcm16ToInt16 } from '../audio/pcm.js';
import { AudioWindow, toSample, toSeconds } from './window.js';

const ramp = (from: number, n: number) => Int16Array.from({ length: n }, (_, i) => from + i);

describe('AudioWindow', () => {
  it('appends, trims at the front and keeps timeline offsets', () => {
    const w = new AudioWindow();
    w.append(ramp(0, 10));
    w.append(ramp(10, 10));
    expect([w.start, w.end, w.length]).toEqual([0, 20, 20]);
    w.trimTo(13);
    expect([w.start, w.end, w.length]).toEqual([13, 20, 7]);
    expect(Array.from(pcm16ToInt16(w.bytes()))).toEqual([13, 14, 15, 16, 17, 18, 19]);
    w.append(ramp(20, 5));
    expect(Array.from(pcm16ToInt16(w.bytes(18, 22)))).toEqual([18, 19, 20, 21]);
  });

  it('clamps trims and slices to what it holds', () => {
    const w = new AudioWindow();
    w.append(ramp(0, 5));
    w.trimTo(-3);
    expect(w.start).toBe(0);
    w.trimTo(99);
    expect([w.start, w.end, w.length]).toEqual([5, 5, 0]);
    expect(w.bytes().byteLength).toBe(0);
    w.append(ramp(5, 3));
    expect(Array.from(pcm16ToInt16(w.bytes(0, 100)))).toEqual([5, 6, 7]);
  });

  it('converts between samples and seconds at 16 kHz', () => {
    expect(toSeconds(16_000)).toBe(1);
    expect(toSample(0.5)).toBe(8_000);
  });
});
