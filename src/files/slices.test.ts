import { describe, expect, it } from 'vitest';
import { chunkPlan, seqSliceSpan, slicePlan, vadSlicePlan } from './slices.js';

// The embedded model's geometry: 30 s chunks, 5 s strides (chunk_length_s / 6), at 16 kHz.
const R = 16_000;
const geometry = (batch_size: number) => ({ chunk_samples: 30 * R, stride_left: 5 * R, stride_right: 5 * R, batch_size });

describe('chunkPlan (mirror of chunk_iter; sidecar/tests/test_slices.py checks the Python side against the pipeline)', () => {
  it('gives one chunk for a short file', () => expect(chunkPlan(3 * R, geometry(1))).toEqual([{ start: 0, end: 3 * R, newSamples: 3 * R }]));
  it('steps by chunk less both strides and stops at the first chunk that reaches the end', () => {
    expect(chunkPlan(64.5 * R, geometry(1)).map((c) => [c.start / R, c.end / R])).toEqual([[0, 30], [20, 50], [40, 64.5]]);
  });
  it('drops a last piece no longer than the left stride, as chunk_iter does', () => {
    // At 44 s the chunk starting at 20 s already reaches the end, so there is no third chunk.
    expect(chunkPlan(44 * R, geometry(1)).map((c) => c.start / R)).toEqual([0, 20]);
    expect(chunkPlan(50.5 * R, geometry(1)).map((c) => c.start / R)).toEqual([0, 20, 40]);
  });
  it('counts each chunk\'s new audio so the last one ends at the file\'s length', () => {
    const chunks = chunkPlan(95.3 * R, geometry(1));
    expect(chunks.reduce((n, c) => n + c.newSamples, 0)).toBe(Math.round(95.3 * R));
  });
});

describe('slicePlan', () => {
  it('cuts one forward batch per slice, with the audio span it needs', () => {
    const chunks = chunkPlan(95.3 * R, geometry(2));
    expect(slicePlan(chunks, 2)).toEqual([
      { first: 0, count: 2, start: 0, end: 50 * R },
      { first: 2, count: 2, start: 40 * R, end: 90 * R },
      { first: 4, count: 1, start: 80 * R, end: Math.round(95.3 * R) },
    ]);
  });
});

describe('vadSlicePlan (the sidecar plan\'s windows in batches; sidecar/tests/test_vad_slices.py checks the result against the whole call)', () => {
  const plan = {
    windows: [[100, 400], [450, 900], [1000, 1200], [1300, 1500], [1600, 1700]] as Array<[number, number]>,
    regions: [[100, 200], [250, 400], [450, 900], [1000, 1200], [1300, 1500], [1600, 1700]] as Array<[number, number]>,
    speech: [0.9, 0.8, 0.7, 0.6, 0.5],
    batch_size: 2,
  };
  it('cuts the windows into batches in order, the first slice marked', () => {
    const slices = vadSlicePlan(plan);
    expect(slices.map((s) => s.windows)).toEqual([[[100, 400], [450, 900]], [[1000, 1200], [1300, 1500]], [[1600, 1700]]]);
    expect(slices.map((s) => s.first)).toEqual([true, false, false]);
    expect(slices.map((s) => s.speech)).toEqual([[0.9, 0.8], [0.7, 0.6], [0.5]]);
  });
  it('gives each window the regions inside it, on the window\'s clock', () => {
    expect(vadSlicePlan(plan)[0]!.regions).toEqual([[[0, 100], [150, 300]], [[0, 450]]]);
  });
  it('has no slices when the file has no speech', () => expect(vadSlicePlan({ windows: [], regions: [], speech: [], batch_size: 4 })).toEqual([]));
});

describe('seqSliceSpan (sidecar/seq_slices.slice_span; the sidecar refuses any other span)', () => {
  const frames = 10_084;
  const total = 1_613_440;
  it('takes `windows` windows from the seek, with two frames of margin each side', () => {
    expect(seqSliceSpan(0, frames, total, 2)).toEqual({ start: 0, end: 160 * 6_002 });
    expect(seqSliceSpan(1_000, 40_000, 6_400_000, 4)).toEqual({ start: 160 * 998, end: 160 * 13_002 });
  });
  it('goes to the file\'s end when less than one more window would be left after it', () => {
    expect(seqSliceSpan(1_084, frames, total, 2)).toEqual({ start: 160 * 1_082, end: total });
    expect(seqSliceSpan(5_830, frames, total, 2)).toEqual({ start: 160 * 5_828, end: total });
  });
});
