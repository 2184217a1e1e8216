/**
 * The official `openai` npm SDK, given our base URL, as a client: models, transcriptions in every
 * response format, word timestamps, translations, streaming, and errors it maps to its own classes.
 */
import { createReadStream, readFileSync } from 'node:fs';
import OpenAI, { BadRequestError, toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { manifest } from '../helpers/audio.js';
import { testConfig, testLogger, waitForState } from '../helpers/server.js';
import { wer } from '../helpers/wer.js';
import { Converted } from './files-helpers.js';
import { NO_FFMPEG } from '../helpers/ffmpeg.js';

const transcript = (file: string) => manifest().find((f) => f.file === file)!.transcript;
let server: RunningServer;
let client: OpenAI;
const files = new Converted();

beforeAll(async () => {
  server = await startServer(testConfig(), testLogger().log);
  await waitForState(server.supervisor, 'ready');
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
}, 180_000);

afterAll(async () => {
  await server?.close();
  files.remove();
});

describe.skipIf(NO_FFMPEG)('openai SDK against our server', () => {
  it('lists the loaded model', async () => {
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain(server.supervisor.snapshot().loaded!.model);
    expect(ids).toContain('whisper-1');
  });

  it('transcribes an mp3 (json) and gives verbose_json with words and segments', async () => {
    const mp3 = files.file('jfk.wav', 'mp3');
    const json = await client.audio.transcriptions.create({ file: createReadStream(mp3), model: 'whisper-1' });
    expect(wer(transcript('jfk.wav'), json.text)).toBeLessThanOrEqual(0.15);
    const verbose = await client.audio.transcriptions.create({
      file: createReadStream(mp3), model: 'whisper-1', response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'],
    });
    expect(verbose.language).toBe('en');
    expect(verbose.duration).toBeCloseTo(11, 0);
    expect(verbose.words!.length).toBeGreaterThan(15);
    expect(verbose.words!.at(-1)!.end).toBeLessThanOrEqual(11.1);
    expect(verbose.segments!.length).toBeGreaterThan(0);
  }, 120_000);

  it('returns srt, vtt and text as strings', async () => {
    const file = await toFile(readFileSync(files.file('ls-6930-75918-0000.wav', 'ogg')), 'ls.ogg');
    const srt = await client.audio.transcriptions.create({ file, model: 'whisper-1', response_format: 'srt' });
    expect(srt).toMatch(/^1\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\n/);
    const vtt = await client.audio.transcriptions.create({ file, model: 'whisper-1', response_format: 'vtt' });
    expect(vtt).toMatch(/^WEBVTT\n\n00:00:00\.\d{3} --> /);
    const text = await client.audio.transcriptions.create({ file, model: 'whisper-1', response_format: 'text', language: 'en', prompt: 'Concord.' });
    expect(wer(transcript('ls-6930-75918-0000.wav'), text)).toBeLessThanOrEqual(0.2);
  }, 120_000);

  it('translates Spanish into English', async () => {
    const file = await toFile(readFileSync(files.file('fleurs-es-000.wav', 'm4a')), 'es.m4a');
    const out = await client.audio.translations.create({ file, model: 'whisper-1' });
    const words = out.text.toLowerCase().split(/\W+/);
    expect(words.filter((w) => ['the', 'to', 'of', 'that', 'travelers', 'travellers'].includes(w)).length).toBeGreaterThanOrEqual(2);
    expect(words.filter((w) => ['los', 'que', 'viajeros', 'recomienda'].includes(w))).toEqual([]);
  }, 120_000);

  it('streams text events', async () => {
    const stream = await client.audio.transcriptions.create({ file: createReadStream(files.file('jfk.wav', 'flac')), model: 'whisper-1', stream: true });
    const types: string[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'transcript.text.done') text = event.text;
    }
    expect(types.at(-1)).toBe('transcript.text.done');
    expect(types).toContain('transcript.text.delta');
    expect(wer(transcript('jfk.wav'), text)).toBeLessThanOrEqual(0.15);
  }, 120_000);

  it('maps a bad upload to BadRequestError with our code', async () => {
    const file = await toFile(Buffer.from('definitely not audio'.repeat(20)), 'x.mp3');
    const err = await client.audio.transcriptions.create({ file, model: 'whisper-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).status).toBe(400);
    expect((err as BadRequestError).code).toBe('unsupported_audio');
  });
});
