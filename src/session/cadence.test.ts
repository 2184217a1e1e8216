import { describe, expect, it } from 'vitest';
import { decodeInterval } from './cadence.js';

describe('decode cadence', () => {
  it('follows the last decode time between the short and the configured interval', () => {
    expect(decodeInterval(300, 0.5, 1)).toBe(0.5);
    expect(decodeInterval(640, 0.5, 1)).toBeCloseTo(0.64);
    expect(decodeInterval(2500, 0.5, 1)).toBe(1);
  });

  it('uses the configured interval before the first decode, and a fixed cadence when both are equal', () => {
    expect(decodeInterval(Number.POSITIVE_INFINITY, 0.5, 1)).toBe(1);
    expect(decodeInterval(200, 1, 1)).toBe(1);
  });
});
