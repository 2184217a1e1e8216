/**
 * @module bench/overhead: our HTTP API against a direct pipeline call, and the long-form modes.
 *
 * 1. Overhead: the same files transcribed by bench/overhead/direct_pipeline.py (a plain
 *    `pipeline(...)` on ffmpeg-decoded PCM; its time is the pipeline call alone) and through
 *    POST /v1/audio/transcriptions (wall time seen by the client: upload, ffmpeg, queue, sidecar,
 *    formatting), alternating which goes first, ROUNDS rounds. Reports time ratio and RTF.
 * 2. Long-form modes on longform-en.wav: pipeline (default), sequential, vad; WER and time; plus the
 *    one-by-one WER of the recordings it was made from.
 * 3. Hallucination guards: silence, noise and tones with and without vad=true.
 * Writes bench/results/overhead-<device>.json. Run: npm run bench:overhead (ROUNDS=2 by default).
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT_DIR } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import { AUDIO_DIR, manifest } from '../../test/helpers/audio.js';
import { testConfig, waitForState } from '../../test/helpers/server.js';
import { wer } from '../../test/helpers/wer.js';

const ROUNDS = Number(process.env.ROUNDS ?? 2);
const OVERHEAD_FILES = ['longform-en.wav', 'jfk.wav', 'fleurs-de-000.wav'];
const PARTS = ['jfk.wav', 'ls-6930-75918-0000.wav', 'ls-7902-96591-0000.wav', 'fleurs-en-000.wav', 'fleurs-en-001.wav', 'fleurs-en-002.wav', 'fleurs-en-003.wav', 'fleurs-en-004.wav'];
const NO_SPEECH = ['silence-60s.wav', 'noise-30s.wav', 'tones-20s.wav'];
const tmp = mkdtempSync(path.join(tmpdir(), 'bench-overhead-'));
const fixture = (file: string) => manifest().find((f) => f.file === file)!;
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function pcmOf(file: string): string {
  const out = path.join(tmp, `${file}.s16le`);
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', path.join(AUDIO_DIR, file), '-ac', '1', '-ar', '16000', '-f', 's16le', out]);
  return out;
}

async function main(): Promise<void> {
  // Both sides run torch on the same cores in turn; spinning idle OpenMP threads would tax whichever
  // runs second. Inherited by the sidecar (execa extends the environment) and the direct process.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  const log = createLogger('warn');
  const server = await startServer(testConfig({ LOG_LEVEL: 'warn' }), log);
  const direct = spawn(path.join(ROOT_DIR, 'sidecar', '.venv', 'bin', 'python'), [path.join(ROOT_DIR, 'bench', 'overhead', 'direct_pipeline.py')], {
    env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' }, stdio: ['pipe', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: direct.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => JSON.parse((await lines.next()).value as string) as { text: string; seconds: number };
  await Promise.all([waitForState(server.supervisor, 'ready'), nextLine()]);

  const runDirect = async (file: string, extra: Record<string, unknown> = {}) => {
    direct.stdin.write(`${JSON.stringify({ pcm: pcmOf(file), return_timestamps: true, ...extra })}\n`);
    return nextLine();
  };
  const runApi = async (file: string, fields: Record<string, string> = {}) => {
    const form = new FormData();
    form.append('model', 'whisper-1');
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob([readFileSync(path.join(AUDIO_DIR, file))]), file);
    const started = performance.now();
    const res = await fetch(`${server.url}/v1/audio/transcriptions`, { method: 'POST', body: form });
    const body = (await res.json()) as { text: string };
    if (!res.ok) throw new Error(`${file}: ${JSON.stringify(body)}`);
    return { text: body.text, seconds: (performance.now() - started) / 1000 };
  };

  // Warm-up (first calls pay one-off costs on both sides).
  await runDirect('jfk.wav');
  await runApi('jfk.wav');

  const overhead: Array<Record<string, unknown>> = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const file of OVERHEAD_FILES) {
      const order = r % 2 === 0 ? ['direct', 'api'] : ['api', 'direct'];
      const times: Record<string, { text: string; seconds: number }> = {};
      for (const side of order) times[side] = side === 'direct' ? await runDirect(file) : await runApi(file);
      const audio = statSync(pcmOf(file)).size / 32_000;
      overhead.push({ round: r, file, audio_s: round(audio), direct_s: round(times.direct!.seconds), api_s: round(times.api!.seconds),
        ratio: round(times.api!.seconds / times.direct!.seconds), same_text: times.api!.text === times.direct!.text.trim() });
      console.log(JSON.stringify(overhead.at(-1)));
    }
  }
  const sum = (key: string) => overhead.reduce((s, o) => s + (o[key] as number), 0);

  const ref = fixture('longform-en.wav').transcript;
  const modes: Array<Record<string, unknown>> = [];
  for (const mode of ['pipeline', 'sequential', 'vad']) {
    const out = await runApi('longform-en.wav', { mode });
    modes.push({ mode, wer: round(wer(ref, out.text)), seconds: round(out.seconds, 2), rtf: round(out.seconds / fixture('longform-en.wav').seconds), text: out.text });
    console.log(JSON.stringify({ ...modes.at(-1), text: undefined }));
  }
  const parts = [];
  for (const file of PARTS) {
    const out = await runApi(file);
    parts.push({ file, wer: round(wer(fixture(file).transcript, out.text)) });
  }
  // Word-weighted, the way a joined file's WER weighs its parts, and the plain mean of the parts.
  const refWords = (f: string) => fixture(f).transcript.split(/\s+/).length;
  const weighted = parts.reduce((s, p) => s + p.wer * refWords(p.file), 0) / parts.reduce((s, p) => s + refWords(p.file), 0);

  const guards = [];
  for (const file of NO_SPEECH) {
    const plain = await runApi(file);
    const vad = await runApi(file, { vad: 'true' });
    guards.push({ file, default_text: plain.text, vad_text: vad.text, vad_seconds: round(vad.seconds, 2) });
    console.log(JSON.stringify(guards.at(-1)));
  }
  const vadSpeech = [];
  for (const file of ['jfk.wav', 'fleurs-en-000.wav', 'fleurs-de-000.wav']) {
    const plain = await runApi(file);
    const vad = await runApi(file, { vad: 'true' });
    vadSpeech.push({ file, wer_default: round(wer(fixture(file).transcript, plain.text)), wer_vad: round(wer(fixture(file).transcript, vad.text)) });
  }

  const result = {
    bench: 'overhead',
    at: new Date().toISOString(),
    device: server.supervisor.snapshot().loaded?.device,
    model: server.supervisor.snapshot().loaded?.model,
    omp_wait_policy: process.env.OMP_WAIT_POLICY,
    host: { cpus: cpus().length, cpu: cpus()[0]?.model, loadavg_at_end: loadavg().map((l) => round(l, 2)) },
    note: 'direct_s is the pipeline call alone (in Python, PCM already decoded); api_s is client wall time for the whole HTTP request (upload, ffmpeg, queue, sidecar, formatting). Other processes shared these 2 cores during the run.',
    overhead: {
      rounds: ROUNDS,
      ratio_total: round(sum('api_s') / sum('direct_s')),
      rtf_api: round(sum('api_s') / sum('audio_s')),
      rtf_direct: round(sum('direct_s') / sum('audio_s')),
      runs: overhead,
    },
    longform: { file: 'longform-en.wav', modes, one_by_one: { wer_mean: round(parts.reduce((s, p) => s + p.wer, 0) / parts.length), wer_word_weighted: round(weighted), parts } },
    hallucination_guards: { no_speech: guards, speech_wer: vadSpeech, longform_wer_default: modes[0]!.wer, longform_wer_vad: modes[2]!.wer },
  };
  mkdirSync(path.join(ROOT_DIR, 'bench', 'results'), { recursive: true });
  const out = path.join(ROOT_DIR, 'bench', 'results', `overhead-${result.device ?? 'cpu'}.json`);
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}: ratio ${result.overhead.ratio_total}, rtf ${result.overhead.rtf_api}`);
  direct.kill();
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
