/**
 * @module Metric names and instruments (prom-client, one Registry per server: no global state), and
 * render() in Prometheus text. Counts are read where they live (gauges ask their source at scrape
 * time); model requests are measured by wrapping the client the scheduler sends through, so the
 * scheduler and supervisor stay unaware of metrics.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Live figures read at scrape time. */
export interface MetricSources {
  sessions(): number;
  fileRequests(): number;
  schedulerQueue(): number;
  sidecarReady(): boolean;
  /** MAX_SESSIONS: with whisper_sessions, the utilisation an autoscaler or gateway can use. */
  maxSessions?(): number;
  /** True from SIGTERM on: this instance takes no new work. */
  draining?(): boolean;
}

/** What a sidecar request looks like to the meter (structurally the sidecar's request params). */
/** What one stream-window batch cost inside the model (the sidecar's `batch` field; sidecar/protocol.ts BatchStats). */
export interface BatchStats {
  windows: number;
  encoder_rows: readonly number[];
  generate_rows: readonly number[];
  dropped_no_speech: number;
}

export interface MeteredParams {
  items?: ReadonlyArray<{ audio: Uint8Array }>;
  /** A file slice's audio. */
  item?: { audio: Uint8Array };
  /** Slices: chunks in the request. */
  count?: number;
  /** Stream windows: the batch's cost inside the model, reported by the sidecar (protocol.ts BatchStats). */
  onBatch?: (stats: BatchStats) => void;
  /** Set on whole-file requests only. */
  mode?: unknown;
}

/** A client with one request(kind, params) (structurally the supervisor). */
export interface MeteredClient {
  request(kind: string, params: MeteredParams): Promise<unknown>;
}

/** Where the wrapped client's requests come from: stream windows or whole files. */
export type DecodeKind = 'stream' | 'file';

const PREFIX = 'whisper_';
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];
const RTF_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5];
const BATCH_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64];
/** Real-time lag of streams, seconds: under 1-2 s is keeping up; past ~5 s an autoscaler should add capacity. */
const LAG_BUCKETS = [0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 13, 20, 30, 60];

/** The server's metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly #restarts: Counter<'cause'>;
  readonly #batchItems: Histogram<'kind'>;
  readonly #decodeSeconds: Histogram<'kind'>;
  readonly #rtf: Histogram<'kind'>;
  readonly #audioSeconds: Counter<'kind'>;
  readonly #failures: Counter<'kind'>;
  readonly #requests: Counter<'kind'>;
  readonly #forwardRows: Histogram<'stage'>;
  readonly #windows: Counter<'outcome'>;
  readonly #encoderPasses: Counter;
  readonly #streamLag: Histogram;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name: PREFIX + name, help, registers, collect() { this.set(read()); } });
    gauge('sessions', 'Open WebSocket streaming sessions.', () => sources.sessions());
    gauge('file_requests_in_progress', 'File transcription requests being served.', () => sources.fileRequests());
    gauge('scheduler_queue_depth', 'Jobs waiting in the scheduler, the one queue in front of the model (stream windows, file slices, VAD, embeddings).', () => sources.schedulerQueue());
    gauge('sidecar_up', '1 when the sidecar is ready, else 0.', () => (sources.sidecarReady() ? 1 : 0));
    gauge('sessions_max', 'MAX_SESSIONS: streaming sessions this instance admits (whisper_sessions over this is its utilisation).', () => sources.maxSessions?.() ?? 0);
    gauge('draining', '1 from SIGTERM on, while the instance drains (no new sessions or files), else 0.', () => (sources.draining?.() ? 1 : 0));
    this.#streamLag = new Histogram({ name: `${PREFIX}stream_lag_seconds`, help: 'Real-time lag of streams: lag_s of each interim (audio received minus audio decoded), and at each final the seconds from the end of the audio to the final.', buckets: LAG_BUCKETS, registers });
    this.#restarts = new Counter({ name: `${PREFIX}sidecar_restarts_total`, help: 'Sidecar restarts, by cause.', labelNames: ['cause'], registers });
    this.#batchItems = new Histogram({ name: `${PREFIX}batch_size`, help: 'Items per model request.', labelNames: ['kind'], buckets: BATCH_BUCKETS, registers });
    this.#decodeSeconds = new Histogram({ name: `${PREFIX}decode_seconds`, help: 'Wall time of a model request, queueing in the supervisor included.', labelNames: ['kind'], buckets: LATENCY_BUCKETS, registers });
    this.#rtf = new Histogram({ name: `${PREFIX}real_time_factor`, help: 'Decode seconds per second of audio in a model request (below 1 is faster than real time).', labelNames: ['kind'], buckets: RTF_BUCKETS, registers });
    this.#audioSeconds = new Counter({ name: `${PREFIX}audio_seconds_total`, help: 'Seconds of audio decoded.', labelNames: ['kind'], registers });
    this.#requests = new Counter({ name: `${PREFIX}sidecar_requests_total`, help: 'Requests sent to the sidecar, by message kind (transcribe, file_slice, file_join, file_vad_plan, file_vad_slice, file_seq_plan, file_seq_slice, file_diarize, vad, embed).', labelNames: ['kind'], registers });
    this.#forwardRows = new Histogram({ name: `${PREFIX}forward_items`, help: 'Stream windows per model forward inside the sidecar (encoder pass, batched generate): the true batch size.', labelNames: ['stage'], buckets: BATCH_BUCKETS, registers });
    this.#windows = new Counter({ name: `${PREFIX}stream_windows_total`, help: 'Stream windows the model was given, by outcome (decoded, or dropped as no speech before decoding).', labelNames: ['outcome'], registers });
    this.#encoderPasses = new Counter({ name: `${PREFIX}encoder_window_passes_total`, help: 'Stream windows run through the encoder (over whisper_stream_windows_total: encoder passes per window).', registers });
    this.#failures = new Counter({ name: `${PREFIX}decode_failures_total`, help: 'Model requests that failed.', labelNames: ['kind'], registers });
  }

  /** Count a sidecar restart; `cause` is the supervisor's reason (exit code, signal, hang, deadline). */
  sidecarRestarted(cause: string): void {
    // Causes carry pids and codes; keep the label set small by cutting at the first digit run.
    this.#restarts.inc({ cause: cause.replace(/\d+/g, 'N').slice(0, 64) });
  }

  /** One lag a stream reported (an interim's lag_s, or a final's delay after the end of its audio). */
  streamLag(seconds: number): void {
    this.#streamLag.observe(Math.max(0, seconds));
  }

  /** Record what one stream-window batch cost inside the model. */
  batched(stats: BatchStats): void {
    for (const rows of stats.encoder_rows) this.#forwardRows.observe({ stage: 'encoder' }, rows);
    for (const rows of stats.generate_rows) this.#forwardRows.observe({ stage: 'generate' }, rows);
    this.#encoderPasses.inc(stats.encoder_rows.reduce((a, b) => a + b, 0));
    this.#windows.inc({ outcome: 'dropped_no_speech' }, stats.dropped_no_speech);
    this.#windows.inc({ outcome: 'decoded' }, stats.windows - stats.dropped_no_speech);
  }

  /** Record one finished model request. */
  decoded(kind: DecodeKind, items: number, audioSeconds: number, wallSeconds: number): void {
    this.#batchItems.observe({ kind }, items);
    this.#decodeSeconds.observe({ kind }, wallSeconds);
    this.#audioSeconds.inc({ kind }, audioSeconds);
    if (audioSeconds > 0) this.#rtf.observe({ kind }, wallSeconds / audioSeconds);
  }

  /** Wrap the sidecar client so every request through it is counted, and every model request measured. */
  meter<C extends { request(...args: never[]): Promise<unknown> }>(client: C): Pick<C, 'request'> {
    const inner = client as unknown as MeteredClient;
    const request = async (kind: string, params: MeteredParams) => {
      this.#requests.inc({ kind });
      const decode: DecodeKind | undefined = kind === 'file_slice' || kind === 'file_vad_slice' || kind === 'file_seq_slice' ? 'file' : kind === 'transcribe' ? (params.mode === undefined ? 'stream' : 'file') : undefined;
      const started = performance.now();
      if (kind === 'transcribe') {
        const outer = params.onBatch;
        params = { ...params, onBatch: (stats) => { this.batched(stats); outer?.(stats); } };
      }
      try {
        const result = await inner.request(kind, params);
        if (decode) {
          const audio = [...(params.items ?? []), ...(params.item ? [params.item] : [])].reduce((s, i) => s + i.audio.byteLength / 32_000, 0);
          this.decoded(decode, params.count ?? params.items?.length ?? 1, audio, (performance.now() - started) / 1000);
        }
        return result;
      } catch (err) {
        if (decode) this.#failures.inc({ kind: decode });
        throw err;
      }
    };
    return { request } as unknown as Pick<C, 'request'>;
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
