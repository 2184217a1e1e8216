/**
 * @module Voice activity policy: silero-vad speech probabilities per 32 ms frame → speech onsets and
 * utterance ends (a pause of `endpointMs`). The session decodes only while this says there is
 * speech in its window, so silence, noise and tones never reach the model. Pure: state in, state out.
 */

/** Samples per VAD frame at 16 kHz (32 ms), fixed by silero-vad. */
export const VAD_FRAME = 512;

export interface EndpointingOptions {
  /** Probability at or above which a frame is speech. */
  threshold: number;
  /** Probability below which a frame is silence (between the two: the current state holds). */
  negThreshold: number;
  /** Speech must last this long (ms) before an utterance opens: clicks and bumps do not count. */
  minSpeechMs: number;
  /** A pause this long (ms) ends the utterance. */
  endpointMs: number;
}

export const defaultEndpointing: EndpointingOptions = { threshold: 0.5, negThreshold: 0.35, minSpeechMs: 96, endpointMs: 800 };

export interface EndpointState {
  /** Timeline sample up to which frames have been judged (a multiple of VAD_FRAME). */
  readonly pos: number;
  readonly inSpeech: boolean;
  /** Consecutive speech frames (before an utterance opens) or silent frames (inside one). */
  readonly run: number;
  /** Timeline sample where the latest utterance's speech began, if one was ever heard. */
  readonly speechStart: number | undefined;
  /** Timeline sample one past the latest speech frame, if any. */
  readonly lastSpeech: number | undefined;
}

export const initialEndpoint: EndpointState = { pos: 0, inSpeech: false, run: 0, speechStart: undefined, lastSpeech: undefined };

export type EndpointEvent = { type: 'speech_start'; at: number } | { type: 'utterance_end'; at: number };

/** Judge the frames that follow `state.pos`; returns the new state and the events they caused. */
export function stepEndpoint(state: EndpointState, probs: ArrayLike<number>, options: EndpointingOptions): { state: EndpointState; events: EndpointEvent[] } {
  const minSpeech = Math.max(1, Math.ceil(options.minSpeechMs / 32));
  const minSilence = Math.max(1, Math.ceil(options.endpointMs / 32));
  let { pos, inSpeech, run, speechStart, lastSpeech } = state;
  const events: EndpointEvent[] = [];
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    const frameEnd = pos + VAD_FRAME;
    if (p >= options.threshold) {
      if (inSpeech) run = 0;
      else if (++run >= minSpeech) {
        inSpeech = true;
        speechStart = frameEnd - run * VAD_FRAME;
        events.push({ type: 'speech_start', at: speechStart });
        run = 0;
      }
      // Only confirmed speech counts: a lone click never opens the gate to the model.
      if (inSpeech) lastSpeech = frameEnd;
    } else if (p < options.negThreshold || !inSpeech) {
      if (!inSpeech) run = 0;
      else if (++run >= minSilence) {
        inSpeech = false;
        events.push({ type: 'utterance_end', at: frameEnd - run * VAD_FRAME });
        run = 0;
      }
    } else {
      run = 0; // uncertain frame inside speech: the pause has not started
      lastSpeech = frameEnd;
    }
    pos = frameEnd;
  }
  return { state: { pos, inSpeech, run, speechStart, lastSpeech }, events };
}

/** Whether speech was heard at or after timeline sample `from` (or is going on now). */
export function speechSince(state: EndpointState, from: number): boolean {
  return state.inSpeech || (state.lastSpeech !== undefined && state.lastSpeech > from);
}
