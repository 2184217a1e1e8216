/**
 * @module Speaker labels for a streaming session (`{"type":"config","diarize":true}`): each committed
 * segment's audio is embedded by the sidecar (the Resemblyzer encoder, `embed` message) and matched
 * online against the speakers seen so far in this session: the most similar one if it is similar
 * enough, otherwise a new speaker. Labels never change once given, so they are stable for the
 * session; they come in order of first appearance ("A", "B", ...), as on the file endpoint.
 * OnlineSpeakers is the pure decision; SpeakerLabeller owns the audio it needs and the requests.
 */

import { speakerLabel } from '../sidecar/protocol.js';
import type { Word } from './hypothesis.js';
import { segmentsOf } from './transcript.js';

/** Cosine similarity to a speaker's centroid at or above which a segment is that speaker.
 * Segment embeddings of one speaker measured 0.82-0.86 apart, of different speakers 0.45-0.61
 * (jfk, fleurs-en-001, fleurs-de-000, ls-6930; sidecar/tests/test_diarize.py). */
export const SAME_SPEAKER = 0.7;
/** A segment shorter than this is too short to found a new speaker: it joins the nearest one.
 * Streamed segments can be short: greedy stream windows split jfk's first 4.3 s into "And so my
 * fellow Americans" (2.0 s) and "ask not" (1.6 s), and the 1.6 s piece's embedding fell under
 * SAME_SPEAKER to its own speaker's centroid, founding a spurious speaker at 1.0 s. */
export const MIN_NEW_SPEAKER_S = 2.0;
/** A segment shorter than this is not embedded at all: it takes the previous segment's speaker. */
export const MIN_EMBED_S = 0.4;
/** Audio kept for segments not yet embedded (a commit lags the audio by seconds, not minutes). */
const KEEP_S = 120;
const RATE = 16_000;

/** Online clustering: centroids of the speakers seen so far (pure apart from its own state). */
export class OnlineSpeakers {
  readonly #sums: Float64Array[] = [];

  get count(): number {
    return this.#sums.length;
  }

  /** The speaker index for a unit embedding of `seconds` of speech; adds a speaker when none is close. */
  assign(embedding: Float32Array, seconds: number): number {
    let best = -1;
    let bestSim = -Infinity;
    this.#sums.forEach((sum, i) => {
      let dot = 0;
      let norm = 0;
      for (let k = 0; k < sum.length; k++) {
        dot += sum[k]! * embedding[k]!;
        norm += sum[k]! * sum[k]!;
      }
      const sim = dot / Math.max(Math.sqrt(norm), 1e-9);
      if (sim > bestSim) [best, bestSim] = [i, sim];
    });
    if (best === -1 || (bestSim < SAME_SPEAKER && seconds >= MIN_NEW_SPEAKER_S)) {
      this.#sums.push(Float64Array.from(embedding, (v) => v * seconds));
      return this.#sums.length - 1;
    }
    const sum = this.#sums[best]!;
    for (let k = 0; k < sum.length; k++) sum[k]! += embedding[k]! * seconds;
    return best;
  }
}

interface Span {
  start: number;
  end: number;
}

/** Embeds committed segments one at a time, in order, and remembers their labels. */
export class SpeakerLabeller {
  readonly #speakers = new OnlineSpeakers();
  readonly #labels: Array<Span & { speaker: string | null }> = [];
  #chunks: Int16Array[] = [];
  #chunksStart = 0; // timeline sample of the first kept chunk
  #end = 0;
  #queue: Span[] = [];
  #running: Promise<void> | undefined;
  #finalWaited = false;

  constructor(private readonly embed: (audio: Uint8Array) => Promise<Float32Array>, private readonly onError: (err: unknown) => void) {}

  /** Session audio at 16 kHz, in timeline order (what the session's window receives). */
  append(samples: Int16Array): void {
    this.#chunks.push(samples);
    this.#end += samples.length;
    while (this.#chunks.length > 1 && this.#end - this.#chunksStart - this.#chunks[0]!.length > KEEP_S * RATE) {
      this.#chunksStart += this.#chunks.shift()!.length;
    }
  }

  /** Queue committed, closed segments not seen yet; resolves once every queued one is labelled. */
  label(segments: readonly Span[]): Promise<void> {
    const last = this.#queue.at(-1)?.end ?? this.#labels.at(-1)?.end ?? -Infinity;
    // Only segments after the last one seen: earlier ones are labelled already (by start time).
    for (const s of segments) if (s.start >= last - 1e-6 && s.end > s.start) this.#queue.push({ start: s.start, end: s.end });
    this.#running ??= this.#drain().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** After each commit: queue the committed segments that are closed (the last may still grow). */
  committed(words: readonly Word[]): void {
    const segments = segmentsOf(words);
    void this.label(words.at(-1)?.segmentEnd === undefined ? segments.slice(0, -1) : segments);
  }

  /** Before the final: false when every committed segment has its label; otherwise true, and
   * `then` runs once they all have (the final waits for its labels). */
  pending(words: readonly Word[], then: () => void): boolean {
    if (this.#finalWaited) return false; // once: a segment that cannot be labelled must not hold the final
    const segments = segmentsOf(words);
    const done = segments.every((s) => this.#labels.some((l) => Math.abs(l.start - s.start) < 1e-6));
    if (!done) {
      this.#finalWaited = true;
      void this.label(segments).then(then);
    }
    return !done;
  }

  /** `{speaker}` for a frame's segment or chunk starting at `start` seconds (null: not known yet). */
  at(start: number): { speaker: string | null } {
    return { speaker: this.speakerAt(start) ?? null };
  }

  /** An interim's transcript with a speaker on each committed segment. */
  labelled<T extends { segments: Array<{ start: number; committed: boolean }> }>(t: T): T {
    return { ...t, segments: t.segments.map((s) => (s.committed ? { ...s, ...this.at(s.start) } : s)) };
  }

  /** The label of the segment that holds time t (seconds), if it has been labelled. */
  speakerAt(t: number): string | null | undefined {
    return this.#labels.find((l) => t >= l.start - 1e-6 && t < l.end)?.speaker;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const span = this.#queue.shift()!;
      this.#labels.push({ ...span, speaker: await this.#speakerOf(span) });
    }
  }

  async #speakerOf(span: Span): Promise<string | null> {
    const seconds = span.end - span.start;
    const previous = this.#labels.at(-1)?.speaker ?? null;
    const audio = this.#slice(span);
    if (seconds < MIN_EMBED_S || audio === undefined) return previous;
    try {
      return speakerLabel(this.#speakers.assign(await this.embed(audio), seconds));
    } catch (err) {
      this.onError(err);
      return previous;
    }
  }

  /** s16le bytes of [start, end) seconds, or undefined once that audio is no longer kept. */
  #slice(span: Span): Uint8Array | undefined {
    const from = Math.round(span.start * RATE);
    const to = Math.min(Math.round(span.end * RATE), this.#end);
    if (from < this.#chunksStart || to <= from) return undefined;
    const out = new Int16Array(to - from);
    let at = this.#chunksStart;
    for (const chunk of this.#chunks) {
      const a = Math.max(from, at);
      const b = Math.min(to, at + chunk.length);
      if (b > a) out.set(chunk.subarray(a - at, b - at), a - from);
      at += chunk.length;
    }
    return new Uint8Array(out.buffer);
  }
}
