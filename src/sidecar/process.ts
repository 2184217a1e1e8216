/** @module The sidecar as an OS process: argv, environment, stdio, stderr → log lines, kill. The only file (with audio/ffmpeg.ts) that spawns. */
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { execa } from 'execa';
import type { Logger } from '../log.js';

/** How a sidecar process ended. */
export interface ProcessExit {
  code: number | null;
  signal: string | null;
}

/** What the supervisor needs of a process; tests may hand in any program that speaks the frames. */
export interface SidecarProcess {
  readonly pid: number | undefined;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly exited: Promise<ProcessExit>;
  kill(signal: NodeJS.Signals): void;
}

export type SidecarFactory = () => SidecarProcess;

/** The command that runs a sidecar: the real one, or a labelled test double. */
export interface SidecarCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

const LEVEL = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b/;

function logLine(log: Logger, line: string): void {
  const level = LEVEL.exec(line)?.[1];
  if (level === 'ERROR' || level === 'CRITICAL') log.error(line);
  else if (level === 'WARNING') log.warn(line);
  else if (level === 'DEBUG') log.debug(line);
  else log.info(line);
}

/**
 * A factory that spawns `command` with execa; each stderr line becomes a log line tagged as the sidecar's.
 * @example createProcessFactory(realSidecarCommand(config), log)
 */
export function createProcessFactory(command: SidecarCommand, log: Logger): SidecarFactory {
  return () => {
    const child = execa(command.file, command.args, {
      cwd: command.cwd,
      env: { PYTHONUNBUFFERED: '1', ...command.env },
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      cleanup: true,
    });
    const sidecarLog = log.child({ src: 'sidecar', pid: child.pid });
    createInterface({ input: child.stderr }).on('line', (line) => logLine(sidecarLog, line));
    const exited = child.then(
      (result) => ({ code: result.exitCode ?? null, signal: result.signal ?? null }),
      (err: { exitCode?: number; signal?: string }) => ({ code: err.exitCode ?? null, signal: err.signal ?? null }),
    );
    return {
      pid: child.pid,
      stdin: child.stdin,
      stdout: child.stdout,
      exited,
      kill: (signal) => {
        child.kill(signal);
      },
    };
  };
}

/** The real sidecar: sidecar/main.py in its venv, configured through its environment. */
export function realSidecarCommand(config: {
  SIDECAR_PYTHON: string;
  MODEL_ID: string;
  MODEL_REVISION?: string | undefined;
  DIARIZATION_MODEL?: string | undefined;
  DEVICE: string;
  CHUNK_LENGTH_S: number;
  BATCH_SIZE: number;
  RETURN_TIMESTAMPS: string;
  MAX_NEW_TOKENS: number;
  SIDECAR_MAX_FRAME_BYTES: number;
  STREAM_AUDIO_CTX: string;
  STREAM_AUDIO_CTX_PAD_S: number;
  STREAM_INT8: string;
  STREAM_ENCODER_BF16: string;
  FILE_SEQ_WINDOWS: number;
  LOG_LEVEL: string;
}, rootDir: string): SidecarCommand {
  const env: Record<string, string> = {
    MODEL_ID: config.MODEL_ID,
    DEVICE: config.DEVICE,
    CHUNK_LENGTH_S: String(config.CHUNK_LENGTH_S),
    BATCH_SIZE: String(config.BATCH_SIZE),
    RETURN_TIMESTAMPS: config.RETURN_TIMESTAMPS,
    MAX_NEW_TOKENS: String(config.MAX_NEW_TOKENS),
    SIDECAR_MAX_FRAME_BYTES: String(config.SIDECAR_MAX_FRAME_BYTES),
    STREAM_AUDIO_CTX: config.STREAM_AUDIO_CTX,
    STREAM_AUDIO_CTX_PAD_S: String(config.STREAM_AUDIO_CTX_PAD_S),
    STREAM_INT8: config.STREAM_INT8,
    STREAM_ENCODER_BF16: config.STREAM_ENCODER_BF16,
    FILE_SEQ_WINDOWS: String(config.FILE_SEQ_WINDOWS),
    // Debug adds one sidecar line per request: its kind, id, items and milliseconds on the model.
    SIDECAR_LOG_LEVEL: config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace' ? 'DEBUG' : 'INFO',
    TOKENIZERS_PARALLELISM: 'false',
    // Idle OpenMP workers spin by default; with the model and VAD threads sharing a few cores
    // that spinning measured 2-3x slower decodes here. An explicit setting wins.
    OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE',
  };
  if (config.MODEL_REVISION) env.MODEL_REVISION = config.MODEL_REVISION;
  if (config.DIARIZATION_MODEL) env.DIARIZATION_MODEL = config.DIARIZATION_MODEL;
  return { file: config.SIDECAR_PYTHON, args: [path.join(rootDir, 'sidecar', 'main.py')], env, cwd: path.join(rootDir, 'sidecar') };
}
