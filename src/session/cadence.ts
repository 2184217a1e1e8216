/**
 * @module Decode cadence: how much new audio is worth a re-decode of a session's window. Pure.
 *
 * The interval follows the last decode's wall time, queueing included, between `minS` and `maxS`.
 * Alone on the model a session then re-decodes as soon as the model has caught up with the audio
 * that came in meanwhile (a 0.6 s decode every 0.6 s of audio, not every 1 s); when other sessions
 * or a file slice share the model its decodes wait longer and the interval stretches with them, so
 * no backlog grows. (Besides, one decode per session is in flight at a time: under heavy load the
 * real interval stretches past `maxS` by itself.)
 */
export function decodeInterval(lastDecodeMs: number, minS: number, maxS: number): number {
  // Before the first decode lastDecodeMs is Infinity: maxS.
  return Math.min(maxS, Math.max(minS, lastDecodeMs / 1000));
}
