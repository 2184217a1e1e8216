/**
 * The `stt` bin (bin/stt.mjs → src/cli.ts) as a user runs it, against a real server with the real
 * sidecar and an API key: `transcribe` with its progress bar, `stream FILE` (WAV read directly,
 * MP3 decoded by ffmpeg) and `stream -` from raw PCM on stdin.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { AUDIO_DIR, manifest, readWavPcm } from '../helpers/audio.js';
import { testConfig, testLogger, waitForState } from '../helpers/server.js';
import { wer } from '../helpers/wer.js';
import { NO_FFMPEG } from '../helpers/ffmpeg.js';

const KEY = 'cli-key-0123456789abcdef';
const transcript = (file: string) => manifest().find((f) => f.file === file)!.transcript;
let server: RunningServer;

beforeAll(async () => {
  // BATCH_SIZE=1: each speech region of a vad-mode file is its own forward pass and progress event.
  server = await startServer(testConfig({ API_KEYS: KEY, BATCH_SIZE: '1' }), testLogger().log);
  await waitForState(server.supervisor, 'ready');
});
afterAll(() => server?.close());

function stt(args: string[], stdin?: Buffer): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT_DIR, 'bin', 'stt.mjs'), ...args, '--url', server.url], {
    cwd: ROOT_DIR,
    env: { ...process.env, STT_API_KEY: KEY },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdin.end(stdin ?? Buffer.alloc(0));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('stt CLI', () => {
  it.skipIf(NO_FFMPEG)('transcribe FILE: progress lines on stderr up to 100 %, the transcript on stdout', async () => {
    // Two recordings with a 1 s pause: two speech regions, so (BATCH_SIZE=1) two progress events.
    const parts = ['ls-6930-75918-0000.wav', 'ls-7902-96591-0000.wav'];
    const joined = path.join(mkdtempSync(path.join(tmpdir(), 'stt-')), 'joined.flac');
    execFileSync('ffmpeg', ['-v', 'error', '-y', ...parts.flatMap((p) => ['-i', path.join(AUDIO_DIR, p)]), '-filter_complex', `${parts.map((_, i) => `[${i}]apad=pad_dur=1[p${i}];`).join('')}${parts.map((_, i) => `[p${i}]`).join('')}concat=n=${parts.length}:v=0:a=1`, joined]);
    // vad mode: its progress comes per speech region. (On a 36 s file of three recordings the default
    // pipeline mode dropped and repeated words around the chunk boundary with whisper-base.)
    const res = await stt(['transcribe', joined, '--mode', 'vad']);
    expect(res.code, res.stderr).toBe(0);
    expect(wer(parts.map(transcript).join(' '), res.stdout), res.stdout).toBeLessThanOrEqual(0.25);
    const bars = res.stderr.split('\n').filter((l) => /^\[[#-]+\]\s+\d+%/.test(l));
    expect(bars.length).toBeGreaterThanOrEqual(2);
    expect(bars.at(-1)).toMatch(/\] 100%/);
  });

  it('transcribe without a key fails with the server\'s unauthorized error', async () => {
    const child = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [path.join(ROOT_DIR, 'bin', 'stt.mjs'), 'transcribe', path.join(AUDIO_DIR, 'jfk.wav'), '--url', server.url], { env: { ...process.env, STT_API_KEY: '' } });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      p.on('close', (code) => resolve({ code, stderr }));
    });
    expect(child.code).toBe(1);
    expect(child.stderr).toContain('401: unauthorized');
  });

  it.skipIf(NO_FFMPEG)('stream FILE prints live text for a WAV and for an MP3 (decoded by ffmpeg)', async () => {
    const mp3 = path.join(mkdtempSync(path.join(tmpdir(), 'stt-')), 'ls.mp3');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO_DIR, 'ls-6930-75918-0000.wav'), mp3]);
    for (const file of [path.join(AUDIO_DIR, 'ls-7902-96591-0000.wav'), mp3]) {
      const res = await stt(['stream', file, '--speed', '4']);
      expect(res.code, res.stderr).toBe(0);
      const want = file.endsWith('.mp3') ? transcript('ls-6930-75918-0000.wav') : transcript('ls-7902-96591-0000.wav');
      expect(wer(want, res.stdout)).toBeLessThanOrEqual(0.3);
    }
  });

  it('stream - reads raw 16 kHz PCM from stdin', async () => {
    const res = await stt(['stream', '-'], readWavPcm('fleurs-en-003.wav'));
    expect(res.code, res.stderr).toBe(0);
    expect(wer(transcript('fleurs-en-003.wav'), res.stdout)).toBeLessThanOrEqual(0.3);
  });
});
