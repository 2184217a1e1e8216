/**
 * @module The model side of a streaming session, built from the scheduler: window decodes on its
 * model lane, VAD and speaker embeddings on its speech lane (batched across sessions there). The
 * scheduler is passed in as the structural SpeechModel below, so session/ names no scheduler type.
 */
import { float32LeToArray } from '../audio/pcm.js';
import type { ItemResult, TranscribeItem } from '../sidecar/protocol.js';
import { SpeakerLabeller } from './speakers.js';
import type { Transcriber } from './types.js';

/** What sessions need of the one queue in front of the model (src/scheduler/scheduler.ts has it). */
export interface SpeechModel {
  transcribeWindow(item: TranscribeItem, timestamps: true | 'word', flush: boolean): Promise<ItemResult>;
  /** float32 LE speech probabilities per 512-sample frame; `urgent` for a draining or flushing session. */
  vad(audio: Uint8Array, urgent?: boolean): Promise<Uint8Array>;
  /** float32 LE speaker embedding; absent: `diarize` is ignored. */
  embed?(audio: Uint8Array): Promise<Uint8Array>;
  /** Milliseconds until an ordinary window request would go (0: now). */
  windowHoldMs?(): number;
}

/** The Transcriber every session of every streaming protocol gets. */
export function transcriberFor(model: SpeechModel): Transcriber {
  const transcriber: Transcriber = {
    decode: (item, timestamps, flush) => model.transcribeWindow(item, timestamps, flush),
    vad: (audio, urgent) => model.vad(audio, urgent).then(float32LeToArray),
  };
  if (model.windowHoldMs) transcriber.holdMs = model.windowHoldMs.bind(model);
  if (model.embed) {
    const embed = model.embed.bind(model);
    transcriber.speakers = (onError) => new SpeakerLabeller((audio) => embed(audio).then(float32LeToArray), onError);
  }
  return transcriber;
}
