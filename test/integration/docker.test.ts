/**
 * The Docker image's steps, run outside Docker (no engine runs here): what the Dockerfile copies
 * and installs exists and is not excluded by .dockerignore, the production-only npm install has
 * every package the server imports, and the image's CMD, started from the repository with the
 * image's ENV (CPU and the embedded model instead of the GPU default), passes the image's own
 * HEALTHCHECK command and exits 0 on SIGTERM after draining. docker-compose.yml is checked for the
 * GPU reservation, the HF cache volume and the MODEL_ID default.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, ROOT_DIR } from '../../src/config.js';
import { AUDIO_DIR, manifest } from '../helpers/audio.js';
import { wer } from '../helpers/wer.js';
import { NO_FFMPEG } from '../helpers/ffmpeg.js';

const jfkText = manifest().find((f) => f.file === 'jfk.wav')!.transcript;

interface Instruction { op: string; args: string; stage: number }

/** Dockerfile → instructions (continuations joined, comments dropped), each tagged with its stage. */
function parseDockerfile(text: string): Instruction[] {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ').split('\n');
  let stage = -1;
  return lines.map((l) => l.trim()).filter(Boolean).map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    if (op!.toUpperCase() === 'FROM') stage += 1;
    return { op: op!.toUpperCase(), args: rest.join(' '), stage };
  });
}

const dockerfile = parseDockerfile(readFileSync(path.join(ROOT_DIR, 'Dockerfile'), 'utf8'));
const ignored = readFileSync(path.join(ROOT_DIR, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const lastStage = Math.max(...dockerfile.map((i) => i.stage));
const runtime = dockerfile.filter((i) => i.stage === lastStage);
const argDefaults = Object.fromEntries(dockerfile.filter((i) => i.op === 'ARG' && i.args.includes('=')).map((i) => i.args.split('=') as [string, string]));

/** `${NAME}` in an instruction → that ARG's default (the image as built without --build-arg). */
const expandArgs = (text: string): string => text.replace(/\$\{(\w+)\}/g, (_, name: string) => expandArgs(argDefaults[name] ?? ''));

/** ENV lines of the runtime stage (`ENV A=1 B=${ARG}`), ARG defaults filled in. */
function imageEnv(): Record<string, string> {
  return Object.fromEntries(runtime.filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, expandArgs(m[2]!)])));
}

function expandGlob(source: string): string[] {
  if (!source.includes('*')) return [source];
  const dir = path.dirname(source);
  const re = new RegExp(`^${path.basename(source).replace(/\./g, '\\.').replace(/\*/g, '.*')}$`);
  return readdirSync(path.join(ROOT_DIR, dir)).filter((f) => re.test(f)).map((f) => path.join(dir, f));
}

const isIgnored = (p: string) => ignored.some((pattern) => p === pattern || p.startsWith(`${pattern.replace(/\/$/, '')}/`));

describe('Dockerfile', () => {
  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const sources = dockerfile.filter((i) => i.op === 'COPY' && !i.args.includes('--from')).flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      return parts.slice(0, -1).flatMap(expandGlob);
    });
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(existsSync(path.join(ROOT_DIR, source)), `${source} exists`).toBe(true);
      expect(isIgnored(source.replace(/\/$/, '')), `${source} is not in .dockerignore`).toBe(false);
    }
    for (const never of ['node_modules', 'sidecar/.venv', 'sidecar/models', '.git', 'test-artifacts']) expect(isIgnored(never)).toBe(true);
  });

  it('installs the pinned CUDA set (+ diarization --no-deps), then flash-attn against it without build isolation, in a CUDA devel stage', () => {
    const runs = dockerfile.filter((i) => i.op === 'RUN').map((i) => i.args);
    const cuda = runs.findIndex((r) => r.includes('-r sidecar/requirements-cuda.txt'));
    const flash = runs.findIndex((r) => /--no-build-isolation -r sidecar\/requirements-flash-attn\.txt/.test(r));
    expect(cuda).toBeGreaterThanOrEqual(0);
    expect(flash).toBeGreaterThan(cuda);
    expect(runs.some((r) => r.includes('--no-deps -r sidecar/requirements-diarize.txt'))).toBe(true);
    for (const file of ['sidecar/requirements-cuda.txt', 'sidecar/requirements-flash-attn.txt', 'sidecar/requirements-diarize.txt']) expect(existsSync(path.join(ROOT_DIR, file))).toBe(true);
    // Every pip install names exact versions: no unpinned torch or build tool sneaks in.
    const pipCommands = runs.flatMap((r) => r.split('&&')).filter((c) => c.includes('pip install') && !c.includes(' -r '));
    expect(pipCommands.length).toBeGreaterThan(0);
    for (const command of pipCommands) {
      for (const pkg of command.split('pip install')[1]!.trim().split(/\s+/).filter((p) => !p.startsWith('-'))) expect(pkg).toMatch(/^[\w.-]+==[\w.]+$/);
    }
    // The base images are build args (CI builds the CPU variant on local images); their defaults
    // are the CUDA devel/runtime pair, whose major version is that of PyPI's torch 2.13.0 (CUDA 13).
    const froms = dockerfile.filter((i) => i.op === 'FROM').map((i) => i.args);
    expect(froms[0]).toMatch(/^\$\{SIDECAR_BASE\} AS sidecar$/);
    expect(froms.at(-1)).toMatch(/^\$\{RUNTIME_BASE\} AS runtime$/);
    expect(argDefaults.SIDECAR_BASE).toMatch(/^nvidia\/cuda:\$\{CUDA_VERSION\}-devel-/);
    expect(argDefaults.RUNTIME_BASE).toMatch(/^nvidia\/cuda:\$\{CUDA_VERSION\}-runtime-/);
    expect(argDefaults.CUDA_VERSION).toMatch(/^13\.0\.\d+$/);
    expect(readFileSync(path.join(ROOT_DIR, 'sidecar/requirements-cuda.txt'), 'utf8')).toMatch(/^torch==2\.13\.0$/m);
    expect(argDefaults.VARIANT).toBe('gpu');
    expect(argDefaults.NODE_IMAGE).toMatch(/^node:22-/);
    // The CPU variant: its pin set with the CPU torch forced by a constraint (never PyPI's CUDA
    // build), and the embedded model built in the image.
    expect(runs.some((r) => r.includes("echo 'torch==2.13.0+cpu' > /tmp/torch-cpu.txt") && r.includes('--find-links /wheels -c /tmp/torch-cpu.txt -r sidecar/requirements-cpu.txt'))).toBe(true);
    expect(runs.some((r) => r.includes('sidecar/convert.py --out sidecar/models/whisper-base'))).toBe(true);
    const npm = runs.find((r) => r.includes('npm ci'));
    expect(npm).toContain('SKIP_SIDECAR_SETUP=1');
    expect(npm).toContain('--omit=dev');
  });

  it('has a production dependency for every package the server imports (npm ci --omit=dev is enough)', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT_DIR, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path.join(dir, e.name)] : []));
    const bare = new Set<string>(['tsx']); // the CMD's --import
    for (const file of files(path.join(ROOT_DIR, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/^\s*import\s[^'"]*?from\s+['"]([^'"./][^'"]*)['"]/gm)) {
        if (m[1]!.startsWith('node:')) continue;
        bare.add(m[1]!.startsWith('@') ? m[1]!.split('/').slice(0, 2).join('/') : m[1]!.split('/')[0]!);
      }
    }
    expect([...bare].filter((name) => !pkg.dependencies[name])).toEqual([]);
  });

  it('runs as a non-root user with the HF cache as a volume, a HEALTHCHECK on /health and the GPU model default', () => {
    const env = imageEnv();
    const user = runtime.find((i) => i.op === 'USER')?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(runtime.find((i) => i.op === 'VOLUME')?.args).toContain(env.HF_HOME);
    expect(runtime.find((i) => i.op === 'EXPOSE')?.args).toBe(env.PORT);
    expect(runtime.find((i) => i.op === 'HEALTHCHECK')?.args).toContain('/health');
    expect(runtime.find((i) => i.op === 'STOPSIGNAL')?.args).toBe('SIGTERM');
    expect(env.MODEL_ID).toBe('openai/whisper-large-v3');
  });
});

describe('docker-compose.yml', () => {
  it('reserves a GPU, mounts the HF cache volume and defaults MODEL_ID to whisper-large-v3', () => {
    const compose = readFileSync(path.join(ROOT_DIR, 'docker-compose.yml'), 'utf8');
    expect(compose).toMatch(/reservations:\s*\n\s*devices:\s*\n\s*- driver: nvidia\s*\n\s*count: 1\s*\n\s*capabilities: \[gpu\]/);
    expect(compose).toContain(`hf-cache:${imageEnv().HF_HOME}`);
    expect(compose).toContain('MODEL_ID: ${MODEL_ID:-openai/whisper-large-v3}');
    expect(compose).toMatch(/stop_grace_period: (\d+)s/);
    // The stream drain, then the model-work drain, must both fit before compose kills the container.
    const drains = Number(imageEnv().SHUTDOWN_GRACE_MS) + Number(imageEnv().STREAM_DRAIN_MS ?? parseConfig({}).STREAM_DRAIN_MS);
    expect(Number(/stop_grace_period: (\d+)s/.exec(compose)![1]) * 1000).toBeGreaterThan(drains);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** An exec-form instruction's JSON argv (`CMD ["a", "b"]`, `HEALTHCHECK ... CMD [...]`). */
function execForm(args: string): string[] {
  return JSON.parse(args.slice(args.indexOf('['))) as string[];
}

describe('the image CMD, started outside Docker', () => {
  it.skipIf(NO_FFMPEG)('serves /health to the image HEALTHCHECK command, answers a request in flight at SIGTERM, then exits 0', async () => {
    const port = await freePort();
    // The image's ENV, on this CPU host: DEVICE=cpu and the embedded model instead of large-v3.
    const { MODEL_ID: _gpuDefault, ...fromImage } = imageEnv();
    const env: NodeJS.ProcessEnv = { ...process.env, ...fromImage, DEVICE: 'cpu', PORT: String(port), HOST: '127.0.0.1', HF_HOME: mkdtempSync(path.join(tmpdir(), 'hf-')), HF_HUB_OFFLINE: '1' };
    delete env.MODEL_ID;
    const [file, ...args] = execForm(runtime.find((i) => i.op === 'CMD')!.args);
    const child = spawn(file!, args, { cwd: ROOT_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const [checkFile, ...checkArgs] = execForm(runtime.find((i) => i.op === 'HEALTHCHECK')!.args);
      let healthy = false;
      for (let i = 0; i < 240 && !healthy && child.exitCode === null; i++) {
        healthy = spawnSync(checkFile!, checkArgs, { env: { ...process.env, PORT: String(port) } }).status === 0;
        if (!healthy) await new Promise((r) => setTimeout(r, 500));
      }
      expect(healthy, out.slice(-2000)).toBe(true);
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { sidecar: { pid: number } };
      // docker stop during a transcription: the request in flight is answered before the exit.
      // The model process is held still (SIGSTOP) until SIGTERM has been sent, so the request is
      // seen with the model whatever the machine's load (a fixed number of polls used to run out
      // first on a loaded machine); it resumes at once and answers.
      process.kill(health.sidecar.pid, 'SIGSTOP');
      let inFlight: Promise<Response>;
      try {
        const form = new FormData();
        form.append('file', new Blob([readFileSync(path.join(AUDIO_DIR, 'jfk.wav'))]), 'jfk.wav');
        form.append('model', 'whisper-1');
        inFlight = fetch(`http://127.0.0.1:${port}/v1/audio/transcriptions`, { method: 'POST', body: form });
        // SIGTERM once the model has the request (ffmpeg decoding comes first).
        const busy = async () => ((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { sidecar: { in_flight: number } }).sidecar.in_flight > 0;
        let sawBusy = false;
        for (let i = 0; i < 2_400 && !sawBusy; i++) {
          sawBusy = await busy();
          if (!sawBusy) await new Promise((r) => setTimeout(r, 25));
        }
        expect(sawBusy, 'the model was working on the request when SIGTERM came').toBe(true);
        child.kill('SIGTERM');
      } finally {
        process.kill(health.sidecar.pid, 'SIGCONT');
      }
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(wer(jfkText, ((await answer.json()) as { text: string }).text)).toBeLessThanOrEqual(0.15);
      expect(await exited).toBe(0);
      expect(out).toContain('shutting down: draining in-flight work');
      expect(out).toContain('"msg":"stopped"');
      let sidecarGone = false;
      try { process.kill(health.sidecar.pid, 0); } catch { sidecarGone = true; }
      expect(sidecarGone).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
