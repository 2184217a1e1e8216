/** @module Fork test/stress/lib/server-child.ts and talk to it: ready, stats (server memory after GC), close. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT_DIR } from '../../../src/config.js';

export interface ChildStats { rss_mb: number; heap_used_mb: number; external_mb: number; array_buffers_mb: number; handles: number }

export class ServerChild {
  private constructor(readonly proc: ChildProcess, readonly url: string, readonly port: number) {}

  /** Start a server process with `env` on top of the defaults; resolves once its sidecar is ready. */
  static async start(env: Record<string, string>): Promise<ServerChild> {
    const proc = fork(path.join(ROOT_DIR, 'test', 'stress', 'lib', 'server-child.ts'), [], {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<{ url: string; port: number }>((resolve, reject) => {
      proc.on('message', (m: { type: string; url: string; port: number }) => { if (m.type === 'ready') resolve(m); });
      proc.once('exit', (code) => reject(new Error(`server process exited with ${code} before it was ready`)));
    });
    return new ServerChild(proc, ready.url, ready.port);
  }

  stats(): Promise<ChildStats> {
    return new Promise((resolve) => {
      const onMessage = (m: { type: string; memory: NodeJS.MemoryUsage; handles: number }) => {
        if (m.type !== 'stats') return;
        this.proc.off('message', onMessage);
        const mb = (x: number) => Math.round((x / 1024 / 1024) * 100) / 100;
        resolve({ rss_mb: mb(m.memory.rss), heap_used_mb: mb(m.memory.heapUsed), external_mb: mb(m.memory.external), array_buffers_mb: mb(m.memory.arrayBuffers), handles: m.handles });
      };
      this.proc.on('message', onMessage);
      this.proc.send({ type: 'stats' });
    });
  }

  /** Ask it to drain and exit; kill it if it has not within 30 s. */
  async close(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.send({ type: 'close' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}
