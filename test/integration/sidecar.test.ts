/**
 * The real sidecar with the real embedded model (openai/whisper-base rebuilt from PyPI) on the
 * speech fixtures of ../shared/audio: accuracy, what it reports it loaded, and its logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_MODEL_DIR } from '../../src/config.js';
import { createSupervisor } from '../../src/server.js';
import type { Supervisor } from '../../src/sidecar/supervisor.js';
import { readWavPcm, speechFixtures } from '../helpers/audio.js';
import { testConfig, testLogger, waitForState, type LogCapture } from '../helpers/server.js';
import { wer } from '../helpers/wer.js';

let supervisor: Supervisor;
let capture: LogCapture;

beforeAll(async () => {
  const t = testLogger();
  capture = t.capture;
  supervisor = createSupervisor(testConfig(), t.log);
  supervisor.start();
  await waitForState(supervisor, 'ready');
});

afterAll(async () => {
  await supervisor?.stop(5_000);
});

describe('real sidecar, embedded whisper-base', () => {
  it('reports what it really loaded in its first frame', () => {
    const loaded = supervisor.snapshot().loaded!;
    expect(loaded).toMatchObject({ model: EMBEDDED_MODEL_DIR, device: 'cpu', dtype: 'float32', attn_implementation: 'sdpa', sampling_rate: 16_000 });
    expect(loaded.settings).toEqual({ chunk_length_s: 30, batch_size: 16, return_timestamps: true, max_new_tokens: 128 });
    expect(loaded.languages).toContain('en');
    expect(loaded.languages.length).toBeGreaterThanOrEqual(99);
    console.log(`model load: ${loaded.load_seconds} s`);
  });

  it('logs what the sidecar prints on stderr, line by line, tagged as the sidecar', () => {
    const sidecarLines = capture.lines.filter((l) => l.src === 'sidecar');
    expect(sidecarLines.some((l) => String(l.msg).includes('loaded in'))).toBe(true);
  });

  it('transcribes every speech fixture in one batched request; English mean WER <= 0.15, JFK <= 0.05', async () => {
    const fixtures = speechFixtures();
    const started = Date.now();
    const results = await supervisor.transcribe({ items: fixtures.map((f) => ({ audio: readWavPcm(f.file) })) });
    const seconds = (Date.now() - started) / 1000;
    const rows = fixtures.map((f, i) => ({ file: f.file, language: f.language, detected: results[i]!.language, wer: Number(wer(f.transcript, results[i]!.text).toFixed(3)) }));
    console.table(rows);
    const audioSeconds = fixtures.reduce((s, f) => s + f.seconds, 0);
    console.log(`${fixtures.length} fixtures, ${audioSeconds.toFixed(1)} s of audio in ${seconds.toFixed(1)} s (RTF ${(seconds / audioSeconds).toFixed(2)})`);
    const english = rows.filter((r) => r.language === 'en');
    const meanEnglish = english.reduce((s, r) => s + r.wer, 0) / english.length;
    console.log(`English mean WER ${meanEnglish.toFixed(3)}`);
    expect(rows.find((r) => r.file === 'jfk.wav')!.wer).toBeLessThanOrEqual(0.05);
    expect(meanEnglish).toBeLessThanOrEqual(0.15);
    for (const [i, f] of fixtures.entries()) {
      const chunks = results[i]!.chunks;
      expect(chunks.length, f.file).toBeGreaterThan(0);
      expect(chunks[0]!.timestamp[0], f.file).toBeGreaterThanOrEqual(0);
    }
  });

  it('returns word timestamps that increase (the alignment heads work)', async () => {
    const [result] = await supervisor.transcribe({ items: [{ audio: readWavPcm('jfk.wav'), language: 'en' }], return_timestamps: 'word' });
    const starts = result!.chunks.map((c) => c.timestamp[0]!);
    expect(result!.chunks.length).toBeGreaterThanOrEqual(20);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(result!.chunks.at(-1)!.timestamp[1]).toBeLessThanOrEqual(11.5);
  });
});
