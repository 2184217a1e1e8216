/**
 * A live stream while a long file transcribes, against the real sidecar (issue 13): the file goes
 * in slices, the stream's windows are decoded inside them, and while the file waits ordinary
 * re-decodes take at most SCHEDULER_STREAM_SHARE of the model (flushes and the final never wait).
 * What this proves is that nothing of either is lost and the file does not hold the stream back
 * until it ends; the latencies are figures for bench/contention, never asserted here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { AUDIO_DIR, manifest, readWavPcm } from '../helpers/audio.js';
import { testConfig, testLogger, waitForState } from '../helpers/server.js';
import { wer } from '../helpers/wer.js';
import { WsClient, wsUrl } from '../helpers/ws-client.js';
import { postFile } from './files-helpers.js';
import path from 'node:path';

let server: RunningServer;
const transcript = (file: string) => manifest().find((f) => f.file === file)!.transcript;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // BATCH_SIZE 1: the 64 s file is several slices, as a long file is at any batch size.
  server = await startServer(testConfig({ LOG_LEVEL: 'info', BATCH_SIZE: '1', SCHEDULER_STREAM_SHARE: '0.5' }), testLogger().log);
  await waitForState(server.supervisor, 'ready');
});

afterAll(async () => {
  await server?.close();
});

describe('a stream during a file', () => {
  it('a real-time stream of two utterances during a 64 s pipeline file: commits before the file is done, both utterances in the final, the file whole', async () => {
    let fileDone = false;
    const upload = postFile(server.url, '/v1/audio/transcriptions', path.join(AUDIO_DIR, 'longform-en.wav'), { model: 'whisper-1' })
      .then(async (res) => ({ status: res.status, body: (await res.json()) as { text?: string } }))
      .finally(() => { fileDone = true; });
    await sleep(2_000);
    // jfk.wav, a 1 s pause, fleurs-en-003.wav: the second utterance comes while re-decodes wait for the share.
    const pcm = Buffer.concat([readWavPcm('jfk.wav'), Buffer.alloc(32_000), readWavPcm('fleurs-en-003.wav'), Buffer.alloc(16_000)]);
    const client = await WsClient.connect(wsUrl(server.url));
    client.send({ type: 'config', language: 'en' });
    let committedBeforeFileDone = false;
    const started = Date.now();
    for (let at = 0, n = 0; at < pcm.length; at += 3_200, n++) {
      client.send(pcm.subarray(at, at + 3_200));
      if (!fileDone && client.messages.some((m) => m.type === 'interim' && String(m.committed ?? '').trim() !== '')) committedBeforeFileDone = true;
      await sleep(Math.max(0, started + (n + 1) * 100 - Date.now()));
    }
    client.send({ type: 'end' });
    const r = await client.result();
    const file = await upload;

    expect(r.errors).toEqual([]);
    expect(committedBeforeFileDone).toBe(true);
    const reference = `${transcript('jfk.wav')} ${transcript('fleurs-en-003.wav')}`;
    const streamed = String(r.final?.text ?? '');
    console.log(`stream during file: WER ${wer(reference, streamed).toFixed(3)}: ${streamed}`);
    expect(wer(reference, streamed)).toBeLessThanOrEqual(0.2);
    expect(streamed.toLowerCase()).toContain('cabbage');
    expect(file.status).toBe(200);
    expect(wer(transcript('longform-en.wav'), file.body.text ?? '')).toBeLessThanOrEqual(0.3);
  });
});
