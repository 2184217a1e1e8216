import { describe, expect, it } from 'vitest';
import { dropRepetitionLoop, joinWords, normalizeWord, wordsOf, type Word } from './hypothesis.js';

const w = (text: string, start = 0, end = 0): Word => ({ text, start, end });

describe('wordsOf', () => {
  it('splits segments into words with interpolated times on the timeline, marking closed segment ends', () => {
    const words = wordsOf([{ text: ' And so, my', timestamp: [0, 2] }, { text: ' fellow Americans', timestamp: [2, 4] }], 10, 6, false);
    expect(words.map((x) => x.text)).toEqual(['And', 'so,', 'my', 'fellow', 'Americans']);
    expect(words[0]).toMatchObject({ start: 10, end: 10 + 2 * (3 / 8) });
    expect(words[2]).toMatchObject({ end: 12, segmentEnd: 12 });
    expect(words[4]).toMatchObject({ end: 14, segmentEnd: 14 });
  });

  it('gives each word its probability when the chunk has one per word, and none when they do not line up', () => {
    const words = wordsOf([{ text: ' ask not what', timestamp: [0, 2], confidence: [0.45, 0.9, 0.99] }, { text: ' your country', timestamp: [2, 3], confidence: [0.5] }], 0, 6, false);
    expect(words.map((x) => x.confidence)).toEqual([0.45, 0.9, 0.99, undefined, undefined]);
  });

  it('carries where the model listened for each word onto the timeline, and starts a segment timed from a pause where its first word was heard', () => {
    // The window holds 2 s of pause, then "The cabbage juice": Whisper times the segment from 0.
    const words = wordsOf([{ text: ' The cabbage juice', timestamp: [0, 3], attended: [2.3, 2.6, 2.9] }], 10, 4, false);
    expect(words.map((x) => x.attended)).toEqual([12.3, 12.6, 12.9]);
    expect(words[0]!.start).toBeCloseTo(12);
    expect(words[2]!.end).toBe(13);
    // Heard within a second of the segment's start: Whisper's own times stand.
    expect(wordsOf([{ text: ' ask not', timestamp: [1, 2], attended: [1.4, 1.9] }], 0, 3, false)[0]!.start).toBe(1);
  });

  it('does not mark a segment that runs to the end of the window, or has no end, as closed', () => {
    expect(wordsOf([{ text: ' one two', timestamp: [0, 2.9] }], 0, 3, false)[1]!.segmentEnd).toBeUndefined();
    const open = wordsOf([{ text: ' one', timestamp: [0, null] }], 0, 3, false);
    expect(open[0]).toMatchObject({ end: 3 });
    expect(open[0]!.segmentEnd).toBeUndefined();
  });

  it('keeps word chunks as they are; a sentence end is a cut point', () => {
    const words = wordsOf([{ text: ' country.', timestamp: [1, 1.5] }, { text: ' And', timestamp: [1.6, 1.8] }], 5, 4, true);
    expect(words).toEqual([{ text: 'country.', start: 6, end: 6.5, segmentEnd: 6.5 }, { text: 'And', start: 6.6, end: 6.8 }]);
  });
});

describe('dropRepetitionLoop', () => {
  it('cuts a looping n-gram down to its first occurrence and drops what follows', () => {
    const loop = 'thank you thank you thank you thank you thank you for watching'.split(' ').map((t) => w(t));
    expect(joinWords(dropRepetitionLoop(loop))).toBe('thank you');
    const one = 'the the the the the the end'.split(' ').map((t) => w(t));
    expect(joinWords(dropRepetitionLoop(one))).toBe('the');
  });

  it('leaves ordinary repetition alone', () => {
    const text = 'ask not what your country can do for you ask what you can do for your country no no no';
    expect(joinWords(dropRepetitionLoop(text.split(' ').map((t) => w(t))))).toBe(text);
  });
});

it('normalizeWord ignores case and punctuation', () => {
  expect(normalizeWord('Country.')).toBe('country');
  expect(normalizeWord('—')).toBe('—');
});
