/**
 * @module One uploaded file, start to finish: decode it with ffmpeg, send the whole PCM to the model
 * through the scheduler (as a file job, behind stream windows), and shape the result for formats.ts.
 * The model gets the file in one request so the pipeline's own chunking and batching apply: that is
 * what makes the default mode give exactly what a direct pipeline call gives.
 */
import { decodeToPcm, type DecodeOptions } from '../audio/ffmpeg.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { DiarizeHints, LongFormMode, Progress } from '../sidecar/protocol.js';
import { segmentsFromWords, timedChunks, type FileTranscript, type Word } from './formats.js';
import { assignSpeakers, segmentsBySpeaker } from './speakers.js';

/** Bytes of 16 kHz mono s16le per second. */
const PCM_BYTES_PER_SECOND = 32_000;

export interface FileJobDeps {
  scheduler: Pick<Scheduler, 'transcribeFile'>;
  decode: Omit<DecodeOptions, 'maxPcmBytes'> & { maxSeconds: number };
}

export interface FileJobRequest {
  task: 'transcribe' | 'translate';
  language?: string;
  prompt?: string;
  temperature?: number;
  mode: LongFormMode;
  /** Word timestamps (verbose_json with timestamp_granularities[]=word). */
  words: boolean;
  /** Speaker labels on segments and words (diarize=true); the decode then always has word timestamps. */
  diarize?: DiarizeHints;
  onProgress?: (progress: Progress) => void;
}

/** An upload → 16 kHz mono s16le. Throws AppError for bad uploads, before any model work. */
export function decodeUpload(deps: FileJobDeps, data: Uint8Array): Promise<Buffer> {
  const { maxSeconds, ...decode } = deps.decode;
  return decodeToPcm(data, { ...decode, maxPcmBytes: maxSeconds * PCM_BYTES_PER_SECOND });
}

/** Transcribe decoded PCM as one file job. Throws AppError (model errors, overloaded). */
export async function transcribePcm(deps: FileJobDeps, pcm: Buffer, req: FileJobRequest): Promise<FileTranscript> {
  const duration = pcm.length / PCM_BYTES_PER_SECOND;
  const [result] = await deps.scheduler.transcribeFile({
    items: [{ audio: pcm, language: req.language ?? null, task: req.task, prompt: req.prompt ?? null }],
    return_timestamps: req.words || req.diarize ? 'word' : true,
    mode: req.mode,
    diarize: req.diarize,
    temperature: req.temperature,
    onProgress: req.onProgress,
  });
  const spans = timedChunks(result!.chunks, duration);
  const base = { task: req.task, text: result!.text.trim(), language: result!.language, duration };
  if (req.diarize) {
    // Words carry their speaker; segments are cut where the speaker changes (speakers.ts).
    const turns = result!.speakers ?? [];
    const raw = assignSpeakers(spans.map((s) => ({ word: s.text, start: s.start, end: s.end })), turns);
    const segments = segmentsBySpeaker(raw);
    return { ...base, segments, ...(req.words ? { words: raw.map((w) => ({ ...w, word: w.word.trim() })) } : {}) };
  }
  if (!req.words) return { ...base, segments: spans.map((s, id) => ({ id, start: s.start, end: s.end, text: s.text.trim() })) };
  const words: Word[] = spans.map((s) => ({ word: s.text.trim(), start: s.start, end: s.end }));
  // Segments from the word run keep their spacing: rebuild them from the raw chunk texts.
  const segments = segmentsFromWords(spans.map((s) => ({ word: s.text, start: s.start, end: s.end })));
  return { ...base, segments, words };
}
