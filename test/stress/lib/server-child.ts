/**
 * @module A real server in its own process for the load test, so that its memory is measured
 * without the test's own clients in it. Started by child_process.fork with --expose-gc and tsx;
 * config comes from the environment (as in main.ts). IPC: sends {type:'ready', url, port} once the
 * sidecar is ready; answers {type:'stats'} with memory after a full GC and the live handle count;
 * {type:'close'} drains and exits.
 */
import { parseConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import { startServer } from '../../../src/server.js';

const config = parseConfig({ DEVICE: 'cpu', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...process.env });
const server = await startServer(config, createLogger(config.LOG_LEVEL));
const send = (m: object) => process.send?.(m);

const ready = () => send({ type: 'ready', url: server.url, port: server.port });
if (server.supervisor.state === 'ready') ready();
else server.supervisor.once('state', function onState(state: string) {
  if (state === 'ready') ready();
  else server.supervisor.once('state', onState);
});

process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
    send({ type: 'stats', memory: process.memoryUsage(), handles, gc: gc !== undefined });
  } else if (m.type === 'close') {
    void server.close().then(() => process.exit(0));
  }
});
