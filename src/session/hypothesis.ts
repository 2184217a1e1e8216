/**
 * @module One decode of a window → timed words on the session timeline. Segment chunks are split
 * into words whose times are interpolated by character position; word chunks (word_timestamps)
 * keep their own times. Also the guard against repetition loops, a known Whisper failure. Pure.
 */
import type { Chunk } from '../sidecar/protocol.js';

/** A word of a hypothesis, with times in seconds on the session timeline. */
export interface Word {
  text: string;
  start: number;
  end: number;
  /** Set on the last word of a segment the model closed: a safe place to cut the window. */
  segmentEnd?: number;
  /** The model's probability for the word (its tokens' geometric mean), where the sidecar gave one. */
  confidence?: number;
  /** Where on the timeline (s) the model listened while it wrote the word, where the sidecar said (AlignAtt). */
  attended?: number;
}

/** Lower-case letters and digits only: what two hypotheses must share for a word to agree. */
export function normalizeWord(text: string): string {
  const n = text.toLowerCase().normalize('NFC').replace(/[^\p{L}\p{N}]/gu, '');
  return n === '' ? text.trim() : n;
}

/** A segment's first word heard this much later than the segment's start: the segment starts in a pause. */
const LEADING_PAUSE_S = 1.0;
/** How far before the place the model listened at for a word the word starts (it listens near its end). */
const ATTENDED_LEAD_S = 0.3;

/** Sentence-final punctuation: in word mode, where a word closes a sentence, the window may be cut. */
const SENTENCE_END = /[.?!。？！]["')\]]*$/;

/**
 * Words of a decode of audio that starts at `offset` s and lasts `duration` s on the timeline.
 * `words`: the chunks are words (word_timestamps), otherwise segments.
 */
export function wordsOf(chunks: readonly Chunk[], offset: number, duration: number, words: boolean): Word[] {
  const out: Word[] = [];
  chunks.forEach((chunk, index) => {
    let start = Math.min(chunk.timestamp[0] ?? 0, duration);
    const end = Math.min(Math.max(chunk.timestamp[1] ?? duration, start), duration);
    const parts = chunk.text.split(/\s+/).filter(Boolean);
    if (parts.length === 0) return;
    const closed = chunk.timestamp[1] !== null && index < chunks.length - 1 ? true : chunk.timestamp[1] !== null && end < duration - 0.3;
    if (words) {
      const text = parts.join(' ');
      out.push({ text, start: offset + start, end: offset + end, ...(SENTENCE_END.test(text) && closed ? { segmentEnd: offset + end } : {}) });
      return;
    }
    const total = parts.reduce((n, p) => n + p.length, 0);
    const confidence = chunk.confidence?.length === parts.length ? chunk.confidence : undefined;
    const attended = chunk.attended?.length === parts.length ? chunk.attended : undefined;
    // A window that starts with a pause gets its first segment timed from 0 (<|0.00|>) although
    // the speech starts later: where the model listened for the first word says where it starts.
    if (attended && attended[0]! - start > LEADING_PAUSE_S) start = Math.min(end, attended[0]! - ATTENDED_LEAD_S);
    let seen = 0;
    parts.forEach((text, i) => {
      const a = start + ((end - start) * seen) / total;
      seen += text.length;
      const b = start + ((end - start) * seen) / total;
      const last = i === parts.length - 1;
      out.push({ text, start: offset + a, end: offset + b, ...(last && closed ? { segmentEnd: offset + end } : {}), ...(confidence ? { confidence: confidence[i]! } : {}), ...(attended ? { attended: offset + attended[i]! } : {}) });
    });
  });
  return dropRepetitionLoop(out);
}

/**
 * Cut a hypothesis where it starts looping: an n-gram (n = 1..8) repeated back to back more than
 * the limit (4 times for one word, 3 for longer ones) keeps its first occurrence only, and the rest
 * of the hypothesis after the loop is dropped (what follows a loop is not trustworthy either).
 */
export function dropRepetitionLoop(words: readonly Word[]): Word[] {
  const norm = words.map((w) => normalizeWord(w.text));
  for (let i = 0; i < norm.length; i++) {
    for (let n = 1; n <= 8 && i + 2 * n <= norm.length; n++) {
      let repeats = 1;
      while (i + (repeats + 1) * n <= norm.length && sameRun(norm, i, i + repeats * n, n)) repeats += 1;
      if (repeats > (n === 1 ? 4 : 3)) return words.slice(0, i + n);
    }
  }
  return words.slice();
}

function sameRun(norm: string[], a: number, b: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (norm[a + k] !== norm[b + k]) return false;
  return true;
}

/** Text of words as one string. */
export const joinWords = (words: readonly Word[]): string => words.map((w) => w.text).join(' ');
