/**
 * @module GET / and GET /health: the design brief's fields, plus the sidecar's state, restart count
 * and uptime; GET /livez and GET /readyz for orchestrators (Kubernetes probes): live means this
 * process' event loop answers (so a sidecar restart never gets the pod killed), ready means the
 * sidecar is ready and the server is not draining (so a load balancer stops sending new work).
 */
import { Hono } from 'hono';
import type { Config } from '../config.js';
import type { SidecarSnapshot, SidecarState } from '../sidecar/supervisor.js';

/** What the health routes read; the supervisor provides it. */
export interface HealthSource {
  snapshot(): SidecarSnapshot;
}

const STATUS: Record<SidecarState, string> = {
  ready: 'healthy',
  starting: 'initializing',
  restarting: 'restarting',
  stopped: 'stopped',
};

/** Routes for the service's own state; `draining` is true from SIGTERM on (src/server.ts). */
export function healthRoutes(config: Config, sidecar: HealthSource, draining: () => boolean = () => false): Hono {
  const app = new Hono();
  app.get('/', (c) => {
    const snap = sidecar.snapshot();
    return c.json({
      status: 'ok',
      model: config.MODEL_ID,
      device: snap.loaded?.device ?? config.DEVICE,
      model_reason: config.modelReason,
      // Which speaker-diarization backend runs and why (sidecar/diarize.py); null until ready.
      diarization: snap.loaded?.diarization ?? null,
      sidecar: describe(snap),
    });
  });
  app.get('/health', (c) => {
    const snap = sidecar.snapshot();
    const status = draining() ? 'draining' : STATUS[snap.state];
    return c.json({ status, model_loaded: snap.state === 'ready', sidecar: describe(snap) }, status === 'healthy' ? 200 : 503);
  });
  // Answered without looking at the sidecar: reaching this handler is the proof of life.
  app.get('/livez', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const snap = sidecar.snapshot();
    if (draining()) return c.json({ status: 'not_ready', reason: 'draining', sidecar: snap.state }, 503);
    if (snap.state !== 'ready') return c.json({ status: 'not_ready', reason: `sidecar_${snap.state}`, sidecar: snap.state }, 503);
    return c.json({ status: 'ready', sidecar: snap.state });
  });
  return app;
}

function describe(snap: SidecarSnapshot) {
  return {
    state: snap.state,
    restarts: snap.restarts,
    uptime_s: snap.uptime_s,
    pid: snap.pid,
    queue_depth: snap.queue_depth,
    in_flight: snap.in_flight,
    last_exit: snap.last_exit,
    dtype: snap.loaded?.dtype ?? null,
    attn_implementation: snap.loaded?.attn_implementation ?? null,
    revision: snap.loaded?.revision ?? null,
  };
}
