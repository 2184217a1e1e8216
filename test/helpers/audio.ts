/** @module Test audio: the ../shared/audio manifest and its WAV files as s16le PCM. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT_DIR } from '../../src/config.js';

export const AUDIO_DIR = path.resolve(ROOT_DIR, '..', 'shared', 'audio');

export interface Fixture {
  file: string;
  seconds: number;
  sample_rate: number;
  channels: number;
  language: string | null;
  speakers: number;
  transcript: string;
}

/** Every fixture in manifest.json. */
export function manifest(): Fixture[] {
  return JSON.parse(readFileSync(path.join(AUDIO_DIR, 'manifest.json'), 'utf8')) as Fixture[];
}

/** Fixtures with one channel of speech at 16 kHz (what the sidecar takes directly). */
export function speechFixtures(): Fixture[] {
  return manifest().filter((f) => f.language !== null && f.channels === 1 && f.sample_rate === 16_000);
}

/** The PCM samples (s16le) of a 16-bit WAV file, without its header. */
export function readWavPcm(file: string): Buffer {
  const data = readFileSync(path.isAbsolute(file) ? file : path.join(AUDIO_DIR, file));
  let at = 12;
  while (at + 8 <= data.length) {
    const id = data.toString('ascii', at, at + 4);
    const size = data.readUInt32LE(at + 4);
    if (id === 'data') return data.subarray(at + 8, at + 8 + size);
    at += 8 + size + (size % 2);
  }
  throw new Error(`${file}: no data chunk`);
}
