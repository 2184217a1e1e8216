/** Response formats: SRT/VTT clocks and cue layout, null end times, words grouped into segments. */
import { describe, expect, it } from 'vitest';
import { formatTranscript, segmentsFromWords, timedChunks, toSrt, toVtt, type FileTranscript } from './formats.js';

const transcript: FileTranscript = {
  task: 'transcribe',
  text: 'Hello there. General Kenobi.',
  language: 'en',
  duration: 3725.5,
  segments: [
    { id: 0, start: 0, end: 1.5, text: 'Hello there.' },
    { id: 1, start: 3723.25, end: 3725.5, text: ' General Kenobi.' },
  ],
  words: [{ word: 'Hello', start: 0, end: 0.5 }],
};

describe('formats', () => {
  it('writes SRT with comma milliseconds and hours past 1', () => {
    expect(toSrt(transcript.segments)).toBe('1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n01:02:03,250 --> 01:02:05,500\nGeneral Kenobi.\n');
  });

  it('writes VTT with its header and dot milliseconds', () => {
    expect(toVtt(transcript.segments)).toBe('WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n01:02:03.250 --> 01:02:05.500\nGeneral Kenobi.\n');
  });

  it('closes an open last chunk at the audio duration and opens a missing start at the previous end', () => {
    expect(timedChunks([{ text: 'a', timestamp: [0, 2] }, { text: 'b', timestamp: [null, null] }], 7.25)).toEqual([
      { text: 'a', start: 0, end: 2 },
      { text: 'b', start: 2, end: 7.25 },
    ]);
  });

  it('groups words into segments at sentence ends and long pauses', () => {
    const segs = segmentsFromWords([
      { word: ' Hi', start: 0, end: 0.3 },
      { word: ' there.', start: 0.3, end: 0.6 },
      { word: ' So', start: 0.7, end: 0.9 },
      { word: ' then', start: 2.5, end: 2.8 },
    ]);
    expect(segs).toEqual([
      { id: 0, start: 0, end: 0.6, text: 'Hi there.' },
      { id: 1, start: 0.7, end: 0.9, text: 'So' },
      { id: 2, start: 2.5, end: 2.8, text: 'then' },
    ]);
  });

  it('shapes json, text and verbose_json as OpenAI does', () => {
    expect(JSON.parse(formatTranscript(transcript, 'json', []).body)).toEqual({ text: transcript.text });
    expect(formatTranscript(transcript, 'text', []).body).toBe(`${transcript.text}\n`);
    const verbose = JSON.parse(formatTranscript(transcript, 'verbose_json', ['word']).body);
    expect(verbose).toMatchObject({ task: 'transcribe', language: 'en', duration: 3725.5, words: transcript.words });
    expect(verbose.segments).toBeUndefined();
    const both = JSON.parse(formatTranscript(transcript, 'verbose_json', ['word', 'segment']).body);
    expect(both.segments[1]).toMatchObject({ id: 1, start: 3723.25, end: 3725.5 });
  });
});
