import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import type { SidecarSnapshot, SidecarState } from '../sidecar/supervisor.js';
import { healthRoutes } from './health.js';

const config = parseConfig({ DEVICE: 'cpu' }, false);
const snapshot = (state: SidecarState): SidecarSnapshot => ({ state, restarts: 0, uptime_s: 1, pid: 1, queue_depth: 0, in_flight: 0, last_exit: null, loaded: null });

function routes(state: SidecarState, draining = false) {
  return healthRoutes(config, { snapshot: () => snapshot(state) }, () => draining);
}

describe('health routes', () => {
  it('/livez is 200 in every sidecar state and while draining', async () => {
    for (const state of ['ready', 'starting', 'restarting', 'stopped'] as const) {
      expect((await routes(state, state === 'stopped').request('/livez')).status).toBe(200);
    }
  });

  it('/readyz is 200 only when the sidecar is ready and the server is not draining, else 503 with the reason', async () => {
    expect((await routes('ready').request('/readyz')).status).toBe(200);
    const restarting = await routes('restarting').request('/readyz');
    expect(restarting.status).toBe(503);
    expect(await restarting.json()).toMatchObject({ status: 'not_ready', reason: 'sidecar_restarting' });
    const draining = await routes('ready', true).request('/readyz');
    expect(draining.status).toBe(503);
    expect(await draining.json()).toMatchObject({ status: 'not_ready', reason: 'draining' });
  });

  it('/health says draining (503) during a drain, healthy (200) otherwise', async () => {
    const res = await routes('ready', true).request('/health');
    expect(res.status).toBe(503);
    expect(((await res.json()) as { status: string }).status).toBe('draining');
    expect((await routes('ready').request('/health')).status).toBe(200);
  });
});
