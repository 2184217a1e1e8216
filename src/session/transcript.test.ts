import { expect, it } from 'vitest';
import { closeLastSegment, promptOf, segmentsOf, transcriptOf } from './transcript.js';
import type { Word } from './hypothesis.js';

const words: Word[] = [
  { text: 'ask', start: 0, end: 0.4 },
  { text: 'not.', start: 0.4, end: 0.8, segmentEnd: 0.9 },
  { text: 'what', start: 1, end: 1.3 },
];

it('groups words into segments closed by segment ends', () => {
  expect(segmentsOf(words)).toEqual([{ text: 'ask not.', start: 0, end: 0.9 }, { text: 'what', start: 1, end: 1.3 }]);
  expect(segmentsOf(closeLastSegment(words)).at(-1)).toEqual({ text: 'what', start: 1, end: 1.3 });
});

it('shows committed and tentative text apart, and the whole transcript', () => {
  const t = transcriptOf({ committed: words.slice(0, 2), inWindow: 2, tentative: words.slice(2) });
  expect(t).toMatchObject({ text: 'ask not. what', committed: 'ask not.', tentative: 'what' });
  expect(t.segments.map((s) => s.committed)).toEqual([true, false]);
});

it('segments carry their words\' probabilities only when asked and only when every word has one', () => {
  const sure = words.map((w, i) => ({ ...w, confidence: [0.4, 0.9, 0.8][i]! }));
  expect(segmentsOf(sure, true).map((s) => s.confidence)).toEqual([[0.4, 0.9], [0.8]]);
  expect(segmentsOf(sure).every((s) => !('confidence' in s))).toBe(true);
  expect(segmentsOf([sure[0]!, words[1]!], true)[0]).not.toHaveProperty('confidence');
  const t = transcriptOf({ committed: sure.slice(0, 2), inWindow: 2, tentative: sure.slice(2) }, true);
  expect(t.segments.map((s) => s.confidence)).toEqual([[0.4, 0.9], [0.8]]);
});

it('prompts with the committed text before the window only, cut at a word', () => {
  expect(promptOf({ committed: words, inWindow: 1, tentative: [] })).toBe('ask not.');
  expect(promptOf({ committed: words, inWindow: 3, tentative: [] })).toBeNull();
  expect(promptOf({ committed: words, inWindow: 0, tentative: [] }, 9)).toBe('what');
});
