/** @module Real servers and supervisors for tests: port 0, the real sidecar (or a labelled double), logs kept in memory. */
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig, ROOT_DIR, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createProcessFactory, type SidecarFactory } from '../../src/sidecar/process.js';
import type { Supervisor } from '../../src/sidecar/supervisor.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { afterAll, beforeAll } from 'vitest';

/** Log lines captured from a test's logger. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    if (process.env.TEST_LOGS === '1') process.stderr.write(chunk);
    done();
  }
}

/** A config for tests: CPU, port 0, the embedded model, quiet. */
export function testConfig(env: Record<string, string> = {}): Config {
  return parseConfig({ DEVICE: 'cpu', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug', RESTART_BACKOFF_MS: '100', ...env }, false);
}

export function testLogger(): { log: Logger; capture: LogCapture } {
  const capture = new LogCapture();
  return { log: createLogger('debug', capture), capture };
}

/** A factory for a labelled test double in test/doubles/. */
export function doubleFactory(name: string, log: Logger, env: Record<string, string> = {}): SidecarFactory {
  return createProcessFactory({
    file: path.join(ROOT_DIR, 'sidecar', '.venv', 'bin', 'python'),
    args: [path.join(ROOT_DIR, 'test', 'doubles', name)],
    env,
    cwd: path.join(ROOT_DIR, 'test', 'doubles'),
  }, log);
}

/** Resolves when the supervisor reaches `state` (at once if it is there). */
export function waitForState(supervisor: Supervisor, state: string, timeoutMs = 120_000): Promise<void> {
  if (supervisor.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`supervisor never reached ${state} (now ${supervisor.state})`)), timeoutMs);
    const onState = (next: string) => {
      if (next !== state) return;
      clearTimeout(timer);
      supervisor.off('state', onState);
      resolve();
    };
    supervisor.on('state', onState);
  });
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * One real server (real sidecar, embedded model, port 0) for a whole test file: started and ready
 * before its tests, closed after them. Call at the top level of the file.
 */
export function useServer(env: Record<string, string> = {}): () => RunningServer {
  let server: RunningServer | undefined;
  beforeAll(async () => {
    server = await startServer(testConfig(env), testLogger().log);
    await waitForState(server.supervisor, 'ready');
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });
  return () => server!;
}
