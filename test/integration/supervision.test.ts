/**
 * Supervision against the real sidecar and the real model: SIGKILL mid-request and replay, the
 * poison rule, health transitions, and graceful SIGTERM of the whole server with no process left.
 */
import { execa } from 'execa';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../src/config.js';
import type { AppError } from '../../src/errors.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { readWavPcm } from '../helpers/audio.js';
import { alive, testConfig, testLogger, waitForState } from '../helpers/server.js';
import { wer } from '../helpers/wer.js';

const JFK = 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';
let server: RunningServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function health(url: string) {
  const res = await fetch(`${url}/health`);
  return { http: res.status, ...(await res.json()) } as { http: number; status: string; model_loaded: boolean; sidecar: { state: string; restarts: number; pid: number | null; uptime_s: number | null } };
}

describe('supervision of the real sidecar', () => {
  it('health goes initializing -> healthy -> restarting -> healthy across a SIGKILL mid-request, and the request still completes', async () => {
    const { log } = testLogger();
    server = await startServer(testConfig(), log);
    const first = await health(server.url);
    expect(first).toMatchObject({ http: 503, status: 'initializing', model_loaded: false });
    await waitForState(server.supervisor, 'ready');
    const ready = await health(server.url);
    expect(ready).toMatchObject({ http: 200, status: 'healthy', model_loaded: true, sidecar: { state: 'ready', restarts: 0 } });
    const root = await (await fetch(`${server.url}/`)).json();
    expect(root).toMatchObject({ status: 'ok', device: 'cpu' });
    expect(root.model).toContain('whisper-base');

    const victim = ready.sidecar.pid!;
    let killed = false;
    const seen: string[] = [];
    server.supervisor.on('dispatch', (pid: number) => {
      if (!killed) {
        killed = true;
        // Let the model start working on it, then kill the process under it.
        setTimeout(() => process.kill(pid, 'SIGKILL'), 300);
      }
    });
    let exitedAt = 0;
    let restartToReadyMs = 0;
    server.supervisor.on('exit', () => { exitedAt = Date.now(); });
    server.supervisor.on('state', async (state: string) => {
      if (state === 'ready' && exitedAt) restartToReadyMs = Date.now() - exitedAt;
      if (state === 'restarting') seen.push((await health(server!.url)).status);
    });
    const [result] = await server.supervisor.transcribe({ items: [{ audio: readWavPcm('jfk.wav'), language: 'en' }] });
    expect(wer(JFK, result!.text)).toBeLessThanOrEqual(0.05);
    expect(alive(victim)).toBe(false);
    expect(seen).toContain('restarting');
    console.log(`restart-to-ready after SIGKILL: ${restartToReadyMs} ms (backoff ${100} ms included)`);
    const after = await health(server.url);
    expect(after).toMatchObject({ status: 'healthy', sidecar: { restarts: 1 } });
    expect(after.sidecar.pid).not.toBe(victim);
    const body = await (await fetch(`${server.url}/health`)).json();
    expect(body.sidecar.last_exit).toMatchObject({ signal: 'SIGKILL' });
  });

  it('fails a request that crashed the sidecar twice with poison_request, and the next request succeeds', async () => {
    const { log } = testLogger();
    server = await startServer(testConfig(), log);
    await waitForState(server.supervisor, 'ready');
    let kills = 0;
    const onDispatch = (pid: number) => {
      kills += 1;
      setTimeout(() => process.kill(pid, 'SIGKILL'), 200);
    };
    server.supervisor.on('dispatch', onDispatch);
    const err = await server.supervisor.transcribe({ items: [{ audio: readWavPcm('jfk.wav') }] }).then(
      () => undefined,
      (e: AppError) => e,
    );
    server.supervisor.off('dispatch', onDispatch);
    expect(err?.code).toBe('poison_request');
    expect(kills).toBe(2);
    const [ok] = await server.supervisor.transcribe({ items: [{ audio: readWavPcm('jfk.wav'), language: 'en' }] });
    expect(wer(JFK, ok!.text)).toBeLessThanOrEqual(0.05);
    expect(server.supervisor.snapshot().restarts).toBe(2);
  });

  it('replays a window and file work that were in flight together at a SIGKILL one at a time, and answers both', async () => {
    const { log } = testLogger();
    server = await startServer(testConfig(), log);
    await waitForState(server.supervisor, 'ready');
    const supervisor = server.supervisor;
    let dispatches = 0;
    const inFlightAtReplay: number[] = [];
    supervisor.on('dispatch', (pid: number) => {
      dispatches += 1;
      // Both are in flight (the window inside the file's decode): kill the process under them.
      if (dispatches === 2) setTimeout(() => process.kill(pid, 'SIGKILL'), 300);
      if (dispatches > 2) inFlightAtReplay.push(supervisor.snapshot().in_flight);
    });
    const audio = readWavPcm('jfk.wav');
    const file = supervisor.transcribe({ items: [{ audio, language: 'en' }], mode: 'pipeline' });
    const window = supervisor.transcribe({ items: [{ audio, language: 'en' }] });
    const [[fileResult], [windowResult]] = await Promise.all([file, window]);
    expect(wer(JFK, fileResult!.text)).toBeLessThanOrEqual(0.05);
    expect(wer(JFK, windowResult!.text)).toBeLessThanOrEqual(0.05);
    expect(supervisor.snapshot().restarts).toBe(1);
    // After the restart: the two were sent again, each alone (a second crash would be one's own).
    expect(inFlightAtReplay).toEqual([1, 1]);
  });

  it('on SIGTERM stops accepting, exits 0, and leaves no process of ours behind', async () => {
    const child = execa(path.join(ROOT_DIR, 'node_modules', '.bin', 'tsx'), [path.join(ROOT_DIR, 'src', 'main.ts')], {
      cwd: ROOT_DIR,
      env: { PORT: '0', HOST: '127.0.0.1', DEVICE: 'cpu', LOG_LEVEL: 'info' },
      reject: false,
      buffer: false,
    });
    let url = '';
    let sidecarPid = 0;
    const lines: string[] = [];
    const listening = new Promise<void>((resolve) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          lines.push(line);
          const entry = JSON.parse(line) as { msg: string; port?: number; pid?: number };
          if (entry.msg === 'listening') {
            url = `http://127.0.0.1:${entry.port}`;
            resolve();
          }
          if (entry.msg === 'sidecar ready') sidecarPid = entry.pid!;
        }
      });
    });
    await listening;
    for (let i = 0; i < 600 && (await health(url)).status !== 'healthy'; i++) await new Promise((r) => setTimeout(r, 200));
    expect(alive(sidecarPid)).toBe(true);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(alive(sidecarPid)).toBe(false);
    expect(lines.some((l) => l.includes('shutting down'))).toBe(true);
    const { stdout } = await execa('ps', ['-eo', 'pid,ppid,args']);
    expect(stdout.split('\n').filter((l) => l.includes(path.join(ROOT_DIR, 'sidecar', 'main.py')) && new RegExp(`^\\s*${sidecarPid}\\b`).test(l))).toEqual([]);
  });
});
