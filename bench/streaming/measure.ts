/** @module Figures for the streaming benchmark: word-level alignment of commits to the audio, and percentiles. Pure. */

/** What one client saw: when its committed words grew, and the rest. */
export interface Track {
  /** Each time the committed transcript changed: ms since the stream started, and all committed words (normalised). */
  commits: Array<{ at: number; words: string[] }>;
  finalText: string;
  finalLatencyMs: number;
  intervals: number[];
  /** Model calls the session made (the baseline: one per chunk). */
  decodes: number;
  lags: number[];
  errors: string[];
  /** ms since the stream started of the first message with any text (interim or final); NaN: none. */
  firstTextAt?: number;
}

/** Nearest-rank percentile; NaN for no data. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Index pairs (reference i, hypothesis j) of equal words on a minimum-edit alignment. */
export function matchWords(ref: readonly string[], hyp: readonly string[]): Array<[number, number]> {
  const d = Array.from({ length: ref.length + 1 }, (_, i) => Array.from({ length: hyp.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= hyp.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1));
    }
  }
  const pairs: Array<[number, number]> = [];
  for (let i = ref.length, j = hyp.length; i > 0 && j > 0;) {
    if (ref[i - 1] === hyp[j - 1] && d[i]![j] === d[i - 1]![j - 1]) {
      pairs.push([i - 1, j - 1]);
      i--;
      j--;
    } else if (d[i]![j] === d[i - 1]![j - 1]! + 1) {
      i--;
      j--;
    } else if (d[i]![j] === d[i - 1]![j]! + 1) i--;
    else j--;
  }
  return pairs.reverse();
}

/**
 * For every word of the offline decode that the stream also committed: seconds from the end of the
 * word in the audio (offline word timestamps) to the first commit that contained it.
 */
export function alignWords(offline: { words: string[]; wordEnds: number[] }, commits: Track['commits']): Array<{ word: string; latencyS: number }> {
  const last = commits[commits.length - 1];
  if (!last) return [];
  return matchWords(offline.words, last.words).flatMap(([i, j]) => {
    const first = commits.find((c) => c.words.length > j);
    return first ? [{ word: offline.words[i]!, latencyS: first.at / 1000 - offline.wordEnds[i]! }] : [];
  });
}
