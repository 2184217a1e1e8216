/**
 * @module Speaker labels on a transcript: each word goes to the speaker whose turns overlap it most
 * (the sidecar's diarization gives the turns), and segments are rebuilt so that none spans a
 * speaker change: a run of words by one speaker is cut into segments as usual (sentence ends,
 * pauses), and a new segment starts at the word where the speaker changes. Pure: values in, values out.
 */
import { speakerLabel, type SpeakerTurn } from '../sidecar/protocol.js';
import { segmentsFromWords, type Segment, type Word } from './formats.js';

export { speakerLabel };

/**
 * The speaker index for a span: most overlap with the turns; a span no turn overlaps (a word in a
 * pause the VAD left out) goes to the nearest turn. Undefined when there are no turns at all.
 */
export function speakerAt(start: number, end: number, turns: readonly SpeakerTurn[]): number | undefined {
  if (turns.length === 0) return undefined;
  const overlap = new Map<number, number>();
  for (const t of turns) {
    const o = Math.min(end, t.end) - Math.max(start, t.start);
    if (o > 0) overlap.set(t.speaker, (overlap.get(t.speaker) ?? 0) + o);
  }
  if (overlap.size > 0) return [...overlap.entries()].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  const mid = (start + end) / 2;
  const distance = (t: SpeakerTurn) => (mid < t.start ? t.start - mid : mid - t.end);
  return turns.reduce((a, b) => (distance(b) < distance(a) ? b : a)).speaker;
}

/** Words with the label of the speaker who said them (no label where there are no turns). */
export function assignSpeakers(words: readonly Word[], turns: readonly SpeakerTurn[]): Word[] {
  return words.map((w) => {
    const speaker = speakerAt(w.start, w.end, turns);
    return speaker === undefined ? { ...w } : { ...w, speaker: speakerLabel(speaker) };
  });
}

/**
 * Segments from labelled words (texts with their raw spacing), never spanning a speaker change;
 * each carries its speaker. Ids run from 0 across the whole transcript.
 */
export function segmentsBySpeaker(words: readonly Word[]): Segment[] {
  const segments: Segment[] = [];
  let run: Word[] = [];
  const flush = () => {
    if (run.length === 0) return;
    for (const s of segmentsFromWords(run)) {
      segments.push({ ...s, id: segments.length, ...(run[0]!.speaker !== undefined ? { speaker: run[0]!.speaker } : {}) });
    }
    run = [];
  };
  for (const w of words) {
    if (run.length > 0 && w.speaker !== run[0]!.speaker) flush();
    run.push(w);
  }
  flush();
  return segments;
}

/** Distinct speaker labels in order of first appearance. */
export function speakersOf(segments: readonly Segment[]): string[] {
  return [...new Set(segments.map((s) => s.speaker).filter((s): s is string => s !== undefined))];
}
