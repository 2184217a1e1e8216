/** @module File-test helpers: fixtures converted by ffmpeg into a temporary folder, and multipart posts. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AUDIO_DIR } from '../helpers/audio.js';

/** ffmpeg output options per target format (the suffix picks the container). */
export const FORMATS: Record<string, string[]> = {
  'mp3': ['-c:a', 'libmp3lame', '-b:a', '64k'],
  'flac': ['-c:a', 'flac'],
  'ogg': ['-c:a', 'libopus', '-b:a', '32k'],
  'webm': ['-c:a', 'libopus', '-b:a', '32k'],
  // Plain ffmpeg M4A/MP4 put the index (moov) after the audio: the seekable fallback is exercised.
  'm4a': ['-c:a', 'aac', '-b:a', '64k'],
};

/** A fixture's path: a name in ../shared/audio, or a file this module made (absolute). */
const source = (fixture: string) => (path.isAbsolute(fixture) ? fixture : path.join(AUDIO_DIR, fixture));

export class Converted {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'stt-test-'));

  /** Fixtures one after another as one WAV (16 kHz mono), named `name`: a file longer than any one of them. */
  joined(name: string, fixtures: string[]): string {
    const out = path.join(this.dir, `${name}.wav`);
    const inputs = fixtures.flatMap((f) => ['-i', source(f)]);
    const streams = fixtures.map((_, i) => `[${i}:a]`).join('');
    execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...inputs, '-filter_complex', `${streams}concat=n=${fixtures.length}:v=0:a=1`, '-ac', '1', '-ar', '16000', out]);
    return out;
  }

  /** A fixture converted into `ext` (cached). */
  file(fixture: string, ext: string, extra: string[] = FORMATS[ext] ?? []): string {
    const out = path.join(this.dir, `${path.basename(fixture, '.wav')}.${ext}`);
    execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', source(fixture), ...extra, out]);
    return out;
  }

  /** A video (black frames, H.264) with the fixture as its audio track. */
  video(fixture: string): string {
    const out = path.join(this.dir, `${path.basename(fixture, '.wav')}.mp4`);
    execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=black:s=64x64:r=5', '-i', path.join(AUDIO_DIR, fixture),
      '-shortest', '-c:v', 'libx264', '-c:a', 'aac', out]);
    return out;
  }

  /** The fixture as ffmpeg decodes it for us: 16 kHz mono s16le, the PCM both sides of a parity test get. */
  pcm(fixture: string): string {
    const out = path.join(this.dir, `${path.basename(fixture)}.s16le`);
    execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', source(fixture), '-ac', '1', '-ar', '16000', '-f', 's16le', out]);
    return out;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** POST a multipart form with `file` (bytes or a path) and string fields. */
export async function postFile(base: string, route: string, file: string | Uint8Array, fields: Record<string, string | string[]>, name = 'audio.bin'): Promise<Response> {
  const form = new FormData();
  const bytes = typeof file === 'string' ? readFileSync(file) : file;
  form.append('file', new Blob([new Uint8Array(bytes)]), typeof file === 'string' ? path.basename(file) : name);
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) form.append(k, one);
  return fetch(`${base}${route}`, { method: 'POST', body: form });
}
