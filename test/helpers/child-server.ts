/**
 * @module A server as its own process, started the way production starts it (`node --import tsx
 * src/main.ts`, the image's CMD, or `npm start`), so tests can send it real signals. Loopback only,
 * on a free port; its JSON log lines are kept.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { ROOT_DIR } from '../../src/config.js';

/** A port nobody listens on right now (bind port 0, read it, let it go). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface ChildServer {
  child: ChildProcess;
  port: number;
  url: string;
  /** Everything the process printed. */
  output(): string;
  /** Its JSON log lines (pino), parsed. */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves once GET /readyz answers 200. */
  ready(timeoutMs?: number): Promise<void>;
  /** SIGKILL if still running (for afterAll / finally). */
  kill(): void;
}

/** The production entry: one node process that receives signals itself. */
export const PRODUCTION_ENTRY = ['node', '--import', 'tsx', 'src/main.ts'];

/** Start `command` (default: the production entry) in the repository with a CPU test environment. */
export async function startChildServer(env: Record<string, string> = {}, command: string[] = PRODUCTION_ENTRY): Promise<ChildServer> {
  const port = await freePort();
  const [file, ...args] = command;
  const child = spawn(file!, args, {
    cwd: ROOT_DIR,
    env: { ...process.env, DEVICE: 'cpu', HOST: '127.0.0.1', LOG_LEVEL: 'info', HF_HUB_OFFLINE: '1', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    port,
    url,
    output: () => out,
    logs: () => out.split('\n').flatMap((l) => { try { return l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : []; } catch { return []; } }),
    exited,
    async ready(timeoutMs = 150_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before it was ready:\n${out.slice(-3000)}`);
        const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
        if (ok) return;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`server not ready after ${timeoutMs} ms:\n${out.slice(-3000)}`);
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
