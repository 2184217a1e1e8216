import { describe, expect, it } from 'vitest';
import { AudioIn } from './audio-in.js';
import { finalWords, wordsOfPieces } from './words.js';

describe('protocol adapter helpers', () => {
  it('words of segments get times by character position, and keep their speaker', () => {
    expect(wordsOfPieces([{ text: 'ab cd', start: 1, end: 2, speaker: 'A' }])).toEqual([{ text: 'ab', start: 1, end: 1.5, speaker: 'A' }, { text: 'cd', start: 1.5, end: 2, speaker: 'A' }]);
    expect(finalWords({ type: 'final', text: 'x y', language: 'en', chunks: [{ text: ' x', timestamp: [0, 1] }, { text: 'y', timestamp: [1, 2] }], duration_s: 2, decodes: 1 }).map((w) => w.text)).toEqual(['x', 'y']);
  });

  it('words keep the probability their segment carries for each of them', () => {
    const words = finalWords({ type: 'final', text: 'ask not', language: 'en', chunks: [{ text: 'ask not', timestamp: [0, 1], confidence: [0.45, 0.92] }], duration_s: 1, decodes: 1 });
    expect(words.map((w) => w.confidence)).toEqual([0.45, 0.92]);
    expect(wordsOfPieces([{ text: 'a b', start: 0, end: 1, confidence: [0.5] }]).every((w) => w.confidence === undefined)).toBe(true);
  });

  it('keeps partial samples across frames and downmixes', () => {
    const a = new AudioIn('linear16', 2);
    expect(a.push(new Uint8Array([1, 0, 3])).length).toBe(0);
    expect([...new Int16Array(a.push(new Uint8Array([0])).buffer)]).toEqual([2]);
    expect(a.bytes).toBe(4);
  });
});
