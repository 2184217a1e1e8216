/**
 * First-result latency of each streaming protocol on the same audio, same engine: jfk.wav streamed at
 * real time (100 ms frames) through /ws/transcribe, Deepgram /v1/listen (@deepgram/sdk) and OpenAI
 * /v1/realtime (openai SDK, turn_detection null, one commit at the end), one after another, ROUNDS
 * times. Times are ms from the first audio frame sent. Writes bench/results/protocols-cpu.json.
 *   npx tsx bench/protocols/run.ts [rounds]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { ROOT_DIR } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { AUDIO_DIR, manifest, readWavPcm } from '../../test/helpers/audio.js';
import { dgStream } from '../../test/helpers/deepgram-client.js';
import { rtAppend, rtConnect, to24k } from '../../test/helpers/realtime-client.js';
import { testConfig, testLogger, waitForState } from '../../test/helpers/server.js';
import { WsClient, wsUrl } from '../../test/helpers/ws-client.js';
import { wer } from '../../test/helpers/wer.js';

const ROUNDS = Number(process.argv[2] ?? 3);
const file = 'jfk.wav';
const reference = manifest().find((f) => f.file === file)!.transcript;
const pcm = readWavPcm(`${AUDIO_DIR}/${file}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const server = await startServer(testConfig({ LOG_LEVEL: 'info' }), testLogger().log);
await waitForState(server.supervisor, 'ready');

async function ws() {
  const c = await WsClient.connect(wsUrl(server.url));
  c.send({ type: 'config', language: 'en' });
  const t0 = Date.now();
  for (let at = 0; at < pcm.length; at += 3_200) {
    c.send(pcm.subarray(at, at + 3_200));
    await sleep(100);
  }
  c.send({ type: 'end' });
  const r = await c.result();
  const first = r.interims.find((m) => String(m.text) !== '');
  const firstCommitted = r.interims.find((m) => String(m.committed) !== '');
  return { first_interim_ms: first ? (first.at as number) - t0 : null, first_committed_ms: firstCommitted ? (firstCommitted.at as number) - t0 : null, final_ms: r.final ? r.messages.at(-1)!.at - t0 : null, wer: wer(reference, String(r.final?.text ?? '')) };
}

async function deepgram() {
  const r = await dgStream(server.url, pcm, { encoding: 'linear16', sample_rate: 16000, language: 'en', interim_results: 'true', punctuate: 'true' }, { chunkBytes: 3_200, pauseMs: 100 });
  const first = r.results.find((x) => x.channel.alternatives[0]!.transcript !== '');
  const firstFinal = r.finals.find((x) => x.channel.alternatives[0]!.transcript !== '');
  return { first_interim_ms: first ? first.at - r.sentAt : null, first_final_ms: firstFinal ? firstFinal.at - r.sentAt : null, metadata_ms: r.messages.at(-1)!.at - r.sentAt, wer: wer(reference, r.text) };
}

async function realtime() {
  const c = rtConnect(server.url);
  await c.waitFor((e) => e.type === 'session.created');
  c.rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'whisper-1', language: 'en' }, turn_detection: null } } } } as never);
  await c.waitFor((e) => e.type === 'session.updated');
  const t0 = Date.now();
  await rtAppend(c, to24k(pcm), 4_800, 100);
  c.rt.send({ type: 'input_audio_buffer.commit' } as never);
  const done = await c.waitFor((e) => e.type === 'conversation.item.input_audio_transcription.completed');
  c.rt.close();
  const first = c.events.find((e) => e.type === 'conversation.item.input_audio_transcription.delta');
  return { first_delta_ms: first ? first.at - t0 : null, completed_ms: done.at - t0, wer: wer(reference, String(done.transcript)) };
}

const rounds = [];
for (let i = 0; i < ROUNDS; i++) {
  const round = { ws: await ws(), deepgram: await deepgram(), realtime: await realtime() };
  console.log(JSON.stringify(round));
  rounds.push(round);
}
await server.close();
const median = (xs: Array<number | null>) => {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)]! : null;
};
const summary = {
  ws_first_interim_ms: median(rounds.map((r) => r.ws.first_interim_ms)),
  ws_first_committed_ms: median(rounds.map((r) => r.ws.first_committed_ms)),
  deepgram_first_interim_ms: median(rounds.map((r) => r.deepgram.first_interim_ms)),
  deepgram_first_final_ms: median(rounds.map((r) => r.deepgram.first_final_ms)),
  realtime_first_delta_ms: median(rounds.map((r) => r.realtime.first_delta_ms)),
  wer: { ws: median(rounds.map((r) => r.ws.wer)), deepgram: median(rounds.map((r) => r.deepgram.wer)), realtime: median(rounds.map((r) => r.realtime.wer)) },
};
console.log(JSON.stringify(summary));
const out = path.join(ROOT_DIR, 'bench', 'results', 'protocols-cpu.json');
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ file, rounds: ROUNDS, machine: { cpus: os.cpus().length, load_before: os.loadavg() }, summary, runs: rounds, date: new Date().toISOString() }, null, 2)}\n`);
