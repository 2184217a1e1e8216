/** @module createApp(deps) → the Hono app: mounts routes and the one error handler. No I/O here, so tests can call app.request(). */
import { Hono } from 'hono';
import type { Config } from './config.js';
import { AppError, toAppError } from './errors.js';
import type { Logger } from './log.js';
import { healthRoutes, type HealthSource } from './http/health.js';
import { modelRoutes } from './http/models.js';
import { transcriptionRoutes } from './http/transcriptions.js';
import type { Scheduler } from './scheduler/scheduler.js';

/** Everything the routes need, passed in (no globals). */
export interface AppDeps {
  config: Config;
  sidecar: HealthSource;
  /** The one queue in front of the model: every transcription goes through it. */
  scheduler: Scheduler;
  log: Logger;
}

/** Build the HTTP application. */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.route('/', healthRoutes(deps.config, deps.sidecar));
  app.route('/', modelRoutes(deps.config, deps.sidecar));
  const files = {
    scheduler: deps.scheduler,
    decode: { ffmpegPath: deps.config.FFMPEG_PATH, timeoutMs: deps.config.FFMPEG_TIMEOUT_MS, maxSeconds: deps.config.MAX_FILE_SECONDS },
  };
  app.route('/', transcriptionRoutes({ config: deps.config, sidecar: deps.sidecar, files, log: deps.log }));
  app.notFound((c) => c.json(new AppError('not_found', `no route for ${c.req.method} ${c.req.path}`).toJSON(), 404));
  app.onError((err, c) => {
    const appError = toAppError(err);
    if (appError.code === 'internal_error') deps.log.error({ err }, 'unhandled error');
    return c.json(appError.toJSON(), appError.status as 500);
  });
  return app;
}
