/**
 * @module One fuzzing campaign against a running server, bounded in runs and in time: WebSocket
 * cases (4 connections at a time), HTTP cases, byte-level HTTP cases. Collects what every reply
 * was, the problems found, unhandled rejections, and memory (after a forced GC) before and after.
 * Used by the quick run in `npm test` and the long one in `npm run test:stress`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import type { RunningServer } from '../../src/server.js';
import { AUDIO_DIR, readWavPcm } from './audio.js';
import { httpCaseArb, rawHttpCaseArb, runHttpCase, runRawHttpCase } from './fuzz-http.js';
import { runWsCase, wsCaseArb } from './fuzz-ws.js';
import { sampleMemory, sleep, type MemorySample } from './reliability.js';

export interface FuzzBudget { wsRuns: number; httpRuns: number; rawRuns: number; timeLimitMs: number; seed?: number }

const tally = (m: Record<string, number>, k: string) => { m[k] = (m[k] ?? 0) + 1; };

/** Run the campaign; returns its figures. Throws (with fast-check's seed and the smallest failing case) on a problem. */
export async function fuzzServer(server: RunningServer, budget: FuzzBudget) {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => { rejections.push(reason); };
  process.on('unhandledRejection', onRejection);
  const pcm = readWavPcm('jfk.wav');
  const wav = readFileSync(path.join(AUDIO_DIR, 'jfk.wav'));
  const seed = budget.seed ?? Date.now() % 2 ** 31;
  const ws = { cases: 0, messages: 0, close_codes: {} as Record<string, number>, error_codes: {} as Record<string, number> };
  const http = { requests: 0, statuses: {} as Record<string, number>, error_codes: {} as Record<string, number> };
  const raw = { requests: 0, outcomes: {} as Record<string, number> };
  const started = Date.now();
  // Bounded by count (numRuns) and by time: past its share of the time a run passes without doing
  // anything. (fast-check's own interruptAfterTimeLimit is not used: it can swallow a failure
  // found just before the limit while shrinking it.)
  let deadline = 0;
  const share = (n: number, weight = n) => {
    deadline = Date.now() + Math.round(budget.timeLimitMs * weight / (budget.wsRuns * 4 + budget.httpRuns + budget.rawRuns));
    return { numRuns: n, seed };
  };
  const late = () => Date.now() > deadline;
  try {
    // Warm-up so the baseline includes what any first request allocates (JIT, pools, the model path).
    for (const c of fc.sample(wsCaseArb(pcm), { numRuns: 8, seed })) await runWsCase(server.port, c);
    for (const c of fc.sample(httpCaseArb(wav), { numRuns: 8, seed })) await runHttpCase(server.url, c);
    await sleep(1_000);
    const before = sampleMemory(started);

    await fc.assert(fc.asyncProperty(fc.array(wsCaseArb(pcm), { minLength: 4, maxLength: 4 }), async (cases) => {
      if (late()) return;
      const outcomes = await Promise.all(cases.map((c) => runWsCase(server.port, c)));
      for (const o of outcomes) {
        ws.cases += 1;
        ws.messages += o.messages;
        tally(ws.close_codes, String(o.closeCode ?? 'none'));
        for (const code of o.errorCodes) tally(ws.error_codes, code);
        if (o.problems.length > 0) throw new Error(o.problems.join('; '));
      }
    }), share(budget.wsRuns, budget.wsRuns * 4));

    await fc.assert(fc.asyncProperty(httpCaseArb(wav), async (c) => {
      if (late()) return;
      const o = await runHttpCase(server.url, c);
      http.requests += 1;
      tally(http.statuses, String(o.status));
      if (o.code) tally(http.error_codes, o.code);
      if (o.problems.length > 0) throw new Error(o.problems.join('; '));
    }), share(budget.httpRuns));

    await fc.assert(fc.asyncProperty(rawHttpCaseArb, async (c) => {
      if (late()) return;
      const o = await runRawHttpCase(server.port, c);
      raw.requests += 1;
      tally(raw.outcomes, `${c.label}: ${o.status ?? (o.closedByServer ? 'closed without reply' : 'no reply')}`);
      // The parser must refuse with an error status, or hang up on a request the client cut short.
      if (o.status !== null ? o.status < 400 : !(c.endEarly && o.closedByServer)) throw new Error(`${c.label}: status ${o.status}, closed ${o.closedByServer}`);
    }), share(budget.rawRuns));

    // Let sessions ended by the client finish their drains and sockets close, then measure.
    await sleep(3_000);
    const after = sampleMemory(started);
    return { seed, wall_s: Math.round((Date.now() - started) / 1000), ws, http, raw, memory: { before, after, heap_delta_mb: round(after.heap_used_mb - before.heap_used_mb), rss_delta_mb: round(after.rss_mb - before.rss_mb) }, rejections: rejections.map(String) };
  } finally {
    process.off('unhandledRejection', onRejection);
  }
}

const round = (x: number) => Math.round(x * 100) / 100;
export type FuzzFigures = Awaited<ReturnType<typeof fuzzServer>> & { memory: { before: MemorySample; after: MemorySample } };
