/**
 * @module Client audio of any framing → whole 16-bit mono samples for a session: linear16 (s16le),
 * µ-law or A-law, interleaved channels downmixed by averaging. A frame may end in the middle of a
 * sample or of a channel group; the rest is kept for the next frame. Pure data, no I/O.
 */
import { decodeG711 } from '../../audio/g711.js';
import { int16ToPcm16 } from '../../audio/pcm.js';

export type InputEncoding = 'linear16' | 'mulaw' | 'alaw';

export class AudioIn {
  #rest = new Uint8Array(0);
  #bytes = 0;

  constructor(readonly encoding: InputEncoding, readonly channels = 1) {}

  /** Bytes received so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** s16le mono bytes of the whole samples this frame completes. */
  push(frame: Uint8Array): Uint8Array {
    this.#bytes += frame.byteLength;
    const width = this.encoding === 'linear16' ? 2 : 1;
    const group = width * this.channels;
    let data = frame;
    if (this.#rest.length > 0) {
      data = new Uint8Array(this.#rest.length + frame.length);
      data.set(this.#rest);
      data.set(frame, this.#rest.length);
    }
    const whole = data.length - (data.length % group);
    this.#rest = data.slice(whole);
    const body = data.subarray(0, whole);
    let samples: Int16Array;
    if (width === 2) {
      samples = new Int16Array(whole / 2);
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
    } else {
      samples = decodeG711(body, this.encoding === 'mulaw' ? 'ulaw' : 'alaw');
    }
    return int16ToPcm16(this.channels === 1 ? samples : downmix(samples, this.channels));
  }
}

function downmix(interleaved: Int16Array, channels: number): Int16Array {
  const out = new Int16Array(Math.floor(interleaved.length / channels));
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += interleaved[i * channels + c]!;
    out[i] = Math.round(sum / channels);
  }
  return out;
}
