/**
 * @module Measuring tools for the reliability tests: a forced GC, memory and handle snapshots,
 * least-squares slope, percentiles, checks on what a stream client received, and the figures file
 * bench/results/reliability-<name>.json. Figures are reported, never asserted as timings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Writable } from 'node:stream';
import { ROOT_DIR } from '../../src/config.js';
import { ERRORS } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/log.js';

/** Run a full GC without --expose-gc on the command line (V8 allows turning the flag on late). */
export function forceGc(): void {
  v8.setFlagsFromString('--expose_gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
}

/**
 * A logger that keeps nothing (testLogger() keeps every line in memory, which a long run would
 * measure as a leak); TEST_LOGS=1 prints the lines instead.
 */
export function discardingLogger(level = 'warn'): Logger {
  return createLogger(level, new Writable({
    write(chunk: Buffer, _enc, done) {
      if (process.env.TEST_LOGS === '1') process.stderr.write(chunk);
      done();
    },
  }));
}

const MB = 1024 * 1024;
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

export interface MemorySample {
  t_s: number;
  rss_mb: number;
  heap_used_mb: number;
  external_mb: number;
  handles: number;
}

/** Handles that keep the event loop alive (sockets, timers, child pipes); Node's own count. */
export function activeHandles(): number {
  return (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
}

/** Memory after a forced GC, and the live handle count. */
export function sampleMemory(startedAt = Date.now()): MemorySample {
  forceGc();
  const m = process.memoryUsage();
  return { t_s: round((Date.now() - startedAt) / 1000, 1), rss_mb: round(m.rss / MB), heap_used_mb: round(m.heapUsed / MB), external_mb: round(m.external / MB), handles: activeHandles() };
}

/** Least-squares slope of y over x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Write bench/results/reliability-<name>.json and return its path. */
export function writeFigures(name: string, figures: Record<string, unknown>): string {
  const dir = path.join(ROOT_DIR, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `reliability-${name}.json`);
  const machine = { node: process.version, cpus: os.cpus().length, memory_gb: round(os.totalmem() / 1024 ** 3, 1), loadavg_1m: round(os.loadavg()[0]!) };
  writeFileSync(file, `${JSON.stringify({ name, at: new Date().toISOString(), machine, ...figures }, null, 2)}\n`);
  return file;
}

/** True when `code` is a stable code from src/errors.ts. */
export const isKnownCode = (code: unknown): boolean => typeof code === 'string' && Object.hasOwn(ERRORS, code);

const norm = (s: string) => s.replace(/\s+/g, ' ').trim();

/**
 * Problems with the committed text a session received: committed text must only grow (each
 * interim's committed starts with the previous one) and the final must start with the last one.
 */
export function committedProblems(messages: ReadonlyArray<{ type: string; [k: string]: unknown }>): string[] {
  const problems: string[] = [];
  let committed = '';
  for (const m of messages) {
    if (m.type === 'interim') {
      const next = norm(String(m.committed ?? ''));
      if (!next.startsWith(committed)) problems.push(`committed shrank or changed: ${JSON.stringify(committed.slice(-60))} -> ${JSON.stringify(next.slice(-60))}`);
      committed = next;
    } else if (m.type === 'final') {
      const text = norm(String(m.text ?? ''));
      if (!text.startsWith(committed)) problems.push(`final does not contain the committed text: ${JSON.stringify(committed.slice(-60))} vs ${JSON.stringify(text.slice(-60))}`);
    }
  }
  return problems;
}

const words = (s: string) => s.toLowerCase().replace(/[^\p{L}\p{N}' ]+/gu, ' ').split(/\s+/).filter(Boolean);

/**
 * Word n-grams that occur more often in `hyp` than in `ref`: a replayed window committed twice
 * shows up here, while Whisper's ordinary slips (a word or two) do not reach n = 6.
 */
export function duplicatedRuns(ref: string, hyp: string, n = 6): string[] {
  const count = (ws: string[]) => {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= ws.length; i++) {
      const k = ws.slice(i, i + n).join(' ');
      m.set(k, (m.get(k) ?? 0) + 1);
    }
    return m;
  };
  const r = count(words(ref));
  return [...count(words(hyp))].filter(([k, c]) => c > 1 && c > (r.get(k) ?? 0)).map(([k]) => k);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
