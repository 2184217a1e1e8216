/**
 * @module Where a file is cut into slices. Pure.
 *
 * Pipeline mode: the chunks are the ones the transformers pipeline makes (chunk_iter, mirrored by
 * chunk_bounds in sidecar/slices.py, which refuses any slice that does not match its own plan); a
 * slice is one forward batch of `batch_size` chunks, in the order a direct pipeline call runs them,
 * so the result is the same.
 * VAD mode: the sidecar's plan (file_vad_plan) gives the speech windows; a slice is one batch of
 * them, in order, as the whole vad-mode call batches them (sidecar/vad_slices.py).
 * Sequential mode: Whisper's seek loop decides where each window starts, so a slice is a span from
 * the last one's `next_seek` (seqSliceSpan; sidecar/seq_slices.py).
 */
import type { FileChunking, VadPlan } from '../sidecar/protocol.js';

/** One chunk on the file's clock, in samples. */
export interface PlannedChunk {
  start: number;
  end: number;
  /** Samples this chunk adds to the transcript (its length less both strides): progress. */
  newSamples: number;
}

/** One slice: chunks [first, first + count) and the audio span they cover. */
export interface Slice {
  first: number;
  count: number;
  start: number;
  end: number;
}

/**
 * The pipeline's chunks for a file of `total` samples.
 * @example chunkPlan(50 * 16000, { chunk_samples: 480000, stride_left: 80000, stride_right: 80000, batch_size: 1 }).length // 2
 */
export function chunkPlan(total: number, c: FileChunking): PlannedChunk[] {
  const out: PlannedChunk[] = [];
  const step = c.chunk_samples - c.stride_left - c.stride_right;
  for (let start = 0; start < total; start += step) {
    const end = start + c.chunk_samples;
    const left = start === 0 ? 0 : c.stride_left;
    const isLast = end >= total;
    const length = Math.min(end, total) - start;
    if (length > left) out.push({ start, end: start + length, newSamples: length - left - (isLast ? 0 : c.stride_right) });
    if (isLast) break;
  }
  return out;
}

/** The chunks grouped into slices of batch_size (the last may be shorter). */
export function slicePlan(chunks: readonly PlannedChunk[], batchSize: number): Slice[] {
  const slices: Slice[] = [];
  for (let first = 0; first < chunks.length; first += batchSize) {
    const picked = chunks.slice(first, first + batchSize);
    slices.push({ first, count: picked.length, start: picked[0]!.start, end: picked[picked.length - 1]!.end });
  }
  return slices;
}

/** One batch of a vad-mode file's speech windows, in samples, with what its request carries. */
export interface VadSlice {
  /** [start, end) of each window on the file's clock. */
  windows: Array<[number, number]>;
  /** The plan's regions that overlap each window, from the window's start. */
  regions: Array<Array<[number, number]>>;
  speech: number[];
  first: boolean;
}

/**
 * The plan's windows grouped into slices of its batch size; each window with the regions inside it
 * (the sidecar evens out their levels within the window), shifted to the window's clock.
 * @example vadSlicePlan({ windows: [[0, 10], [20, 30]], regions: [[0, 10], [20, 30]], speech: [0.9, 0.8], batch_size: 4 }).length // 1
 */
export function vadSlicePlan(plan: VadPlan): VadSlice[] {
  const out: VadSlice[] = [];
  for (let first = 0; first < plan.windows.length; first += plan.batch_size) {
    const windows = plan.windows.slice(first, first + plan.batch_size);
    out.push({
      windows,
      regions: windows.map(([ws, we]) => plan.regions.filter(([s, e]) => e > ws && s < we).map(([s, e]): [number, number] => [s - ws, e - ws])),
      speech: plan.speech.slice(first, first + plan.batch_size),
      first: first === 0,
    });
  }
  return out;
}

/** Samples per log-mel frame, frames per 30 s window, frames of margin each side of a sequential slice (sidecar/seq_slices.py). */
const HOP = 160;
const WINDOW_FRAMES = 3000;
const MARGIN_FRAMES = 2;

/**
 * The samples a sequential slice from log-mel frame `seek` needs (seq_slices.slice_span): its windows'
 * frames (`windows` windows on, or the file's end when less than one more window would be left),
 * with two frames of margin each side. The sidecar refuses any other span.
 * @example seqSliceSpan(0, 10_084, 1_613_440, 2) // { start: 0, end: 960_320 }
 */
export function seqSliceSpan(seek: number, frames: number, total: number, windows: number): { start: number; end: number } {
  const last = frames - seek <= (windows + 1) * WINDOW_FRAMES ? frames : seek + windows * WINDOW_FRAMES;
  return { start: Math.max(0, HOP * (seek - MARGIN_FRAMES)), end: Math.min(total, HOP * (last + MARGIN_FRAMES)) };
}
