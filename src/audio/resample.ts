/**
 * @module 8–48 kHz → 16 kHz for streamed audio: a windowed-sinc resampler that keeps the few input
 * samples it still needs between calls, so chunk boundaries leave no seams. Pure: no I/O, no timers;
 * its state is plain data owned by the caller.
 */

/** The rate the model takes. */
export const TARGET_RATE = 16_000;
/** Input rates a client may declare. */
export const MIN_RATE = 8_000;
export const MAX_RATE = 48_000;
/** Zero crossings of the sinc on each side: quality vs cost (16 → ~-60 dB stop band with the Blackman window). */
const ZEROS = 16;

/** Streaming resampler from `fromRate` to 16 kHz. */
export class Resampler {
  readonly #step: number; // input samples per output sample
  readonly #cutoff: number; // normalised to the input Nyquist; < 1 when downsampling (anti-alias)
  readonly #half: number; // taps each side, in input samples
  #pending = new Float32Array(0); // input not yet consumed, starting at input index #base
  #base = 0;
  #next = 0; // input position (fractional, absolute) of the next output sample

  constructor(readonly fromRate: number) {
    if (!Number.isInteger(fromRate) || fromRate < MIN_RATE || fromRate > MAX_RATE) throw new RangeError(`sample rate ${fromRate} outside ${MIN_RATE}..${MAX_RATE}`);
    this.#step = fromRate / TARGET_RATE;
    this.#cutoff = Math.min(1, TARGET_RATE / fromRate);
    this.#half = Math.ceil(ZEROS / this.#cutoff);
  }

  /** Feed int16 samples at fromRate; returns the 16 kHz int16 samples they complete. */
  push(input: Int16Array): Int16Array {
    if (this.fromRate === TARGET_RATE) return input.slice();
    const joined = new Float32Array(this.#pending.length + input.length);
    joined.set(this.#pending);
    for (let i = 0; i < input.length; i++) joined[this.#pending.length + i] = input[i]!;
    this.#pending = joined;
    return this.#drain(false);
  }

  /** The samples still held back for look-ahead, as if the input ended with silence. */
  flush(): Int16Array {
    if (this.fromRate === TARGET_RATE) return new Int16Array(0);
    return this.#drain(true);
  }

  #drain(final: boolean): Int16Array {
    const end = this.#base + this.#pending.length; // absolute index one past the last input sample
    const out: number[] = [];
    while (final ? this.#next < end : this.#next + this.#half < end) {
      out.push(this.#sample(this.#next));
      this.#next += this.#step;
    }
    // Keep only what the next output samples can still reach.
    const keepFrom = Math.max(this.#base, Math.floor(this.#next) - this.#half);
    this.#pending = this.#pending.slice(keepFrom - this.#base);
    this.#base = keepFrom;
    return Int16Array.from(out, (v) => Math.max(-32768, Math.min(32767, Math.round(v))));
  }

  #sample(at: number): number {
    const lo = Math.max(this.#base, Math.ceil(at - this.#half));
    const hi = Math.min(this.#base + this.#pending.length - 1, Math.floor(at + this.#half));
    let sum = 0;
    for (let i = lo; i <= hi; i++) {
      const x = i - at;
      const w = 0.42 + 0.5 * Math.cos((Math.PI * x) / (this.#half + 1)) + 0.08 * Math.cos((2 * Math.PI * x) / (this.#half + 1));
      sum += this.#pending[i - this.#base]! * this.#cutoff * sinc(this.#cutoff * x) * w;
    }
    return sum;
  }
}

function sinc(x: number): number {
  if (x === 0) return 1;
  return Math.sin(Math.PI * x) / (Math.PI * x);
}
