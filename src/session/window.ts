/**
 * @module The rolling PCM window of one session: 16 kHz int16 samples from `start` to `end` on the
 * session's own timeline (sample 0 = the first sample received). Audio is appended at the end and
 * trimmed at the front (at commit points), so what is re-decoded stays short. Pure data, no I/O.
 */
import { int16ToPcm16 } from '../audio/pcm.js';

export const SAMPLE_RATE = 16_000;

/** Seconds on the session timeline of a sample index. */
export const toSeconds = (sample: number): number => sample / SAMPLE_RATE;
/** Sample index of seconds on the session timeline. */
export const toSample = (seconds: number): number => Math.round(seconds * SAMPLE_RATE);

export class AudioWindow {
  #parts: Int16Array[] = [];
  #start = 0;
  #length = 0;

  /** Timeline index of the first sample held. */
  get start(): number {
    return this.#start;
  }

  /** Timeline index one past the last sample held (= samples received so far). */
  get end(): number {
    return this.#start + this.#length;
  }

  /** Samples held. */
  get length(): number {
    return this.#length;
  }

  append(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.#parts.push(samples);
    this.#length += samples.length;
  }

  /** Drop everything before timeline sample `at` (clamped to what is held). */
  trimTo(at: number): void {
    const target = Math.min(Math.max(at, this.#start), this.end);
    let drop = target - this.#start;
    while (drop > 0 && this.#parts.length > 0) {
      const head = this.#parts[0]!;
      if (head.length <= drop) {
        this.#parts.shift();
        drop -= head.length;
        this.#length -= head.length;
        this.#start += head.length;
      } else {
        this.#parts[0] = head.subarray(drop);
        this.#length -= drop;
        this.#start += drop;
        drop = 0;
      }
    }
  }

  /** s16le bytes of timeline samples [from, to), clamped to what is held. */
  bytes(from = this.#start, to = this.end): Uint8Array {
    const lo = Math.max(from, this.#start);
    const hi = Math.min(to, this.end);
    const out = new Int16Array(Math.max(0, hi - lo));
    let at = this.#start;
    let written = 0;
    for (const part of this.#parts) {
      const partEnd = at + part.length;
      if (partEnd > lo && at < hi) {
        const slice = part.subarray(Math.max(0, lo - at), Math.min(part.length, hi - at));
        out.set(slice, written);
        written += slice.length;
      }
      at = partEnd;
    }
    return int16ToPcm16(out);
  }
}
