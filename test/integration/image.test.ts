/**
 * The CPU variant of the project's image, run in a real Docker engine: the engine and the image
 * come from scripts/ci/setup-docker.sh (a loopback-only dockerd on its own socket, the image built
 * from this checkout's Dockerfile with VARIANT=cpu). One container on a free loopback port (host
 * networking: the engine has no bridge): /health comes up, PID 1 is tini and the server runs as the
 * non-root user, jfk.wav goes through POST /v1/audio/transcriptions and over /ws/transcribe, then
 * `docker stop` with a stream open: the server drains (the stream runs until STREAM_DRAIN_MS, then
 * gets its final and close 1012) and the container exits 0.
 *
 * No engine or no image: skipped with a message, except where CI=true, where that is a failure.
 * Env: STT_CI_DOCKER_DIR (default /var/lib/stt-ci-docker), STT_CI_IMAGE (stt-ci/whisper-server:cpu).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { AUDIO_DIR, manifest, readWavPcm } from '../helpers/audio.js';
import { wer } from '../helpers/wer.js';
import { streamPcm, WsClient, wsUrl } from '../helpers/ws-client.js';

const STATE = process.env.STT_CI_DOCKER_DIR ?? '/var/lib/stt-ci-docker';
const SOCKET = path.join(STATE, 'docker.sock');
const IMAGE = process.env.STT_CI_IMAGE ?? 'stt-ci/whisper-server:cpu';
const dockerEnv = { ...process.env, DOCKER_HOST: `unix://${SOCKET}` };
const run = promisify(execFile);
const docker = (...args: string[]) => execFileSync('docker', args, { env: dockerEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const dockerAsync = (...args: string[]) => run('docker', args, { env: dockerEnv, encoding: 'utf8' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const jfkText = manifest().find((f) => f.file === 'jfk.wav')!.transcript;

/** Why the image cannot be run here, or undefined when it can. */
function unavailable(): string | undefined {
  if (!existsSync(SOCKET)) return `no Docker engine socket at ${SOCKET}`;
  try {
    docker('version', '--format', '{{.Server.Version}}');
  } catch (e) {
    return `the Docker engine at ${SOCKET} does not answer (${String((e as { stderr?: string }).stderr ?? e).trim().split('\n')[0]})`;
  }
  try {
    docker('image', 'inspect', '--format', '{{.Id}}', IMAGE);
  } catch {
    return `no image ${IMAGE} in the engine at ${SOCKET}`;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const reason = unavailable();
const hint = 'run scripts/ci/setup-docker.sh (it installs and starts the engine and builds the image)';

describe('the CPU image in a Docker engine', () => {
  if (reason !== undefined) {
    if (process.env.CI === 'true') {
      it('has a Docker engine and the image (CI=true: required)', () => {
        throw new Error(`${reason}: scripts/ci/setup-docker.sh should have made both before npm test; ${hint}`);
      });
    } else {
      console.warn(`[image.test] skipped: ${reason}; ${hint}`);
      it.skip(`skipped: ${reason}; ${hint}`, () => {});
    }
    return;
  }

  const name = `stt-image-test-${process.pid}`;
  afterAll(() => {
    try { docker('rm', '-f', name); } catch { /* already gone */ }
  });

  it('serves /health as non-root under tini, transcribes a file and a stream, and exits 0 on docker stop with a stream open', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const started = Date.now();
    // A short STREAM_DRAIN_MS keeps docker stop quick (the default would hold the open stream longer).
    docker('run', '-d', '--name', name, '--network', 'host', '-e', `PORT=${port}`, '-e', 'HOST=127.0.0.1', '-e', 'STREAM_DRAIN_MS=4000', IMAGE);
    const logs = () => { try { return execFileSync('docker', ['logs', '--tail', '40', name], { env: dockerEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }); } catch { return '(no logs)'; } };

    let healthy = false;
    for (let i = 0; i < 480 && !healthy; i++) {
      healthy = await fetch(`${url}/health`).then((r) => r.ok, () => false);
      if (!healthy) {
        if (docker('inspect', '-f', '{{.State.Running}}', name) !== 'true') break;
        await sleep(250);
      }
    }
    expect(healthy, `container healthy on ${url}; logs:\n${logs()}`).toBe(true);
    console.log(`[image.test] /health 200 after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const info = (await (await fetch(`${url}/`)).json()) as { model_reason?: string };
    expect(JSON.stringify(info)).toContain('embedded whisper-base');

    // PID 1 is tini; every process of the container (tini, node, the Python sidecar) runs as uid 10001.
    const procs = docker('exec', name, 'sh', '-c', 'for p in /proc/[0-9]*; do [ -r "$p/cmdline" ] || continue; printf "%s %s %s\\n" "${p#/proc/}" "$(sed -n "s/^Uid:[[:space:]]*\\([0-9]*\\).*/\\1/p" "$p/status")" "$(tr "\\0" " " < "$p/cmdline")"; done')
      .split('\n').map((l) => l.split(' ')).map(([pid, uid, ...cmd]) => ({ pid: Number(pid), uid: Number(uid), cmd: cmd.join(' ').trim() })).filter((p) => p.cmd);
    const pid1 = procs.find((p) => p.pid === 1);
    expect(pid1?.cmd, JSON.stringify(procs)).toMatch(/^\/usr\/bin\/tini -- node --import tsx src\/main\.ts/);
    const server = procs.find((p) => p.pid !== 1 && p.cmd.startsWith('node ') && p.cmd.includes('src/main.ts'));
    const sidecar = procs.find((p) => p.cmd.includes('sidecar/main.py'));
    expect(server, JSON.stringify(procs)).toBeDefined();
    expect(sidecar, JSON.stringify(procs)).toBeDefined();
    for (const p of [pid1!, server!, sidecar!]) expect(p.uid, p.cmd).toBe(10001);

    // One file over the OpenAI-compatible route.
    const form = new FormData();
    form.append('file', new Blob([readFileSync(path.join(AUDIO_DIR, 'jfk.wav'))]), 'jfk.wav');
    form.append('model', 'whisper-1');
    const answer = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
    expect(answer.status).toBe(200);
    const fileText = ((await answer.json()) as { text: string }).text;
    expect(wer(jfkText, fileText), fileText).toBeLessThanOrEqual(0.15);

    // One stream, sent faster than real time, to its final.
    const pcm = readWavPcm('jfk.wav');
    const streamed = await streamPcm(wsUrl(url), pcm, { chunkBytes: 16_000, pauseMs: 100 });
    expect(streamed.errors).toEqual([]);
    expect(streamed.final, JSON.stringify(streamed.messages.slice(-3))).toBeDefined();
    expect(wer(jfkText, String(streamed.final!.text)), String(streamed.final!.text)).toBeLessThanOrEqual(0.25);
    expect(streamed.close.code).toBe(1000);

    // docker stop with a stream open (audio sent at real time, no `end`).
    const open = await WsClient.connect(wsUrl(url));
    const second = 32_000; // 1 s of 16 kHz s16le
    let sent = 0;
    const sender = (async () => {
      for (; sent < pcm.length && open.ws.readyState === open.ws.OPEN; sent += second / 2) {
        open.send(pcm.subarray(sent, sent + second / 2));
        await sleep(500);
      }
    })();
    await open.waitFor((m) => m.type === 'interim');
    const stopAt = Date.now();
    const stop = dockerAsync('stop', '-t', '30', name);
    const result = await open.result();
    const closedAt = Date.now();
    await sender;
    await stop; // rejects (non-zero docker exit) on failure
    const stopSeconds = (Date.now() - stopAt) / 1000;
    const state = JSON.parse(docker('inspect', '-f', '{{json .State}}', name)) as { ExitCode: number; OOMKilled: boolean; Status: string };
    console.log(`[image.test] the open stream closed ${result.close.code} ${((closedAt - stopAt) / 1000).toFixed(1)} s after docker stop; docker stop took ${stopSeconds.toFixed(1)} s; exit ${state.ExitCode}`);
    expect(state.Status).toBe('exited');
    expect(state.OOMKilled).toBe(false);
    expect(state.ExitCode, logs()).toBe(0);
    // Drain mode (src/server.ts): the held stream runs until STREAM_DRAIN_MS, then gets its final and 1012.
    expect(result.errors).toEqual([]);
    expect(result.final, JSON.stringify(result.messages.slice(-3))).toBeDefined();
    expect(String(result.final!.text).length).toBeGreaterThan(0);
    expect(result.close.code).toBe(1012);
    expect(closedAt - stopAt).toBeGreaterThanOrEqual(3_500);
    expect(logs()).toContain('"msg":"stopped"');
  });
});
