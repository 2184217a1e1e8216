/** ffmpeg decoding with the real ffmpeg: PCM out, MP4 index at the end, and each error code. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AUDIO_DIR, readWavPcm } from '../../test/helpers/audio.js';
import { decodeToPcm, probeFfmpeg } from './ffmpeg.js';
import { NO_FFMPEG } from '../../test/helpers/ffmpeg.js';

const options = { ffmpegPath: 'ffmpeg', timeoutMs: 60_000, maxPcmBytes: 100 * 32_000 };
const dir = mkdtempSync(path.join(tmpdir(), 'ffmpeg-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function convert(args: string[], name: string): Buffer {
  const out = path.join(dir, name);
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', path.join(AUDIO_DIR, 'jfk.wav'), ...args, out]);
  return readFileSync(out);
}

describe.skipIf(NO_FFMPEG)('decodeToPcm', () => {
  it('gives back the exact samples of a 16 kHz mono WAV', async () => {
    const wav = readFileSync(path.join(AUDIO_DIR, 'jfk.wav'));
    expect((await decodeToPcm(wav, options)).equals(readWavPcm('jfk.wav'))).toBe(true);
  });

  it('downmixes and resamples a 44.1 kHz stereo FLAC to 16 kHz mono', async () => {
    const pcm = await decodeToPcm(convert(['-ac', '2', '-ar', '44100'], 'stereo.flac'), options);
    expect(pcm.length / 32_000).toBeCloseTo(11, 1);
  });

  it('reads an M4A whose index comes after the audio, leaving no file behind', async () => {
    const pcm = await decodeToPcm(convert(['-c:a', 'aac'], 'jfk.m4a'), options);
    expect(pcm.length / 32_000).toBeCloseTo(11, 0);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('stt-upload-'))).toEqual([]);
  });

  it('maps bad input to stable codes', async () => {
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code: string }) => e.code);
    expect(await code(decodeToPcm(new Uint8Array(0), options))).toBe('empty_file');
    expect(await code(decodeToPcm(Buffer.from('not audio at all '.repeat(100)), options))).toBe('unsupported_audio');
    const flac = convert(['-c:a', 'flac'], 'jfk.flac');
    expect(await code(decodeToPcm(flac.subarray(0, flac.length >> 1), options))).toBe('truncated_audio');
    expect(await code(decodeToPcm(flac, { ...options, maxPcmBytes: 5 * 32_000 }))).toBe('file_too_large');
    expect(await code(decodeToPcm(flac, { ...options, ffmpegPath: '/nonexistent/ffmpeg' }))).toBe('ffmpeg_missing');
  });

  it('probes ffmpeg and says why when it is missing', () => {
    expect(probeFfmpeg('ffmpeg')).toMatchObject({ ok: true });
    expect(probeFfmpeg('/nonexistent/ffmpeg')).toMatchObject({ ok: false });
  });
});
