/** Speaker labels: words by time overlap, segments split where the speaker changes, diarized_json. */
import { describe, expect, it } from 'vitest';
import { formatTranscript, type FileTranscript } from './formats.js';
import { assignSpeakers, segmentsBySpeaker, speakerAt, speakerLabel, speakersOf } from './speakers.js';

const turns = [
  { start: 0, end: 2.1, speaker: 0 },
  { start: 2.4, end: 3.0, speaker: 1 },
  { start: 3.0, end: 6, speaker: 0 },
];

describe('speakers', () => {
  it('labels speakers A, B, ... Z, AA', () => {
    expect([0, 1, 25, 26, 27].map(speakerLabel)).toEqual(['A', 'B', 'Z', 'AA', 'AB']);
  });

  it('gives a word to the speaker it overlaps most, or the nearest turn in a pause', () => {
    expect(speakerAt(1.9, 2.5, turns)).toBe(0); // 0.2 s with A, 0.1 s with B
    expect(speakerAt(2.0, 2.8, turns)).toBe(1);
    expect(speakerAt(2.2, 2.3, turns)).toBe(0); // in the pause, nearer A's end
    expect(speakerAt(7, 8, turns)).toBe(0);
    expect(speakerAt(0, 1, [])).toBeUndefined();
  });

  it('splits a sentence that spans a speaker change at the word where it changes', () => {
    const words = assignSpeakers(
      [
        { word: ' So', start: 0.0, end: 0.4 },
        { word: ' we', start: 0.5, end: 0.8 },
        { word: ' agree', start: 2.5, end: 2.9 },
        { word: ' right?', start: 3.1, end: 3.5 },
        { word: ' Yes.', start: 3.6, end: 3.9 },
      ],
      turns,
    );
    expect(words.map((w) => w.speaker)).toEqual(['A', 'A', 'B', 'A', 'A']);
    const segments = segmentsBySpeaker(words);
    expect(segments).toEqual([
      { id: 0, start: 0, end: 0.8, text: 'So we', speaker: 'A' },
      { id: 1, start: 2.5, end: 2.9, text: 'agree', speaker: 'B' },
      { id: 2, start: 3.1, end: 3.5, text: 'right?', speaker: 'A' },
      { id: 3, start: 3.6, end: 3.9, text: 'Yes.', speaker: 'A' },
    ]);
    expect(speakersOf(segments)).toEqual(['A', 'B']);
  });

  it('leaves words unlabelled when no speaker was found', () => {
    const words = assignSpeakers([{ word: ' hm', start: 0, end: 1 }], []);
    expect(words[0]).toEqual({ word: ' hm', start: 0, end: 1 });
    expect(segmentsBySpeaker(words)[0]!.speaker).toBeUndefined();
  });

  it('writes speakers into verbose_json segments and diarized_json', () => {
    const t: FileTranscript = {
      task: 'transcribe', text: 'Hi. Hello.', language: 'en', duration: 2,
      segments: [{ id: 0, start: 0, end: 1, text: 'Hi.', speaker: 'A' }, { id: 1, start: 1, end: 2, text: 'Hello.', speaker: 'B' }],
    };
    const verbose = JSON.parse(formatTranscript(t, 'verbose_json', []).body);
    expect(verbose.segments.map((s: { speaker: string }) => s.speaker)).toEqual(['A', 'B']);
    const diarized = JSON.parse(formatTranscript(t, 'diarized_json', []).body);
    expect(diarized).toEqual({
      task: 'transcribe', duration: 2, text: 'Hi. Hello.',
      segments: [
        { type: 'transcript.text.segment', id: 'seg_0', start: 0, end: 1, text: 'Hi.', speaker: 'A' },
        { type: 'transcript.text.segment', id: 'seg_1', start: 1, end: 2, text: 'Hello.', speaker: 'B' },
      ],
    });
  });
});
