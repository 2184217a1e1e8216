import { describe, expect, it } from 'vitest';
import { nextFailureCount, restartDelayMs } from './restart-policy.js';

const options = { baseMs: 250, maxMs: 30_000, stableMs: 30_000 };

describe('restart policy', () => {
  it('doubles the delay per failure in a row, up to the cap', () => {
    expect([1, 2, 3, 4, 8, 20, 100].map((n) => restartDelayMs(n, options))).toEqual([250, 500, 1000, 2000, 30_000, 30_000, 30_000]);
  });
  it('counts failures in a row, and a stable run resets the count', () => {
    expect(nextFailureCount(3, 1_000, options)).toBe(4);
    expect(nextFailureCount(3, 30_000, options)).toBe(1);
    expect(nextFailureCount(0, 0, options)).toBe(1);
  });
});
