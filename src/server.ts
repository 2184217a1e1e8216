/**
 * @module startServer(config) → a running HTTP server and its supervised sidecar; close() drains
 * both. Tests start as many as they like on port 0. The drain, in order (docs/protocol.md):
 *  1. refuse new work (`draining`: /readyz and /health 503, new sessions and uploads refused) while
 *     still listening, so a load balancer sees the instance leave and clients get a coded answer;
 *  2. let open streams run for up to STREAM_DRAIN_MS: a stream that ends by itself ends normally;
 *  3. at the deadline every stream still open gets its final (its own end path) and close 1012;
 *  4. within SHUTDOWN_GRACE_MS, wait for those finals and for file requests in flight, then stop
 *     the sidecar; whatever is still open after that gets `shutting_down` (1001).
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from './app.js';
import { ROOT_DIR, type Config } from './config.js';
import type { Logger } from './log.js';
import { createProcessFactory, realSidecarCommand, type SidecarFactory } from './sidecar/process.js';
import { Supervisor } from './sidecar/supervisor.js';
import { Scheduler } from './scheduler/scheduler.js';
import { probeFfmpeg } from './audio/ffmpeg.js';
import { mountStreaming } from './ws/route.js';
import { mountProtocols } from './ws/protocols.js';
import { sessionOptionsFrom } from './session/options.js';
import { transcriberFor } from './session/transcriber.js';
import { ApiKeys } from './http/auth.js';
import { Limiter, sessionGate } from './http/limits.js';
import { Metrics } from './metrics.js';

/** A started server. */
export interface RunningServer {
  url: string;
  port: number;
  supervisor: Supervisor;
  scheduler: Scheduler;
  /** Drain (see the module comment), stop the sidecar, stop listening. Idempotent. */
  close(): Promise<void>;
}

/** What a drain did, as logged. */
export interface DrainReport {
  /** Streams open when the drain began. */
  streams: number;
  /** Streams that ended by themselves (or whose client left) before the deadline. */
  endedNaturally: number;
  /** Streams given their final and close 1012 at the deadline. */
  finalizedAtDeadline: number;
  /** Streams still open after the grace, cut with shutting_down. */
  cut: number;
  drainMs: number;
}

/** Build the supervisor for a config; `factory` replaces the real sidecar (test doubles only). */
export function createSupervisor(config: Config, log: Logger, factory?: SidecarFactory): Supervisor {
  return new Supervisor({
    factory: factory ?? createProcessFactory(realSidecarCommand(config, ROOT_DIR), log),
    log: log.child({ component: 'supervisor' }),
    maxFrameBytes: config.SIDECAR_MAX_FRAME_BYTES,
    startTimeoutMs: config.SIDECAR_START_TIMEOUT_MS,
    pingIntervalMs: config.SIDECAR_PING_INTERVAL_MS,
    pongTimeoutMs: config.SIDECAR_PONG_TIMEOUT_MS,
    requestTimeoutMs: config.SIDECAR_REQUEST_TIMEOUT_MS,
    requestTimeoutPerAudioSecondMs: config.SIDECAR_REQUEST_TIMEOUT_PER_AUDIO_SECOND_MS,
    restart: { baseMs: config.RESTART_BACKOFF_MS, maxMs: config.RESTART_BACKOFF_MAX_MS, stableMs: 30_000 },
  });
}

/** Start the sidecar and serve the app on HOST:PORT (PORT 0 picks a free port). */
export async function startServer(config: Config, log: Logger, factory?: SidecarFactory): Promise<RunningServer> {
  const supervisor = createSupervisor(config, log, factory);
  supervisor.start();
  // File endpoints need ffmpeg; say so at start rather than on the first upload.
  const ffmpeg = probeFfmpeg(config.FFMPEG_PATH);
  if (ffmpeg.ok) log.info({ ffmpeg: ffmpeg.version }, 'ffmpeg found');
  else log.error({ reason: ffmpeg.reason }, 'ffmpeg is MISSING: /v1/audio/* will answer 503 ffmpeg_missing; install it (apt-get install ffmpeg) or set FFMPEG_PATH');
  const limiter = new Limiter(config);
  const metrics: Metrics = new Metrics({
    sessions: () => limiter.stats().sessions,
    fileRequests: () => limiter.stats().requests,
    schedulerQueue: () => scheduler.stats().queued,
    sidecarReady: () => supervisor.state === 'ready',
    maxSessions: () => config.MAX_SESSIONS,
    draining: () => limiter.draining,
  });
  supervisor.on('state', (state: string, reason: string) => {
    if (state === 'restarting') metrics.sidecarRestarted(reason);
  });
  const scheduler: Scheduler = new Scheduler(metrics.meter(supervisor), { maxBatchItems: config.SCHEDULER_MAX_BATCH, maxQueue: config.SCHEDULER_QUEUE_MAX, preemptFiles: config.SCHEDULER_PREEMPT_FILES === 'true', streamShare: config.SCHEDULER_STREAM_SHARE, log: log.child({ component: 'scheduler' }) });
  const app = createApp({ config, sidecar: supervisor, scheduler, log, limiter, metrics });
  const gate = sessionGate(new ApiKeys(config.API_KEYS), limiter);
  const languages = () => supervisor.snapshot().loaded?.languages ?? [];
  const onLag = (seconds: number) => metrics.streamLag(seconds);
  const streaming = mountStreaming(app, { config, model: scheduler, languages, log: log.child({ component: 'ws' }), gate, onLag });
  // Deepgram /v1/listen and OpenAI Realtime /v1/realtime: adapters over the same sessions (src/ws/protocols.ts).
  const keys = new ApiKeys(config.API_KEYS);
  const protocols = mountProtocols(app, {
    config, transcriber: transcriberFor(scheduler), sessionOptions: (l) => ({ ...sessionOptionsFrom(config, languages(), l), onLag }), languages,
    log: log.child({ component: 'ws' }), identify: (token) => keys.identify(token), openSession: (keyId) => limiter.openSession(keyId),
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT }, () => resolve(s));
  });
  streaming.injectWebSocket(protocols.dispatch(server as import('node:http').Server));
  const { port } = server.address() as AddressInfo;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  log.info({ port, host: config.HOST, model: config.MODEL_ID, why: config.modelReason }, 'listening');
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const openStreams = () => streaming.openCount() + protocols.openCount();
      const started = Date.now();
      // 1. From here on every admission is refused with `draining`, and the probes say so. The
      // server keeps listening: a proxy still routing here for a moment gets a coded answer.
      limiter.drain();
      const streams = openStreams();
      log.info({ streams, files: limiter.stats().requests, streamDrainMs: config.STREAM_DRAIN_MS }, 'draining: refusing new sessions and files, open streams go on');
      // 2. Open streams run on until they end or the deadline.
      await until(() => openStreams() === 0, config.STREAM_DRAIN_MS);
      // 3. At the deadline: each stream's own final, then close 1012 (its client reconnects elsewhere).
      const stillOpen = openStreams();
      const finalizedAtDeadline = streaming.finishAll() + protocols.finishAll();
      // 4. Finals and files share the grace: both need the model, so the sidecar stops after them.
      const waited = await until(() => openStreams() === 0 && limiter.stats().requests === 0, config.SHUTDOWN_GRACE_MS);
      const report: DrainReport = { streams, endedNaturally: Math.max(0, streams - stillOpen), finalizedAtDeadline, cut: openStreams(), drainMs: Date.now() - started };
      log.info(report, 'drained');
      await supervisor.stop(Math.max(0, config.SHUTDOWN_GRACE_MS - waited));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      streaming.closeAll();
      protocols.closeAll();
      if ('closeAllConnections' in server) server.closeAllConnections();
      await closed;
    })();
    return closing;
  };
  return { url: `http://${host}:${port}`, port, supervisor, scheduler, close };
}

/** Resolves once `done()` holds or `ms` have passed, with the milliseconds waited. */
async function until(done: () => boolean, ms: number): Promise<number> {
  const started = Date.now();
  while (!done() && Date.now() - started < ms) await new Promise((r) => setTimeout(r, 50));
  return Date.now() - started;
}
