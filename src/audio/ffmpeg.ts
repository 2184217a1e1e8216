/**
 * @module Any container ffmpeg reads → 16 kHz mono s16le PCM, by an ffmpeg child process.
 * The upload is written to ffmpeg's stdin and the PCM read from its stdout as it comes, so nothing
 * touches the disk. The one exception is an MP4/M4A whose index (moov) sits after the audio: ffmpeg
 * must seek to read it, and a pipe cannot seek, so those are retried from a private file that is
 * unlinked before ffmpeg even starts (ffmpeg reads it through /dev/fd/3); nothing is left behind
 * even if the server dies. ffmpeg's complaints become stable error codes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AppError } from '../errors.js';

export interface DecodeOptions {
  ffmpegPath: string;
  /** ffmpeg is killed (and the request fails) after this long. */
  timeoutMs: number;
  /** Decoded PCM over this many bytes fails with file_too_large (ffmpeg is killed at once). */
  maxPcmBytes: number;
}

/** Lines of ffmpeg's stderr that mean the input is damaged rather than merely unusual. */
const DAMAGED = /File ended prematurely|partial file|Invalid data found|decode_frame\(\) failed|Invalid PCM packet|Truncat|Error while decoding/i;
/** The input needs seeking (MP4 family with the index at the end). */
const NEEDS_SEEK = /moov atom not found|partial file/i;

interface RunResult {
  pcm: Buffer;
  stderr: string;
  code: number | null;
  tooLarge: boolean;
  timedOut: boolean;
}

/** Whether ffmpeg can be run, and its version line (start-up reports this). */
export function probeFfmpeg(ffmpegPath: string): { ok: true; version: string } | { ok: false; reason: string } {
  const out = spawnSync(ffmpegPath, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 10_000 });
  if (out.error) return { ok: false, reason: `${ffmpegPath}: ${out.error.message}` };
  if (out.status !== 0) return { ok: false, reason: `${ffmpegPath} -version exited ${out.status}` };
  return { ok: true, version: out.stdout.split('\n')[0] ?? 'ffmpeg' };
}

function args(input: string): string[] {
  // -vn/-sn/-dn: a video's audio track only. Mono by ffmpeg's own downmix, 16 kHz by its resampler.
  return ['-nostdin', '-hide_banner', '-v', 'error', '-i', input, '-vn', '-sn', '-dn', '-map', '0:a:0', '-ac', '1', '-ar', '16000', '-f', 's16le', '-acodec', 'pcm_s16le', 'pipe:1'];
}

function run(options: DecodeOptions, input: string, data: Uint8Array | undefined, fd?: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const stdio: Array<'pipe' | 'ignore' | number> = [data ? 'pipe' : 'ignore', 'pipe', 'pipe'];
    if (fd !== undefined) stdio.push(fd);
    const child = spawn(options.ffmpegPath, args(input), { stdio });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let stderr = '';
    let tooLarge = false;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT' ? new AppError('ffmpeg_missing', `ffmpeg not found at ${options.ffmpegPath}; install it (apt-get install ffmpeg) or set FFMPEG_PATH`) : err);
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > options.maxPcmBytes) {
        tooLarge = true;
        child.kill('SIGKILL');
        return;
      }
      chunks.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 8_000) stderr += chunk.toString('utf8');
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ pcm: Buffer.concat(chunks), stderr, code, tooLarge, timedOut });
    });
    if (data) {
      // ffmpeg may stop reading early (not audio): EPIPE on its stdin is expected, not a fault.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(data);
    }
  });
}

/** Decode from a private file that no longer has a name by the time ffmpeg runs. */
async function runSeekable(options: DecodeOptions, data: Uint8Array): Promise<RunResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stt-upload-'));
  const file = path.join(dir, 'upload');
  let fd: number | undefined;
  try {
    writeFileSync(file, data, { mode: 0o600 });
    fd = openSync(file, 'r');
  } finally {
    try { unlinkSync(file); } catch { /* never created */ }
    rmdirSync(dir);
  }
  try {
    return await run(options, '/dev/fd/3', undefined, fd);
  } finally {
    closeSync(fd);
  }
}

function firstLine(stderr: string): string {
  return stderr.split('\n').map((l) => l.trim()).filter(Boolean).slice(-1)[0]?.slice(0, 300) ?? 'no detail';
}

/**
 * Decode an upload to 16 kHz mono s16le.
 * @throws AppError empty_file, unsupported_audio, truncated_audio, file_too_large, ffmpeg_missing, decode_timeout
 */
export async function decodeToPcm(data: Uint8Array, options: DecodeOptions): Promise<Buffer> {
  if (data.byteLength === 0) throw new AppError('empty_file', 'the uploaded file is empty');
  let result = await run(options, 'pipe:0', data);
  if (result.pcm.length === 0 && !result.tooLarge && !result.timedOut && NEEDS_SEEK.test(result.stderr)) {
    result = await runSeekable(options, data);
  }
  if (result.tooLarge) throw new AppError('file_too_large', `the decoded audio is over ${Math.floor(options.maxPcmBytes / 32_000)} s`);
  if (result.timedOut) throw new AppError('decode_timeout', `ffmpeg took longer than ${options.timeoutMs} ms`);
  const pcm = result.pcm.length % 2 ? result.pcm.subarray(0, result.pcm.length - 1) : result.pcm;
  if (pcm.length === 0 && result.code === 0) {
    // A container ffmpeg understands, with no samples in it: a header and nothing after.
    throw new AppError('truncated_audio', 'the file has an audio header but no audio samples (cut short?)');
  }
  if (pcm.length === 0) {
    throw new AppError('unsupported_audio', `the file is not audio ffmpeg can decode (${firstLine(result.stderr)})`);
  }
  if (result.code !== 0 || DAMAGED.test(result.stderr)) {
    throw new AppError('truncated_audio', `the audio is damaged or cut short (${firstLine(result.stderr)})`);
  }
  return pcm;
}
