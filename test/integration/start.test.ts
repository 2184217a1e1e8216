/**
 * `npm start` (what the README says to run) must hand signals to the server itself: npm forwards
 * SIGTERM to its child, and the script `exec`s node (no shell, no tsx CLI wrapper in between), so
 * the signal reaches the process that drains. Before, npm → sh → tsx → node lost it: npm exited,
 * node and its sidecar ran on as orphans.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../src/config.js';
import { startChildServer, type ChildServer } from '../helpers/child-server.js';
import { alive } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let server: ChildServer | undefined;
const pids: number[] = [];

afterAll(() => {
  server?.kill();
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

/** The parent pid of `pid` (field 4 of /proc/PID/stat, after the parenthesised name). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function gone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (alive(pid) && Date.now() < until) await sleep(100);
  return !alive(pid);
}

describe('npm start', () => {
  it('runs node itself (one process below npm), and SIGTERM to npm stops the server and its sidecar', async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT_DIR, 'package.json'), 'utf8')) as { scripts: { start: string } };
    expect(pkg.scripts.start).toMatch(/^exec node /);
    server = await startChildServer({}, ['npm', 'start']);
    await server.ready();
    const sidecar = ((await (await fetch(`${server.url}/health`)).json()) as { sidecar: { pid: number } }).sidecar.pid;
    const node = parentOf(sidecar);
    pids.push(node, sidecar);
    expect(readFileSync(`/proc/${node}/cmdline`, 'utf8').split('\0')[0]).toMatch(/node$/);
    expect(parentOf(node), 'node is npm\'s own child (the shell exec\'d it)').toBe(server.child.pid);

    server.child.kill('SIGTERM');
    expect(await server.exited).not.toBeUndefined();
    expect(await gone(node, 30_000), 'the server process exited').toBe(true);
    expect(await gone(sidecar, 5_000), 'its sidecar is gone').toBe(true);
    expect(server.output()).toContain('shutting down: draining in-flight work');
    expect(server.output()).toContain('"msg":"stopped"');
  });
});
