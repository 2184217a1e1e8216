/**
 * @module OpenAI's response formats (json, text, srt, vtt, verbose_json) from a pipeline result.
 * Pure: values in, a body and its content type out. The pipeline's chunks are segments, or words
 * when word timestamps were asked for; a missing end time (the pipeline leaves the last one open
 * when audio ends mid-word) becomes the audio's duration.
 */
import type { Chunk } from '../sidecar/protocol.js';

export const RESPONSE_FORMATS = ['json', 'text', 'srt', 'vtt', 'verbose_json', 'diarized_json'] as const;
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];

/** One timed span of text on the file's clock, in seconds. */
export interface Segment {
  id: number;
  start: number;
  end: number;
  text: string;
  /** Speaker label ("A", "B", ...) when diarization was asked for (speakers.ts). */
  speaker?: string;
}
export interface Word {
  word: string;
  start: number;
  end: number;
  speaker?: string;
}

/** What a file job produced, before formatting. */
export interface FileTranscript {
  task: 'transcribe' | 'translate';
  text: string;
  language: string | null;
  duration: number;
  segments: Segment[];
  /** Present when word timestamps were asked for. */
  words?: Word[];
}

const round = (s: number) => Math.round(s * 1000) / 1000;

/** Chunks → spans with both ends set, in order. */
export function timedChunks(chunks: Chunk[], duration: number): Array<{ text: string; start: number; end: number }> {
  return chunks.map((c, i) => {
    const start = c.timestamp[0] ?? (i > 0 ? chunks[i - 1]!.timestamp[1] ?? 0 : 0);
    const end = c.timestamp[1] ?? Math.max(start, duration);
    return { text: c.text, start: round(start), end: round(Math.max(start, end)) };
  });
}

/** Words grouped into segments: a segment ends after . ? ! or before a pause of a second or more. */
export function segmentsFromWords(words: Word[]): Segment[] {
  const segments: Segment[] = [];
  let current: Word[] = [];
  const flush = () => {
    if (current.length === 0) return;
    segments.push({ id: segments.length, start: current[0]!.start, end: current.at(-1)!.end, text: current.map((w) => w.word).join('').trim() });
    current = [];
  };
  words.forEach((w, i) => {
    const next = words[i + 1];
    current.push(w);
    if (/[.?!]["')\]]?$/.test(w.word.trim()) || (next && next.start - w.end >= 1)) flush();
  });
  flush();
  return segments;
}

function clock(seconds: number, separator: ',' | '.'): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(ms % 1000, 3)}`;
}

/** SubRip: numbered cues, comma before the milliseconds. */
export function toSrt(segments: Segment[]): string {
  return segments.map((s, i) => `${i + 1}\n${clock(s.start, ',')} --> ${clock(s.end, ',')}\n${s.text.trim()}\n`).join('\n');
}

/** WebVTT: a header, then cues with a dot before the milliseconds. */
export function toVtt(segments: Segment[]): string {
  return `WEBVTT\n\n${segments.map((s) => `${clock(s.start, '.')} --> ${clock(s.end, '.')}\n${s.text.trim()}\n`).join('\n')}`;
}

/** The response body and content type for a format, as OpenAI's API shapes them. */
export function formatTranscript(t: FileTranscript, format: ResponseFormat, granularities: ReadonlyArray<'word' | 'segment'>): { body: string; contentType: string } {
  switch (format) {
    case 'text':
      return { body: `${t.text}\n`, contentType: 'text/plain; charset=utf-8' };
    case 'srt':
      return { body: toSrt(t.segments), contentType: 'application/x-subrip; charset=utf-8' };
    case 'vtt':
      return { body: toVtt(t.segments), contentType: 'text/vtt; charset=utf-8' };
    case 'json':
      return { body: JSON.stringify({ text: t.text }), contentType: 'application/json' };
    case 'verbose_json': {
      const body: Record<string, unknown> = { task: t.task, language: t.language, duration: round(t.duration), text: t.text };
      if (granularities.length === 0 || granularities.includes('segment')) {
        body.segments = t.segments.map((s) => ({ id: s.id, seek: 0, start: s.start, end: s.end, text: s.text, tokens: [], temperature: 0, ...(s.speaker !== undefined ? { speaker: s.speaker } : {}) }));
      }
      if (t.words && granularities.includes('word')) body.words = t.words;
      return { body: JSON.stringify(body), contentType: 'application/json' };
    }
    case 'diarized_json': {
      // OpenAI's diarized_json: segments with type, id, speaker, start, end and text.
      const segments = t.segments.map((s) => ({ type: 'transcript.text.segment', id: `seg_${s.id}`, start: s.start, end: s.end, text: s.text, speaker: s.speaker ?? null }));
      return { body: JSON.stringify({ task: t.task, duration: round(t.duration), text: t.text, segments }), contentType: 'application/json' };
    }
  }
}
