import { expect, it } from 'vitest';
import { alignWords, matchWords, percentile } from '../bench/streaming/measure.js';

it('percentile is nearest-rank', () => {
  expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
  expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
  expect(percentile([], 50)).toBeNaN();
});

it('aligns words and times their first commitment', () => {
  expect(matchWords(['a', 'b', 'c'], ['a', 'x', 'c'])).toEqual([[0, 0], [2, 2]]);
  const offline = { words: ['ask', 'not', 'what'], wordEnds: [0.5, 1, 1.5] };
  const commits = [{ at: 1_500, words: ['ask'] }, { at: 3_000, words: ['ask', 'not', 'what'] }];
  expect(alignWords(offline, commits)).toEqual([{ word: 'ask', latencyS: 1 }, { word: 'not', latencyS: 2 }, { word: 'what', latencyS: 1.5 }]);
});
