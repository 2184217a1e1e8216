/** @module How far a flush decode heard, so the next decode starts where it stopped and no speech is lost. Pure. */
import { toSample } from './window.js';

/** Audio kept past the end of the last decoded word when a flush cuts the window. */
export const COVER_PAD_S = 0.2;
/** Speech after the last decoded word that counts as not transcribed. */
export const MISSED_SPEECH_S = 0.5;

/**
 * Where a flush decode of the window up to `until` (samples) reached, and whether it stopped early.
 * `decodedToS`: seconds where the decode's last word ends, re-heard context included (undefined:
 * it gave no words). Whisper sometimes ends a window's text before its audio ends, most often with
 * the context's last sentence, skipping an utterance after a pause: then speech the VAD heard
 * (`lastSpeech`, samples) lies half a second or more past the last word, and the window must keep
 * it for another decode. Timestamps often end a little early, hence the margins.
 * @example flushReach(toSample(17.5), 11.0, toSample(17.2)) // { reached: toSample(11.2), stoppedEarly: true }
 */
export function flushReach(until: number, decodedToS: number | undefined, lastSpeech: number | undefined): { reached: number; stoppedEarly: boolean } {
  const reached = decodedToS === undefined ? until : Math.min(until, toSample(decodedToS + COVER_PAD_S));
  const heardUntil = Math.min(until, lastSpeech ?? 0);
  return { reached, stoppedEarly: heardUntil - reached >= toSample(MISSED_SPEECH_S) };
}
