/** @module Every environment variable, its default and its validation. parseConfig never reads process.env itself: main.ts passes the environment in, so tests build as many configs as they like. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Repository root (this file lives in src/). */
export const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where `npm install` puts the embedded model (openai/whisper-base rebuilt from PyPI packages). */
export const EMBEDDED_MODEL_DIR = path.join(ROOT_DIR, 'sidecar', 'models', 'whisper-base');
/** The GPU default, as in the design brief. */
export const GPU_DEFAULT_MODEL = 'openai/whisper-large-v3';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const ms = int(1, 24 * 3600 * 1000);

/** The schema of the environment. Keys are the variable names. */
export const envSchema = z.object({
  MODEL_ID: z.string().min(1).optional(),
  MODEL_REVISION: z.string().min(1).optional(),
  /** A pyannote diarization pipeline (local directory, or hub id with HF_TOKEN); unset: the offline Resemblyzer backend. */
  DIARIZATION_MODEL: z.string().min(1).optional(),
  DEVICE: z.string().regex(/^(auto|cpu|cuda(:\d+)?)$/, 'expected auto, cpu, cuda or cuda:N').default('auto'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65535).default(8000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CHUNK_LENGTH_S: z.coerce.number().positive().max(30).default(30),
  BATCH_SIZE: int(1, 256).default(16),
  RETURN_TIMESTAMPS: z.enum(['true', 'false', 'word']).default('true'),
  MAX_NEW_TOKENS: int(1, 444).default(128),
  SIDECAR_PYTHON: z.string().min(1).default(path.join(ROOT_DIR, 'sidecar', '.venv', 'bin', 'python')),
  SIDECAR_MAX_FRAME_BYTES: int(1024, 1024 * 1024 * 1024).default(256 * 1024 * 1024),
  SIDECAR_START_TIMEOUT_MS: ms.default(600_000),
  SIDECAR_PING_INTERVAL_MS: ms.default(5_000),
  SIDECAR_PONG_TIMEOUT_MS: ms.default(20_000),
  SIDECAR_REQUEST_TIMEOUT_MS: ms.default(120_000),
  SIDECAR_REQUEST_TIMEOUT_PER_AUDIO_SECOND_MS: int(0, 60_000).default(2_000),
  SCHEDULER_MAX_BATCH: int(1, 256).default(16),
  /** The one queue in front of the model (src/scheduler/): its batch size and its bound (both lanes together). */
  SCHEDULER_QUEUE_MAX: int(1, 100_000).default(1_024),
  /**
   * Stream windows are sent while file work runs, and the sidecar decodes them at the file's next
   * forward pass (sidecar/preempt.py); 'false': a window waits for the file slice in flight.
   */
  SCHEDULER_PREEMPT_FILES: z.enum(['true', 'false']).default('true'),
  /**
   * While file work waits, the most of the model's time ordinary stream re-decodes take (batch-policy.ts
   * windowHoldMs): streams cannot starve files; flushes and finals never wait. 1: windows always first.
   */
  SCHEDULER_STREAM_SHARE: z.coerce.number().min(0.05).max(1).default(0.5),
  /**
   * `pipeline`, `vad` and `sequential` files go to the model in bounded slices (a diarized one then asks for its speakers) (src/files/job.ts),
   * so two files take turns and a crash replays one slice; 'false': each file is one request.
   */
  FILE_SLICES: z.enum(['true', 'false']).default('true'),
  /** 30 s windows of Whisper's seek loop per slice of a `sequential`-mode file (sidecar/seq_slices.py; at least 2, so each slice is long-form). */
  FILE_SEQ_WINDOWS: int(2, 64).default(4),
  RESTART_BACKOFF_MS: ms.default(250),
  RESTART_BACKOFF_MAX_MS: ms.default(30_000),
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  /** On SIGTERM/SIGINT, how long open streams may go on before each gets its final and close 1012 (then SHUTDOWN_GRACE_MS for model work). */
  STREAM_DRAIN_MS: int(0, 24 * 3600 * 1000).default(30_000),
  /** Server-sent WebSocket ping frames on every stream (below common proxy read timeouts of 60 s); 0 = off. No pong for two intervals: the socket is cut. */
  WS_PING_INTERVAL_MS: int(0, 3600 * 1000).default(20_000),
  /** File transcription (src/files, src/http/transcriptions.ts). */
  FFMPEG_PATH: z.string().min(1).default('ffmpeg'),
  FFMPEG_TIMEOUT_MS: ms.default(300_000),
  MAX_UPLOAD_BYTES: int(1024, 2 * 1024 * 1024 * 1024).default(200 * 1024 * 1024),
  MAX_FILE_SECONDS: int(1, 24 * 3600).default(2 * 3600),
  FILE_LONGFORM_MODE: z.enum(['pipeline', 'sequential', 'vad']).default('pipeline'),
  /** WebSocket streaming (src/ws, src/session). */
  WS_MAX_MESSAGE_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  WS_MAX_SESSION_S: int(1, 24 * 3600).default(3600),
  WS_IDLE_TIMEOUT_MS: ms.default(30_000),
  STREAM_DECODE_INTERVAL_S: z.coerce.number().min(0.1).max(10).default(1),
  STREAM_MIN_DECODE_INTERVAL_S: z.coerce.number().min(0.1).max(10).default(0.5),
  STREAM_TRIM_COMMITTED: z.enum(['true', 'false']).default('false'),
  /** LocalAgreement-n: consecutive hypotheses that must agree before a word is committed. */
  STREAM_AGREEMENT: int(2, 3).default(2),
  /** alignatt: a word is also committed on its first decode once the model wrote it listening STREAM_ALIGNATT_MARGIN_S before the window's end. */
  STREAM_COMMIT_POLICY: z.enum(['local-agreement', 'alignatt']).default('alignatt'),
  STREAM_ALIGNATT_MARGIN_S: z.coerce.number().min(0).max(5).default(0.5),
  /** Stream-window engine (sidecar/engine.py): encoder on the window's length + STREAM_AUDIO_CTX_PAD_S; int8 linear layers on CPU. */
  STREAM_AUDIO_CTX: z.enum(['true', 'false']).default('false'),
  STREAM_AUDIO_CTX_PAD_S: z.coerce.number().min(1).max(30).default(3),
  STREAM_INT8: z.enum(['true', 'false']).default('true'),
  /** CPU only, where it has native bf16 (AVX512_BF16, AMX): the engine's encoder and first step in bf16 (faster, a little less accurate). */
  STREAM_ENCODER_BF16: z.enum(['true', 'false']).default('false'),
  STREAM_MAX_WINDOW_S: z.coerce.number().min(2).max(30).default(20),
  STREAM_CONTEXT_S: z.coerce.number().min(0).max(10).default(4),
  STREAM_CONTEXT_GAP_S: z.coerce.number().min(0).max(30).default(1.2),
  STREAM_ENDPOINT_MS: int(100, 10_000).default(800),
  STREAM_VAD_THRESHOLD: z.coerce.number().min(0.05).max(0.95).default(0.5),
  STREAM_PROMPT_CHARS: int(0, 1000).default(200),
  STREAM_NO_SPEECH_THRESHOLD: z.coerce.number().min(0).max(1).default(0.6),
  /** Production (src/http/auth.ts, src/http/limits.ts): comma-separated keys; unset = no auth. Token characters only, so browsers can send one as a WebSocket subprotocol. */
  API_KEYS: z.string().regex(/^[A-Za-z0-9._~-]{12,256}(,[A-Za-z0-9._~-]{12,256})*$/, 'expected comma-separated keys of 12-256 characters from A-Z a-z 0-9 . _ ~ -').optional(),
  /** Comma-separated origins allowed by CORS, or `*` (then without credentials); unset = same origin only. */
  CORS_ORIGINS: z.string().regex(/^(\*|https?:\/\/[^,\s*]+(,https?:\/\/[^,\s*]+)*)$/, 'expected * or comma-separated origins such as https://app.example.com').optional(),
  MAX_SESSIONS: int(1, 100_000).default(64),
  /** WebSocket sessions + file requests at the same time per API key (all clients share one budget without API_KEYS); 0 = no limit. */
  MAX_CONCURRENT_PER_KEY: int(0, 100_000).default(0),
});

type Env = z.infer<typeof envSchema>;

/** The validated configuration the server is built from. */
export interface Config extends Omit<Env, 'MODEL_ID'> {
  /** What is given to from_pretrained: a hub id or a local path. */
  MODEL_ID: string;
  /** Why MODEL_ID has its value (logged at start and shown by GET /). */
  modelReason: string;
}

/** Thrown by parseConfig: one line that names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Whether this host exposes an NVIDIA GPU to processes (driver loaded). */
export function hostHasCuda(): boolean {
  return existsSync('/proc/driver/nvidia/version') || existsSync('/dev/nvidia0');
}

function chooseModel(env: Env, hasCuda: boolean): Pick<Config, 'MODEL_ID' | 'modelReason'> {
  if (env.MODEL_ID) return { MODEL_ID: env.MODEL_ID, modelReason: 'MODEL_ID is set' };
  const onGpu = env.DEVICE.startsWith('cuda') || (env.DEVICE === 'auto' && hasCuda);
  if (onGpu) return { MODEL_ID: GPU_DEFAULT_MODEL, modelReason: `MODEL_ID unset and DEVICE=${env.DEVICE} with CUDA: the GPU default` };
  return {
    MODEL_ID: EMBEDDED_MODEL_DIR,
    modelReason: `MODEL_ID unset and DEVICE=${env.DEVICE} without CUDA: the embedded whisper-base`,
  };
}

/**
 * Validate an environment into a Config.
 * @example parseConfig({ PORT: '0', DEVICE: 'cpu' })
 */
export function parseConfig(env: Record<string, string | undefined>, hasCuda = hostHasCuda()): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`invalid ${name}=${JSON.stringify(cleaned[name] ?? '')}: ${issue.message}`);
  }
  return { ...parsed.data, ...chooseModel(parsed.data, hasCuda) };
}
