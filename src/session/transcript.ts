/** @module The transcript a client sees, from the agreement state: committed and tentative text, and segments with times. Pure. */
import type { AgreementState } from './agreement.js';
import { joinWords, type Word } from './hypothesis.js';

export interface TimedText {
  text: string;
  start: number;
  end: number;
  /** With `withConfidence`, where every word has one: each word's probability, in order. */
  confidence?: number[];
}

/** Group words into segments: a segment closes after a word that carries a segment end. */
export function segmentsOf(words: readonly Word[], withConfidence = false): TimedText[] {
  const out: TimedText[] = [];
  let group: Word[] = [];
  const close = () => {
    if (group.length === 0) return;
    const last = group[group.length - 1]!;
    const confidence = withConfidence && group.every((w) => w.confidence !== undefined) ? group.map((w) => w.confidence!) : undefined;
    out.push({ text: joinWords(group), start: group[0]!.start, end: last.segmentEnd ?? last.end, ...(confidence ? { confidence } : {}) });
    group = [];
  };
  for (const word of words) {
    group.push(word);
    if (word.segmentEnd !== undefined) close();
  }
  close();
  return out;
}

/** What an interim message shows (`withConfidence`: segments carry their words' probabilities, for the protocol adapters). */
export function transcriptOf(state: AgreementState, withConfidence = false): { text: string; committed: string; tentative: string; segments: Array<TimedText & { committed: boolean }> } {
  const committed = joinWords(state.committed);
  const tentative = joinWords(state.tentative);
  return {
    text: [committed, tentative].filter(Boolean).join(' '),
    committed,
    tentative,
    segments: [
      ...segmentsOf(state.committed, withConfidence).map((s) => ({ ...s, committed: true })),
      ...segmentsOf(state.tentative, withConfidence).map((s) => ({ ...s, committed: false })),
    ],
  };
}

/** Mark the last word as closing a segment (an utterance end or a flush closes whatever was open). */
export function closeLastSegment(words: readonly Word[]): Word[] {
  if (words.length === 0) return [];
  const last = words[words.length - 1]!;
  return [...words.slice(0, -1), { ...last, segmentEnd: last.segmentEnd ?? last.end }];
}

/** The last `maxChars` characters of committed text before the window: Whisper's prompt (it takes ~224 tokens). */
export function promptOf(state: AgreementState, maxChars = 200): string | null {
  const before = state.committed.slice(0, state.committed.length - state.inWindow);
  const text = joinWords(before);
  if (!text) return null;
  if (text.length <= maxChars) return text;
  const cut = text.slice(text.length - maxChars);
  const space = cut.indexOf(' ');
  return space === -1 ? cut : cut.slice(space + 1);
}
