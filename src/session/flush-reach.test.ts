import { describe, expect, it } from 'vitest';
import { flushReach } from './flush-reach.js';
import { toSample } from './window.js';

describe('flush reach', () => {
  it('a decode that gave back only the context sentence stopped early: the new utterance stays in the window', () => {
    // Seen on the CPU: window 4.4-17.48 s (the end of jfk.wav, a pause, fleurs-en-003), the VAD heard
    // speech to 17.18 s, and the decode's words (all re-heard context, none new) ended at 11.0 s.
    expect(flushReach(toSample(17.48), 11.0, toSample(17.18))).toEqual({ reached: toSample(11.2), stoppedEarly: true });
  });

  it('a decode whose words reach the last speech did not stop early', () => {
    expect(flushReach(toSample(17.48), 16.9, toSample(17.18)).stoppedEarly).toBe(false);
  });

  it('a decode with no words reached the end of its window (nothing to retry: Whisper heard no speech)', () => {
    expect(flushReach(toSample(5), undefined, toSample(4.8))).toEqual({ reached: toSample(5), stoppedEarly: false });
  });

  it('speech after the flush point does not count, and a word timed past the window end reaches the end', () => {
    expect(flushReach(toSample(10), 8, toSample(12)).stoppedEarly).toBe(true);
    expect(flushReach(toSample(10), 9.6, toSample(12)).stoppedEarly).toBe(false);
    expect(flushReach(toSample(10), 10.5, toSample(10)).reached).toBe(toSample(10));
  });
});
