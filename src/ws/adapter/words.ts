/**
 * @module What a protocol adapter (Deepgram /v1/listen, OpenAI /v1/realtime) reads out of a
 * session's frames: the committed and tentative transcript as timed words. Committed words never
 * change (src/session/agreement.ts), so an adapter emits each one once, by index. Word times are
 * interpolated inside their segment by character position, as src/session/hypothesis.ts does for
 * the decode itself. Pure.
 */
import type { FinalFrame, InterimFrame } from '../../session/types.js';

/** A word on the session timeline (seconds since the first sample). */
export interface TimedWord {
  text: string;
  start: number;
  end: number;
  /** With diarize: the segment's speaker ("A", "B", ...), null while it is not known yet. */
  speaker?: string | null;
  /** The model's probability for the word, where the session's frame carried one. */
  confidence?: number;
}

interface TimedPiece {
  text: string;
  start: number;
  end: number;
  speaker?: string | null | undefined;
  confidence?: number[] | undefined;
}

/** The words of timed pieces of text (segments), in order. */
export function wordsOfPieces(pieces: readonly TimedPiece[]): TimedWord[] {
  const out: TimedWord[] = [];
  for (const piece of pieces) {
    const parts = piece.text.split(/\s+/).filter(Boolean);
    const total = parts.reduce((n, p) => n + p.length, 0);
    let seen = 0;
    const span = Math.max(0, piece.end - piece.start);
    const confidence = piece.confidence?.length === parts.length ? piece.confidence : undefined;
    for (const [i, text] of parts.entries()) {
      const start = piece.start + (span * seen) / total;
      seen += text.length;
      const end = piece.start + (span * seen) / total;
      out.push({ text, start: round(start), end: round(end), ...(piece.speaker !== undefined ? { speaker: piece.speaker } : {}), ...(confidence ? { confidence: confidence[i]! } : {}) });
    }
  }
  return out;
}

/** Committed and tentative words of an interim. */
export function interimWords(frame: InterimFrame): { committed: TimedWord[]; tentative: TimedWord[] } {
  return {
    committed: wordsOfPieces(frame.segments.filter((s) => s.committed)),
    tentative: wordsOfPieces(frame.segments.filter((s) => !s.committed)),
  };
}

/** Every committed word of a final (its chunks are the committed segments, or words). */
export function finalWords(frame: FinalFrame): TimedWord[] {
  return wordsOfPieces(frame.chunks.map((c) => ({ text: c.text, start: c.timestamp[0], end: c.timestamp[1], speaker: c.speaker, confidence: c.confidence })));
}

/** Millisecond precision, as every other time the server sends. */
export const round = (seconds: number): number => Math.round(seconds * 1000) / 1000;

/** Words joined into text. */
export const joinText = (words: readonly TimedWord[]): string => words.map((w) => w.text).join(' ');
