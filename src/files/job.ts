/**
 * @module One uploaded file, start to finish: decode it with ffmpeg, send it to the model through the
 * scheduler (as file work, behind stream windows), and shape the result for formats.ts.
 *
 * A `pipeline`-mode file goes as bounded slices: one forward batch of the pipeline's own chunks per
 * request (slices.ts), then one join that runs the pipeline's merge over all of them, so two files
 * take turns slice by slice, progress comes per slice, a crash replays one slice, and the text and
 * chunk timestamps are still exactly a direct pipeline call's (files-parity.test.ts). A `vad`-mode
 * file goes as its plan (the speech windows), one request per batch of windows, and a join: what
 * one whole vad-mode request gives (sidecar/tests/test_vad_slices.py). Stream windows do not wait
 * for a slice: the sidecar decodes them inside it (sidecar/preempt.py).
 * A `sequential`-mode file longer than one window goes as its plan (frames and feature floor), then a
 * few windows of Whisper's own seek loop per request, each from where the last one stopped, and a
 * join: what one whole sequential request gives (sidecar/tests/test_seq_slices.py); where the
 * sidecar cannot compute a slice's features exactly (its ready frame says 0 windows), whole.
 * A diarized file's speaker turns come after its slices, in a `file_diarize` request.
 */
import { decodeToPcm, type DecodeOptions } from '../audio/ffmpeg.js';
import type { FileTurn, Scheduler } from '../scheduler/scheduler.js';
import type { DiarizeHints, FileChunking, ItemResult, LongFormMode, Progress, SliceResult, TranscribeItem } from '../sidecar/protocol.js';
import { segmentsFromWords, timedChunks, type FileTranscript, type Word } from './formats.js';
import { chunkPlan, seqSliceSpan, slicePlan, vadSlicePlan } from './slices.js';
import { assignSpeakers, segmentsBySpeaker } from './speakers.js';

/** Bytes of 16 kHz mono s16le per second. */
const PCM_BYTES_PER_SECOND = 32_000;
/** Samples in one Whisper window: a sequential file no longer than this is one window, one request. */
const WINDOW_SAMPLES = 30 * 16_000;

export interface FileJobDeps {
  scheduler: Pick<Scheduler, 'transcribeFile' | 'fileSlice' | 'fileJoin' | 'fileVadPlan' | 'fileVadSlice' | 'fileSeqPlan' | 'fileSeqSlice' | 'fileDiarize'>;
  decode: Omit<DecodeOptions, 'maxPcmBytes'> & { maxSeconds: number };
  /** The loaded pipeline's chunk geometry (the sidecar's ready frame); undefined (FILE_SLICES=false, or a sidecar that does not slice): files go as one request. */
  chunking(): FileChunking | undefined;
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
  const item: TranscribeItem = { audio: pcm, language: req.language ?? null, task: req.task, prompt: req.prompt ?? null };
  const timestamps = req.words || req.diarize ? 'word' : true;
  const chunking = deps.chunking();
  const sequentialWindows = chunking?.sequential_windows ?? 0;
  const sliced = chunking !== undefined && pcm.length >= 2 && (req.mode !== 'sequential' || (sequentialWindows >= 2 && pcm.length / 2 > WINDOW_SAMPLES));
  // This file's place in the round of turns: its slices and another file's alternate.
  const turn: FileTurn = { last: 0 };
  const result = !sliced
    ? (await deps.scheduler.transcribeFile({ items: [item], return_timestamps: timestamps, mode: req.mode, diarize: req.diarize, temperature: req.temperature, onProgress: req.onProgress }))[0]!
    : req.mode === 'pipeline'
    ? await inSlices(deps, pcm, item, timestamps, chunking, req, turn)
    : req.mode === 'vad'
    ? await inVadSlices(deps, pcm, item, timestamps, req, turn)
    : await inSeqSlices(deps, pcm, item, timestamps, req, turn);
  // A sliced file's speakers come last, in a request of their own (a whole request adds them itself).
  if (sliced && req.diarize) result.speakers = await deps.scheduler.fileDiarize({ item: { audio: pcm }, diarize: req.diarize }, turn);
  const spans = timedChunks(result.chunks, duration);
  const base = { task: req.task, text: result.text.trim(), language: result.language, duration };
  if (req.diarize) {
    // Words carry their speaker; segments are cut where the speaker changes (speakers.ts).
    const turns = result.speakers ?? [];
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

/** Every mode's answered slices: their outputs for the join, and a progress event per slice with the texts so far. */
class SlicesDone {
  readonly outputs: Uint8Array[] = [];
  readonly #texts: string[] = [];
  constructor(private readonly total: number, private readonly onProgress?: (progress: Progress) => void) {}

  add(out: SliceResult): void {
    this.outputs.push(out.outputs);
    this.#texts.push(...out.texts.filter((t) => t));
    this.onProgress?.({ done_s: Math.min(out.done_s, this.total / 16_000), total_s: this.total / 16_000, text: this.#texts.join(' ') });
  }
}

/** A pipeline-mode file as slices (one forward batch each, one after another) and a join. */
async function inSlices(deps: FileJobDeps, pcm: Buffer, item: TranscribeItem, timestamps: true | 'word', chunking: FileChunking, req: FileJobRequest, turn: FileTurn): Promise<ItemResult> {
  const total = Math.floor(pcm.length / 2);
  const slices = slicePlan(chunkPlan(total, chunking), chunking.batch_size);
  const done = new SlicesDone(total, req.onProgress);
  let language = req.language ?? null;
  for (const slice of slices) {
    const span = { ...item, audio: pcm.subarray(slice.start * 2, slice.end * 2) };
    const out = await deps.scheduler.fileSlice({ item: span, offset: slice.start, total, first: slice.first, count: slice.count, return_timestamps: timestamps, temperature: req.temperature }, turn);
    done.add(out);
    language ??= out.language;
  }
  return deps.scheduler.fileJoin({ outputs: done.outputs, return_timestamps: timestamps, language }, turn);
}

/** A vad-mode file as its plan (where the speech windows are), batches of windows and a join. */
async function inVadSlices(deps: FileJobDeps, pcm: Buffer, item: TranscribeItem, timestamps: true | 'word', req: FileJobRequest, turn: FileTurn): Promise<ItemResult> {
  const total = Math.floor(pcm.length / 2);
  const plan = await deps.scheduler.fileVadPlan({ item, return_timestamps: timestamps, temperature: req.temperature }, turn);
  const done = new SlicesDone(total, req.onProgress);
  for (const slice of vadSlicePlan(plan)) {
    const out = await deps.scheduler.fileVadSlice({
      items: slice.windows.map(([start, end]) => ({ ...item, audio: pcm.subarray(start * 2, end * 2) })),
      offsets: slice.windows.map(([start]) => start),
      regions: slice.regions,
      speech: slice.speech,
      total,
      first: slice.first,
      return_timestamps: timestamps,
      temperature: req.temperature,
    }, turn);
    done.add(out);
  }
  return deps.scheduler.fileJoin({ outputs: done.outputs, return_timestamps: timestamps, language: req.language ?? null, mode: 'vad' }, turn);
}

/** A sequential-mode file as its plan, slices of its seek loop (each from the last one's next_seek) and a join. */
async function inSeqSlices(deps: FileJobDeps, pcm: Buffer, item: TranscribeItem, timestamps: true | 'word', req: FileJobRequest, turn: FileTurn): Promise<ItemResult> {
  const total = Math.floor(pcm.length / 2);
  const plan = await deps.scheduler.fileSeqPlan({ item }, turn);
  const done = new SlicesDone(total, req.onProgress);
  let language = req.language ?? null;
  for (let seek: number | null = 0; seek !== null;) {
    const span = seqSliceSpan(seek, plan.frames, total, plan.windows);
    const out = await deps.scheduler.fileSeqSlice({
      item: { ...item, language, audio: pcm.subarray(span.start * 2, span.end * 2) },
      offset: span.start,
      total,
      seek,
      frames: plan.frames,
      floor: plan.floor,
      first: seek === 0,
      return_timestamps: timestamps,
      temperature: req.temperature,
    }, turn);
    done.add(out);
    // Later windows are decoded in the language the first slice found, as the whole call's are.
    language ??= out.language;
    seek = out.next_seek ?? null;
  }
  return deps.scheduler.fileJoin({ outputs: done.outputs, return_timestamps: timestamps, language, mode: 'sequential' }, turn);
}
