/**
 * Parity: the default mode through our HTTP API gives exactly what a direct transformers
 * `pipeline(...)` call gives (bench/overhead/direct_pipeline.py, which imports nothing of ours),
 * on the same PCM (ffmpeg's 16 kHz mono decode of the fixture): the same text and the same chunk
 * timestamps. The API trims the text's leading space as OpenAI does and closes an open last chunk
 * at the audio's duration; everything else must match to the millisecond.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { testConfig, testLogger, waitForState } from '../helpers/server.js';
import { Converted, postFile } from './files-helpers.js';
import { NO_FFMPEG } from '../helpers/ffmpeg.js';

interface Direct {
  text: string;
  chunks: Array<{ text: string; timestamp: [number, number | null] }>;
}

/** The reference process: one JSON line per request. */
class DirectPipeline {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  constructor() {
    this.proc = spawn(path.join(ROOT_DIR, 'sidecar', '.venv', 'bin', 'python'), [path.join(ROOT_DIR, 'bench', 'overhead', 'direct_pipeline.py')], {
      env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' },
    });
    this.proc.stderr.resume();
    this.#lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error('direct pipeline exited');
    return JSON.parse(value as string) as Record<string, unknown>;
  }
  /** chunk_length_s 0: Whisper's sequential long-form decoding. batch_size as the server's BATCH_SIZE. */
  async run(pcm: string, chunkLengthS?: number): Promise<Direct> {
    this.proc.stdin.write(`${JSON.stringify({ pcm, return_timestamps: true, batch_size: BATCH_SIZE, ...(chunkLengthS === undefined ? {} : { chunk_length_s: chunkLengthS }) })}\n`);
    return (await this.next()) as unknown as Direct;
  }
}

const ms = (s: number) => Math.round(s * 1000) / 1000;
// One chunk per forward on both sides: the 64 s file is then three slices (file_slice) whose join
// must equal the pipeline's own stride merge, and on a 2-core CPU batch 1 is the faster one
// (a 98 s file: ~50 s at 1, ~90 s at 16; bench/results/contention-*).
const BATCH_SIZE = 1;
let server: RunningServer;
let direct: DirectPipeline;
const files = new Converted();

beforeAll(async () => {
  // Both processes run torch on the same cores, one after the other: OpenMP threads that spin while
  // idle would steal the other's time (jfk took 17-24 s instead of 7.5 s here). Inherited by both.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  direct = new DirectPipeline();
  // Two windows per sequential slice (the fewest): the ~101 s file below is then two slices (a file
  // within three windows of its end, as the 64 s one, is a single slice: seq_slices.slice_end).
  server = await startServer(testConfig({ FILE_SEQ_WINDOWS: '2', BATCH_SIZE: String(BATCH_SIZE) }), testLogger().log);
  await Promise.all([waitForState(server.supervisor, 'ready'), direct.next()]);
}, 180_000);

afterAll(async () => {
  direct?.proc.kill();
  await server?.close();
  files.remove();
});

describe.skipIf(NO_FFMPEG)('parity with a direct pipeline call', () => {
  it.each(['jfk.wav', 'fleurs-fr-001.wav', 'longform-en.wav'])('%s: same text and chunk timestamps', async (fixture) => {
    const pcm = files.pcm(fixture);
    const duration = statSync(pcm).size / 32_000;
    const reference = await direct.run(pcm);
    const res = await postFile(server.url, '/v1/audio/transcriptions', files.file(fixture, 'flac'), { model: 'whisper-1', response_format: 'verbose_json' });
    const ours = (await res.json()) as { text: string; segments: Array<{ start: number; end: number; text: string }> };
    expect(ours.text).toBe(reference.text.trim());
    expect(ours.segments.map((s) => [s.start, s.end, s.text])).toEqual(
      reference.chunks.map((c) => [ms(c.timestamp[0]), ms(c.timestamp[1] ?? duration), c.text.trim()]),
    );
  }, 600_000);

  it('went through the slices (file_slice + file_join), not one whole-file request', async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const count = (kind: string) => Number(new RegExp(`whisper_sidecar_requests_total\\{kind="${kind}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    expect(count('file_slice')).toBeGreaterThanOrEqual(5); // jfk, the French file, three of longform-en
    expect(count('file_join')).toBe(3);
  });

  it('mode=sequential: a 101 s file in slices of the seek loop gives the direct sequential call\'s text and chunk timestamps', async () => {
    const metrics = async () => (await fetch(`${server.url}/metrics`)).text();
    const count = (text: string, kind: string) => Number(new RegExp(`whisper_sidecar_requests_total\\{kind="${kind}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    const joined = files.joined('long-101s', ['longform-en.wav', 'fleurs-en-000.wav', 'ls-6930-75918-0000.wav', 'fleurs-en-001.wav', 'ls-7902-96591-0000.wav', 'fleurs-en-002.wav']);
    const pcm = files.pcm(joined);
    const duration = statSync(pcm).size / 32_000;
    const reference = await direct.run(pcm, 0);
    const before = await metrics();
    const res = await postFile(server.url, '/v1/audio/transcriptions', files.file(joined, 'flac'), { model: 'whisper-1', response_format: 'verbose_json', mode: 'sequential' });
    const ours = (await res.json()) as { text: string; segments: Array<{ start: number; end: number; text: string }> };
    const after = await metrics();
    const sent = (kind: string) => count(after, kind) - count(before, kind);
    expect(ours.text).toBe(reference.text.trim());
    // The sequential decode can close an empty segment before it opened ([28, 26, '']): the API
    // never gives a segment that ends before it starts (formats.ts timedChunks), the rest is exact.
    expect(ours.segments.map((s) => [s.start, s.end, s.text])).toEqual(
      reference.chunks.map((c) => [ms(c.timestamp[0]), ms(Math.max(c.timestamp[0], c.timestamp[1] ?? duration)), c.text.trim()]),
    );
    expect(reference.chunks.length).toBeGreaterThan(10);
    expect([sent('file_seq_plan'), sent('file_join'), sent('transcribe')]).toEqual([1, 1, 0]);
    expect(sent('file_seq_slice')).toBeGreaterThanOrEqual(2);
  }, 600_000);
});
