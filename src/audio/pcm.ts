/** @module PCM16 little-endian bytes ↔ samples, and the checks every client frame of audio passes. Pure: values in, values out. */

/** Bytes per 16-bit sample. */
export const BYTES_PER_SAMPLE = 2;

/** Why a frame of audio is not whole 16-bit samples, or undefined when it is. */
export function pcm16Problem(bytes: Uint8Array): string | undefined {
  if (bytes.byteLength % BYTES_PER_SAMPLE !== 0) return `${bytes.byteLength} bytes is not a whole number of 16-bit samples`;
  return undefined;
}

/** The samples of s16le bytes (copied, so alignment never matters). */
export function pcm16ToInt16(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(Math.floor(bytes.byteLength / BYTES_PER_SAMPLE));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

/** s16le bytes of samples. */
export function int16ToPcm16(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length * BYTES_PER_SAMPLE);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i]!, true);
  return out;
}

/** Float samples in [-1, 1] of int16 samples. */
export function int16ToFloat32(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i]! / 32768;
  return out;
}

/** Int16 samples of floats, clipped to the 16-bit range. */
export function float32ToInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i]! * 32768)));
  return out;
}

/** Float32 values of little-endian float32 bytes (the VAD lane's probabilities). */
export function float32LeToArray(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(Math.floor(bytes.byteLength / 4));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
