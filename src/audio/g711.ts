/**
 * @module G.711 (ITU-T) µ-law and A-law: 8-bit companded telephone audio ↔ 16-bit linear PCM, for
 * Deepgram `encoding=mulaw|alaw` and OpenAI Realtime `audio/pcmu|pcma` (`g711_ulaw|g711_alaw`).
 * Decoding goes through 256-entry tables built once. Pure.
 */

/** The linear value of one µ-law byte. */
export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

/** The linear value of one A-law byte. */
export function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const exponent = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  t = exponent === 0 ? t + 8 : (t + 0x108) << (exponent - 1);
  return a & 0x80 ? t : -t;
}

const ULAW = Int16Array.from({ length: 256 }, (_, i) => ulawToLinear(i));
const ALAW = Int16Array.from({ length: 256 }, (_, i) => alawToLinear(i));

/** Decode µ-law or A-law bytes into 16-bit samples. */
export function decodeG711(bytes: Uint8Array, law: 'ulaw' | 'alaw'): Int16Array {
  const table = law === 'ulaw' ? ULAW : ALAW;
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = table[bytes[i]!]!;
  return out;
}

/** µ-law byte of a 16-bit sample (for tests and clients; the server only decodes). */
export function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  let s = Math.max(-32635, Math.min(32635, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** A-law byte of a 16-bit sample (for tests and clients). */
export function linearToAlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s >= 0 ? 0x80 : 0;
  if (s < 0) s = -s - 1;
  s >>= 3; // 13-bit magnitude
  let exponent = 0;
  if (s >= 32) {
    exponent = 1;
    while (s >= 64 && exponent < 7) {
      s >>= 1;
      exponent++;
    }
    s = (s >> 1) & 0x0f;
  } else {
    s = (s >> 1) & 0x0f;
  }
  return (sign | (exponent << 4) | s) ^ 0x55;
}

/** Encode 16-bit samples as µ-law or A-law bytes. */
export function encodeG711(samples: Int16Array, law: 'ulaw' | 'alaw'): Uint8Array {
  const f = law === 'ulaw' ? linearToUlaw : linearToAlaw;
  return Uint8Array.from(samples, (s) => f(s));
}
