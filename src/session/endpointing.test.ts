import { describe, expect, it } from 'vitest';
import { defaultEndpointing, initialEndpoint, speechSince, stepEndpoint, VAD_FRAME } from './endpointing.js';

const opts = { ...defaultEndpointing, minSpeechMs: 96, endpointMs: 320 }; // 3 frames to open, 10 to close
const frames = (...runs: Array<[number, number]>) => runs.flatMap(([p, n]) => Array<number>(n).fill(p));

describe('endpointing', () => {
  it('never opens on silence, noise-level probabilities or a lone click', () => {
    const { state, events } = stepEndpoint(initialEndpoint, frames([0.01, 50], [0.3, 20], [0.9, 2], [0.05, 40]), opts);
    expect(events).toEqual([]);
    expect(state.inSpeech).toBe(false);
    expect(speechSince(state, 0)).toBe(false);
    expect(state.pos).toBe(112 * VAD_FRAME);
  });

  it('opens at the start of a speech run and ends the utterance where the pause began', () => {
    const { state, events } = stepEndpoint(initialEndpoint, frames([0, 10], [0.9, 20], [0.1, 12]), opts);
    expect(events).toEqual([
      { type: 'speech_start', at: 10 * VAD_FRAME },
      { type: 'utterance_end', at: 30 * VAD_FRAME },
    ]);
    expect(state.inSpeech).toBe(false);
    expect(state.lastSpeech).toBe(30 * VAD_FRAME);
    expect(speechSince(state, 29 * VAD_FRAME)).toBe(true);
    expect(speechSince(state, 30 * VAD_FRAME)).toBe(false);
  });

  it('a pause shorter than endpointMs, or uncertain frames, do not end the utterance', () => {
    const { state, events } = stepEndpoint(initialEndpoint, frames([0.9, 5], [0.1, 9], [0.9, 5], [0.4, 30]), opts);
    expect(events.map((e) => e.type)).toEqual(['speech_start']);
    expect(state.inSpeech).toBe(true);
  });

  it('gives the same events whether the frames come at once or one by one', () => {
    const probs = frames([0, 7], [0.8, 13], [0.2, 11], [0.7, 4], [0.1, 20]);
    const whole = stepEndpoint(initialEndpoint, probs, opts);
    let state = initialEndpoint;
    const events = [];
    for (const p of probs) {
      const step = stepEndpoint(state, [p], opts);
      state = step.state;
      events.push(...step.events);
    }
    expect(events).toEqual(whole.events);
    expect(state).toEqual(whole.state);
  });
});
