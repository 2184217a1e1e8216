/** @module Every message of the server↔sidecar protocol: zod schemas for what the sidecar sends (validation and types in one place) and typed constructors for what the server sends. Contract: docs/sidecar-protocol.md; Python mirror: sidecar/protocol.py. */
import { z } from 'zod';
import { AppError } from '../errors.js';

export const PROTOCOL_VERSION = 1;

const timestamp = z.tuple([z.number().nullable(), z.number().nullable()]);

/** One timed piece of a transcript: a segment, or a word when word timestamps are asked for. */
export const chunkSchema = z.object({
  text: z.string(),
  timestamp,
  language: z.string().nullable().optional(),
  /** Stream windows: each word's probability (geometric mean of its tokens'), one per whitespace-separated word of `text`. */
  confidence: z.array(z.number().min(0).max(1)).optional(),
  /**
   * Stream windows: where in the window (s) the model's alignment heads listened while it wrote each
   * word (the latest of its tokens), one per whitespace-separated word of `text`; AlignAtt commits on it.
   */
  attended: z.array(z.number().min(0)).optional(),
});
export type Chunk = z.infer<typeof chunkSchema>;

/** Who spoke when (file requests with `diarize`): turns in seconds, speakers numbered from 0 by first appearance. */
export const speakerTurnSchema = z.object({ start: z.number(), end: z.number(), speaker: z.number().int().min(0) });
export type SpeakerTurn = z.infer<typeof speakerTurnSchema>;

/** A speaker index as clients see it, in OpenAI's diarized_json style: 0 → "A", 25 → "Z", 26 → "AA". */
export function speakerLabel(index: number): string {
  let label = '';
  let n = index;
  do {
    label = String.fromCharCode(65 + (n % 26)) + label;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return label;
}

/** The transcript of one item, as the transformers pipeline returned it. */
export const itemResultSchema = z.object({
  text: z.string(),
  chunks: z.array(chunkSchema),
  language: z.string().nullable(),
  speakers: z.array(speakerTurnSchema).optional(),
  /** Set when a stream window was not decoded because Whisper rated it as no speech. */
  no_speech_prob: z.number().optional(),
});
export type ItemResult = z.infer<typeof itemResultSchema>;

/** Speech probability of each 512-sample frame of one item, as float32 LE bytes. */
export const vadResultSchema = z.object({ probs: z.instanceof(Uint8Array) });
export type VadResult = z.infer<typeof vadResultSchema>;

/** First frame: what the sidecar really loaded. */
export const readySchema = z.object({
  id: z.literal(0),
  type: z.literal('ready'),
  protocol: z.number().int(),
  pid: z.number().int(),
  model: z.string(),
  revision: z.string().nullable(),
  device: z.string(),
  dtype: z.string(),
  attn_implementation: z.string(),
  device_reason: z.string(),
  languages: z.array(z.string()),
  sampling_rate: z.number().int(),
  load_seconds: z.number(),
  settings: z.object({
    chunk_length_s: z.number(),
    batch_size: z.number().int(),
    return_timestamps: z.union([z.boolean(), z.literal('word')]),
    max_new_tokens: z.number().int(),
  }),
  versions: z.record(z.string(), z.string()),
  /** How stream windows are decoded (sidecar/engine.py): encoder on the window's length, int8 linear layers. */
  stream_engine: z.object({ audio_ctx: z.boolean(), audio_ctx_pad_s: z.number(), int8: z.boolean(), encoder_bf16: z.boolean().optional() }).nullable().optional(),
  /** Which diarization backend the sidecar will use, and why (sidecar/diarize.py). */
  diarization: z.object({ backend: z.string(), reason: z.string(), model: z.string().nullable() }).optional(),
  /** The pipeline's chunk geometry in samples, for pipeline-mode files in slices (sidecar/slices.py). */
  file_chunking: z.object({
    chunk_samples: z.number().int().positive(),
    stride_left: z.number().int().min(0),
    stride_right: z.number().int().min(0),
    batch_size: z.number().int().positive(),
    /** 30 s windows per slice of a `sequential`-mode file (sidecar/seq_slices.py); 0 or absent: those go whole. */
    sequential_windows: z.number().int().min(0).optional(),
  }).optional(),
});
export type FileChunking = NonNullable<ReadyInfo['file_chunking']>;
export type ReadyInfo = z.infer<typeof readySchema>;

/** What a stream-window request cost inside the model (sidecar/engine.py BatchStats): rows per forward, not requests. */
export const batchStatsSchema = z.object({
  windows: z.number().int(),
  /** Rows of each encoder forward (one per encoder-length bucket). */
  encoder_rows: z.array(z.number().int()),
  /** Rows of each batched generate(). */
  generate_rows: z.array(z.number().int()),
  dropped_no_speech: z.number().int(),
  encoder_positions: z.array(z.number().int()),
});
export type BatchStats = z.infer<typeof batchStatsSchema>;

const resultSchema = z.object({ id: z.number().int(), type: z.literal('result'), items: z.array(itemResultSchema), seconds: z.number(), batch: batchStatsSchema.optional() });
const errorSchema = z.object({ id: z.number().int().nullable(), type: z.literal('error'), code: z.string(), message: z.string() });
const pongSchema = z.object({ id: z.number().int(), type: z.literal('pong') });
const byeSchema = z.object({ id: z.number().int(), type: z.literal('bye') });
const vadReplySchema = z.object({ id: z.number().int(), type: z.literal('vad_result'), items: z.array(vadResultSchema) });
/** A speaker embedding (unit vector, float32 LE bytes) per item of an `embed` request. */
export const embedResultSchema = z.object({ embedding: z.instanceof(Uint8Array) });
export type EmbedResult = z.infer<typeof embedResultSchema>;
const embedReplySchema = z.object({ id: z.number().int(), type: z.literal('embed_result'), items: z.array(embedResultSchema) });

/**
 * One slice of a file: its outputs (opaque, sent back in file_join), each chunk's or window's text (a
 * sequential slice: one text), seconds done; a sequential slice also says where the next one starts
 * (`next_seek`, a log-mel frame; null: the file is done).
 */
const sliceReplySchema = z.object({
  id: z.number().int(),
  type: z.literal('slice_result'),
  outputs: z.instanceof(Uint8Array),
  texts: z.array(z.string()),
  done_s: z.number(),
  language: z.string().nullable(),
  seconds: z.number(),
  next_seek: z.number().int().min(0).nullable().optional(),
});
export type SliceResult = Omit<z.infer<typeof sliceReplySchema>, 'id' | 'type'>;

/** A `vad`-mode file's plan (`file_vad_plan`): its speech windows and regions in samples, each window's mean speech probability, windows per slice. */
const samplePair = z.tuple([z.number().int().min(0), z.number().int().min(0)]);
const vadPlanReplySchema = z.object({ id: z.number().int(), type: z.literal('vad_plan'), windows: z.array(samplePair), regions: z.array(samplePair), speech: z.array(z.number().min(0).max(1)), batch_size: z.number().int().positive() });
export type VadPlan = Omit<z.infer<typeof vadPlanReplySchema>, 'id' | 'type'>;

/** A `sequential`-mode file's plan (`file_seq_plan`): its log-mel frames, their minimum (each slice's floor), windows per slice. */
const seqPlanReplySchema = z.object({ id: z.number().int(), type: z.literal('seq_plan'), frames: z.number().int().positive(), floor: z.number(), windows: z.number().int().min(2) });
export type SeqPlan = Omit<z.infer<typeof seqPlanReplySchema>, 'id' | 'type'>;

/** A file's speaker turns (`file_diarize`). */
const speakersReplySchema = z.object({ id: z.number().int(), type: z.literal('speakers'), speakers: z.array(speakerTurnSchema) });

/** A file request's progress (only when it asked for it): seconds decoded so far and the partial text. */
export const progressSchema = z.object({ id: z.number().int(), type: z.literal('progress'), done_s: z.number(), total_s: z.number(), text: z.string() });
export type Progress = Omit<z.infer<typeof progressSchema>, 'id' | 'type'>;

/** Any frame the sidecar may send. */
export const sidecarMessageSchema = z.discriminatedUnion('type', [readySchema, resultSchema, errorSchema, pongSchema, byeSchema, vadReplySchema, progressSchema, embedReplySchema, sliceReplySchema, vadPlanReplySchema, seqPlanReplySchema, speakersReplySchema]);
export type SidecarMessage = z.infer<typeof sidecarMessageSchema>;
export type ResultMessage = z.infer<typeof resultSchema>;
export type ErrorMessage = z.infer<typeof errorSchema>;

/** One piece of audio to transcribe: s16le PCM, 16 kHz mono, as raw bytes. */
export interface TranscribeItem {
  audio: Uint8Array;
  language?: string | null;
  task?: 'transcribe' | 'translate' | null;
  prompt?: string | null;
  /** Cap on decoded tokens for this item (1..444); stream windows set one in proportion to their length. */
  max_new_tokens?: number;
  /** Stream windows: skip the decode when Whisper's own no-speech probability is above this (0..1]. */
  no_speech_threshold?: number | null;
}

/** How a file request decodes long audio (sidecar/files.py); absent for stream windows. */
export type LongFormMode = 'pipeline' | 'sequential' | 'vad';

/** Speaker-count hints for diarization (each 1..32); none: the count is found. */
export interface DiarizeHints {
  num_speakers?: number;
  min_speakers?: number;
  max_speakers?: number;
}

/** Parameters of a transcribe request: one item or a batch. */
export interface TranscribeParams {
  items: TranscribeItem[];
  return_timestamps?: boolean | 'word';
  /** File requests: the long-form mode; the sidecar then detects the language itself when none is given. */
  mode?: LongFormMode;
  /** File requests: sampling temperature (0: greedy, the pipeline's default). */
  temperature?: number;
  /** File requests: speaker turns too (`speakers` on each item), with optional speaker-count hints. */
  diarize?: DiarizeHints;
  /** File requests: called for each progress frame (the frame then asks for them). Never sent. */
  onProgress?: (progress: Progress) => void;
  /** Stream windows: called with what the batch cost in the model (metrics.ts). Never sent. */
  onBatch?: (stats: BatchStats) => void;
}

/** A transcribe request frame (id first, see frame.ts). */
export function transcribeFrame(id: number, params: TranscribeParams): Record<string, unknown> {
  const frame: Record<string, unknown> = { id, type: 'transcribe', items: params.items };
  if (params.return_timestamps !== undefined) frame.return_timestamps = params.return_timestamps;
  if (params.mode !== undefined) frame.mode = params.mode;
  if (params.temperature) frame.temperature = params.temperature;
  if (params.onProgress) frame.progress = true;
  if (params.diarize) frame.diarize = params.diarize;
  return frame;
}

export const pingFrame = (id: number) => ({ id, type: 'ping' });
export const shutdownFrame = (id: number) => ({ id, type: 'shutdown' });

/** Parameters of a vad request: speech probabilities for each item. */
export interface VadParams {
  items: Array<{ audio: Uint8Array }>;
}


/** Speaker embeddings of pieces of audio (stream segments, for online speaker labels). */
export function embedFrame(id: number, params: VadParams): Record<string, unknown> {
  return { id, type: 'embed', items: params.items };
}

export function vadFrame(id: number, params: VadParams): Record<string, unknown> {
  return { id, type: 'vad', items: params.items };
}

/** Seconds of 16 kHz s16le audio in a list of items, for deadlines. */
export function audioSeconds(items: ReadonlyArray<{ audio: Uint8Array }>): number {
  return items.reduce((sum, item) => sum + item.audio.byteLength / 2 / 16_000, 0);
}

/** One forward batch of a pipeline-mode file: the audio of its chunks only (docs/sidecar-protocol.md, `file_slice`). */
export interface FileSliceParams {
  /** The span's s16le audio, with the file's decoding options (language, task, prompt). */
  item: TranscribeItem;
  /** Sample index of the span's first sample in the file. */
  offset: number;
  /** Samples in the whole file. */
  total: number;
  /** The slice's first chunk and how many chunks it has. */
  first: number;
  count: number;
  return_timestamps: boolean | 'word';
  temperature?: number;
}

/** The pipeline's postprocess over every slice's outputs, in order (`file_join`); with mode `vad`, a vad-mode file's windows put together. */
export interface FileJoinParams {
  outputs: Uint8Array[];
  return_timestamps: boolean | 'word';
  /** The file's language: given by the client, or heard by the first slice (pipeline mode; in vad mode the join resolves it). */
  language: string | null;
  /** Absent: `pipeline`. */
  mode?: 'vad' | 'sequential';
}

/** Where a `vad`-mode file's speech windows are (`file_vad_plan`): the whole file, with its decoding options. */
export interface FileVadPlanParams {
  item: TranscribeItem;
  return_timestamps: boolean | 'word';
  temperature?: number;
}

/** A `sequential`-mode file's frame count and feature floor (`file_seq_plan`): the whole file. */
export interface FileSeqPlanParams {
  item: TranscribeItem;
}

/** A `sequential`-mode file's windows from one window start on (`file_seq_slice`). */
export interface FileSeqSliceParams {
  /** The samples the slice needs (files/slices.ts seqSliceSpan), with the file's decoding options. */
  item: TranscribeItem;
  /** Sample index of the span's first sample in the file. */
  offset: number;
  /** Samples in the whole file. */
  total: number;
  /** The log-mel frame where the slice's first window starts (0, then each reply's next_seek). */
  seek: number;
  /** The plan's frames and floor. */
  frames: number;
  floor: number;
  /** The file's first slice (it resolves the language). */
  first: boolean;
  return_timestamps: boolean | 'word';
  temperature?: number;
}

/** A file's speaker turns alone (`file_diarize`): the whole file, with speaker-count hints. */
export interface FileDiarizeParams {
  item: TranscribeItem;
  diarize: DiarizeHints;
}

/** One batch of a `vad`-mode file's windows (`file_vad_slice`), as the plan cut them. */
export interface FileVadSliceParams {
  /** Each window's raw s16le audio, with the file's decoding options. */
  items: TranscribeItem[];
  /** Each window's first sample in the file. */
  offsets: number[];
  /** The plan's speech regions inside each window, in samples from the window's start. */
  regions: Array<Array<[number, number]>>;
  /** Each window's mean speech probability (the plan's). */
  speech: number[];
  /** Samples in the whole file. */
  total: number;
  /** The file's first slice (where the language is found when no window hears one). */
  first: boolean;
  return_timestamps: boolean | 'word';
  temperature?: number;
}

/**
 * Which sidecar worker serves a request, and so what may be in flight at the same time (one each):
 * stream windows and file work both go to the model worker, which decodes a window that arrives
 * during a file job before that job's next model layer (sidecar/preempt.py); speech detection and
 * embeddings run on a worker of their own.
 */
export type Lane = 'stream' | 'file' | 'speech';

/** Every request kind: its parameters and what its reply resolves to. */
export interface RequestTypes {
  transcribe: { params: TranscribeParams; result: ItemResult[] };
  file_slice: { params: FileSliceParams; result: SliceResult };
  file_join: { params: FileJoinParams; result: ItemResult };
  file_vad_plan: { params: FileVadPlanParams; result: VadPlan };
  file_vad_slice: { params: FileVadSliceParams; result: SliceResult };
  file_seq_plan: { params: FileSeqPlanParams; result: SeqPlan };
  file_seq_slice: { params: FileSeqSliceParams; result: SliceResult };
  file_diarize: { params: FileDiarizeParams; result: SpeakerTurn[] };
  vad: { params: VadParams; result: VadResult[] };
  embed: { params: VadParams; result: EmbedResult[] };
}
export type RequestKind = keyof RequestTypes;
export type RequestParams<K extends RequestKind> = RequestTypes[K]['params'];
export type RequestResult<K extends RequestKind> = RequestTypes[K]['result'];

/** How each request kind is sent and read back: its lane, its frame, its audio seconds (for deadlines), its reply. */
export interface RequestType<K extends RequestKind> {
  lane(params: RequestParams<K>): Lane;
  frame(id: number, params: RequestParams<K>): Record<string, unknown>;
  seconds(params: RequestParams<K>): number;
  /** The result from the reply, or an AppError('bad_frame') when the reply does not fit the request. */
  read(reply: SidecarMessage, params: RequestParams<K>): RequestResult<K>;
}

function items<T>(reply: SidecarMessage, type: 'result' | 'vad_result' | 'embed_result', count: number): T[] {
  if (reply.type !== type || reply.items.length !== count) {
    throw new AppError('bad_frame', `expected ${type} with ${count} items, got ${reply.type}${'items' in reply ? ` with ${reply.items.length}` : ''}`);
  }
  return reply.items as T[];
}

/** A slice_result with one text per chunk (pipeline) or window (vad) of its request, or one (sequential). */
function sliceOf(reply: SidecarMessage, count: number, what: 'chunks' | 'windows' | 'texts'): SliceResult {
  if (reply.type !== 'slice_result' || reply.texts.length !== count) throw new AppError('bad_frame', `expected slice_result with ${count} ${what}, got ${reply.type}`);
  const { id: _id, type: _type, ...slice } = reply;
  return slice;
}

/** The request table: one entry per message kind, so connection and supervisor have one request() each. */
export const REQUESTS: { [K in RequestKind]: RequestType<K> } = {
  transcribe: {
    // A transcribe request that names a long-form mode is a file; without one, stream windows.
    lane: (p) => (p.mode !== undefined ? 'file' : 'stream'),
    frame: transcribeFrame,
    seconds: (p) => audioSeconds(p.items),
    read: (reply, p) => {
      const out = items<ItemResult>(reply, 'result', p.items.length);
      if (reply.type === 'result' && reply.batch) p.onBatch?.(reply.batch);
      return out;
    },
  },
  file_slice: {
    lane: () => 'file',
    frame: (id, p) => ({ id, type: 'file_slice', items: [p.item], offset: p.offset, total: p.total, first: p.first, count: p.count, return_timestamps: p.return_timestamps, ...(p.temperature ? { temperature: p.temperature } : {}) }),
    seconds: (p) => audioSeconds([p.item]),
    read: (reply, p) => sliceOf(reply, p.count, 'chunks'),
  },
  file_join: {
    lane: () => 'file',
    frame: (id, p) => ({ id, type: 'file_join', outputs: p.outputs, return_timestamps: p.return_timestamps, language: p.language, ...(p.mode ? { mode: p.mode } : {}) }),
    seconds: () => 0,
    read: (reply) => items<ItemResult>(reply, 'result', 1)[0]!,
  },
  file_vad_plan: {
    lane: () => 'file',
    frame: (id, p) => ({ id, type: 'file_vad_plan', items: [p.item], return_timestamps: p.return_timestamps, ...(p.temperature ? { temperature: p.temperature } : {}) }),
    seconds: (p) => audioSeconds([p.item]),
    read: (reply) => {
      if (reply.type !== 'vad_plan' || reply.speech.length !== reply.windows.length) throw new AppError('bad_frame', `expected vad_plan with a speech probability per window, got ${reply.type}`);
      const { id: _id, type: _type, ...plan } = reply;
      return plan;
    },
  },
  file_vad_slice: {
    lane: () => 'file',
    frame: (id, p) => ({ id, type: 'file_vad_slice', items: p.items, offsets: p.offsets, regions: p.regions, speech: p.speech, total: p.total, first: p.first, return_timestamps: p.return_timestamps, ...(p.temperature ? { temperature: p.temperature } : {}) }),
    seconds: (p) => audioSeconds(p.items),
    read: (reply, p) => sliceOf(reply, p.items.length, 'windows'),
  },
  file_seq_plan: {
    lane: () => 'file',
    frame: (id, p) => ({ id, type: 'file_seq_plan', items: [p.item] }),
    seconds: (p) => audioSeconds([p.item]),
    read: (reply) => {
      if (reply.type !== 'seq_plan') throw new AppError('bad_frame', `expected seq_plan, got ${reply.type}`);
      const { id: _id, type: _type, ...plan } = reply;
      return plan;
    },
  },
  file_seq_slice: {
    lane: () => 'file',
    frame: (id, p) => ({ id, type: 'file_seq_slice', items: [p.item], offset: p.offset, total: p.total, seek: p.seek, frames: p.frames, floor: p.floor, first: p.first, return_timestamps: p.return_timestamps, ...(p.temperature ? { temperature: p.temperature } : {}) }),
    seconds: (p) => audioSeconds([p.item]),
    read: (reply, p) => {
      const slice = sliceOf(reply, 1, 'texts');
      // The file goes on from next_seek: it must be past this slice's start (else the file would never end).
      if (slice.next_seek === undefined || (slice.next_seek !== null && slice.next_seek <= p.seek)) throw new AppError('bad_frame', `a sequential slice from frame ${p.seek} must say where the next starts (after it) or null`);
      return slice;
    },
  },
  file_diarize: {
    lane: () => 'file',
    frame: (id, p) => ({ id, type: 'file_diarize', items: [p.item], diarize: p.diarize }),
    seconds: (p) => audioSeconds([p.item]),
    read: (reply) => {
      if (reply.type !== 'speakers') throw new AppError('bad_frame', `expected speakers, got ${reply.type}`);
      return reply.speakers;
    },
  },
  vad: { lane: () => 'speech', frame: vadFrame, seconds: (p) => audioSeconds(p.items), read: (reply, p) => items<VadResult>(reply, 'vad_result', p.items.length) },
  embed: { lane: () => 'speech', frame: embedFrame, seconds: (p) => audioSeconds(p.items), read: (reply, p) => items<EmbedResult>(reply, 'embed_result', p.items.length) },
};
