/** @module createApp(deps) → the Hono app: mounts routes and the one error handler. No I/O here, so tests can call app.request(). */
import { Hono } from 'hono';
import type { Config } from './config.js';
import { AppError, toAppError } from './errors.js';
import type { Logger } from './log.js';
import { healthRoutes, type HealthSource } from './http/health.js';
import { modelRoutes } from './http/models.js';
import { transcriptionRoutes } from './http/transcriptions.js';
import type { Scheduler } from './scheduler/scheduler.js';
import { cors } from 'hono/cors';
import { ApiKeys, httpAuth } from './http/auth.js';
import { demoRoutes } from './http/demo.js';
import { type Limiter, requestLimit } from './http/limits.js';
import { openApiRoutes } from './http/openapi.js';
import { prometheusRoutes } from './http/prometheus.js';
import { accessLog, requestIds } from './http/request-log.js';
import type { Metrics } from './metrics.js';
import { STREAM_PATH } from './ws/route.js';
import { PROTOCOL_PATHS } from './ws/protocols.js';

/** Everything the routes need, passed in (no globals). */
export interface AppDeps {
  config: Config;
  sidecar: HealthSource;
  /** The one queue in front of the model: every transcription goes through it. */
  scheduler: Scheduler;
  log: Logger;
  /** Admission limits shared with the WebSocket gate. */
  limiter: Limiter;
  /** The server's metrics (built once, in server.ts). */
  metrics: Metrics;
}

/** Routes anyone may call with API_KEYS set: the service's identity, health and probes, docs and the demo page. */
const OPEN_PATHS = /^\/(health|livez|readyz|openapi\.json|docs|web\/[\w.-]+)?$/;

/** Build the HTTP application. */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  const { config } = deps;
  const { limiter, metrics } = deps;
  if (config.CORS_ORIGINS) {
    // Keys travel in the Authorization header, never in cookies: no credentials, so `*` is safe.
    const origins = config.CORS_ORIGINS === '*' ? '*' : config.CORS_ORIGINS.split(',');
    app.use('*', cors({ origin: origins, credentials: false, allowHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'], exposeHeaders: ['X-Request-Id'], maxAge: 600 }));
  }
  app.use('*', requestIds(), accessLog(deps.log));
  // The WebSocket path checks its key in the session gate (header, subprotocol or ?token=), so a browser gets close 1008 with a reason;
  // /v1/listen and /v1/realtime check theirs before the upgrade, in their protocols' own ways (src/ws/protocols.ts).
  app.use('*', httpAuth(new ApiKeys(config.API_KEYS), (c) => OPEN_PATHS.test(c.req.path) || c.req.path === STREAM_PATH || PROTOCOL_PATHS.includes(c.req.path)));
  app.use('/v1/audio/*', requestLimit(limiter));
  app.route('/', demoRoutes());
  app.route('/', openApiRoutes());
  app.route('/', prometheusRoutes(metrics));
  app.route('/', healthRoutes(deps.config, deps.sidecar, () => limiter.draining));
  app.route('/', modelRoutes(deps.config, deps.sidecar));
  const files = {
    scheduler: deps.scheduler,
    decode: { ffmpegPath: deps.config.FFMPEG_PATH, timeoutMs: deps.config.FFMPEG_TIMEOUT_MS, maxSeconds: deps.config.MAX_FILE_SECONDS },
    chunking: () => (deps.config.FILE_SLICES === 'true' ? deps.sidecar.snapshot().loaded?.file_chunking : undefined),
  };
  app.route('/', transcriptionRoutes({ config: deps.config, sidecar: deps.sidecar, files, log: deps.log }));
  app.notFound((c) => c.json(new AppError('not_found', `no route for ${c.req.method} ${c.req.path}`).toJSON(), 404));
  app.onError((err, c) => {
    const appError = toAppError(err);
    if (appError.code === 'internal_error') deps.log.error({ err }, 'unhandled error');
    // A draining instance is going away: the client should retry at once (a load balancer sends it elsewhere).
    if (appError.code === 'draining') c.header('Retry-After', '1');
    return c.json(appError.toJSON(), appError.status as 500);
  });
  return app;
}
