/** Online speaker clustering: a new speaker only when no centroid is close and the segment is long enough. */
import { describe, expect, it } from 'vitest';
import { MIN_NEW_SPEAKER_S, OnlineSpeakers, SAME_SPEAKER } from './speakers.js';

/** A unit vector at `angle` radians in the plane of the first two axes (cosine of two = cos of the difference). */
const at = (angle: number) => Float32Array.from({ length: 8 }, (_, i) => (i === 0 ? Math.cos(angle) : i === 1 ? Math.sin(angle) : 0));
const apart = Math.acos(SAME_SPEAKER);

describe('OnlineSpeakers', () => {
  it('founds speakers in order of appearance and keeps their indices', () => {
    const s = new OnlineSpeakers();
    expect(s.assign(at(0), 3)).toBe(0);
    expect(s.assign(at(0.1), 2)).toBe(0);
    expect(s.assign(at(1.5), 3)).toBe(1);
    expect(s.assign(at(0.05), 4)).toBe(0);
    expect(s.assign(at(1.45), 2)).toBe(1);
    expect(s.count).toBe(2);
  });

  it('puts a segment just inside the threshold with the speaker, just outside it with a new one', () => {
    const s = new OnlineSpeakers();
    s.assign(at(0), 3);
    expect(s.assign(at(apart * 0.95), 2)).toBe(0);
    const t = new OnlineSpeakers();
    t.assign(at(0), 3);
    expect(t.assign(at(apart * 1.05), 2)).toBe(1);
  });

  it('never founds a speaker on a short segment', () => {
    const s = new OnlineSpeakers();
    s.assign(at(0), 3);
    s.assign(at(Math.PI / 2), 3);
    expect(s.assign(at(Math.PI), MIN_NEW_SPEAKER_S / 2)).toBeLessThan(2);
    expect(s.count).toBe(2);
  });
});
