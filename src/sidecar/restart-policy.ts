/** @module When to restart the sidecar: exponential backoff from the crash history. Pure. */

export interface RestartPolicyOptions {
  /** Delay before the first restart after a stable run. */
  baseMs: number;
  /** The delay never grows past this: the service keeps trying, never gives up. */
  maxMs: number;
  /** A process that stayed ready this long resets the backoff. */
  stableMs: number;
}

/** How many failures in a row, given the previous count and how long the dead process was ready. */
export function nextFailureCount(previous: number, readyMs: number, options: RestartPolicyOptions): number {
  return readyMs >= options.stableMs ? 1 : previous + 1;
}

/**
 * Delay before the next start after `failures` failures in a row (1 = first).
 * @example restartDelayMs(3, { baseMs: 250, maxMs: 30000, stableMs: 30000 }) // 1000
 */
export function restartDelayMs(failures: number, options: RestartPolicyOptions): number {
  const exponent = Math.max(0, failures - 1);
  return Math.min(options.maxMs, options.baseMs * 2 ** Math.min(exponent, 30));
}
