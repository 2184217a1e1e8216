/** @module When to cut a batch, and what goes in it, for both lanes of the scheduler. Pure: takes the queue, returns indexes. */

/** What the policy needs to know about a job waiting for the model lane. */
export interface QueuedJob {
  /** 'flush': a stream window that commits an utterance or ends a session (a user waits on it right now). */
  priority: 'flush' | 'stream' | 'file';
  /** Jobs can share one sidecar request only when their batch keys are equal. */
  batchKey: string | undefined;
  /** A job that failed inside a batch is retried alone; file work always goes alone. */
  alone: boolean;
  /** File work without a model pass (a join, a sequential file's plan: milliseconds): ahead of other file work. */
  quick?: boolean;
  /** The file this work belongs to, when the file goes in slices: files take turns by it. */
  turn?: FileTurn;
}

/** One file's place in the round of file turns: the scheduler stamps `last` each time one of its slices goes to the model. */
export interface FileTurn {
  last: number;
}

/** What the policy needs to know about a job waiting for the speech lane. */
export interface QueuedSpeechJob {
  kind: 'vad' | 'embed';
  /** A draining or flushing session waits on it: it goes first. */
  urgent: boolean;
  /** It failed inside a batch: retried on its own, so one bad item fails no other. */
  alone?: boolean;
}

/**
 * Indexes of the stream windows that form the next window request: led by the oldest flush window
 * if any, else the oldest window, up to maxItems sharing the lead's batch key. File jobs are never
 * in it (nextFileJob): they go to the sidecar on their own lane, and a window sent while one runs
 * is decoded inside it (sidecar/preempt.py).
 * @example nextWindowBatch([{ priority: 'file', batchKey: undefined, alone: true }], 8) // []
 */
export function nextWindowBatch(queue: readonly QueuedJob[], maxItems: number): number[] {
  const flush = queue.findIndex((j) => j.priority === 'flush');
  const first = flush !== -1 ? flush : queue.findIndex((j) => j.priority === 'stream');
  if (first === -1) return [];
  const lead = queue[first]!;
  if (lead.alone || lead.batchKey === undefined) return [first];
  const picked = [first];
  for (let i = 0; i < queue.length && picked.length < maxItems; i++) {
    const job = queue[i]!;
    if (i !== first && job.priority !== 'file' && !job.alone && job.batchKey === lead.batchKey) picked.push(i);
  }
  return picked.sort((a, b) => a - b);
}

/**
 * The index of the next file job, -1 if none: the oldest quick one (a join: a finished file should
 * not wait for another file's slice), else the one whose file had its turn longest ago (a file not
 * served yet first; the oldest job among equals). File work is cut into bounded slices
 * (src/files/job.ts) and each file has one job queued at a time, so files take turns slice by slice,
 * and a file whose first step was quick (its plan) still gets the next turn, not the one after the
 * file that was running.
 * @example nextFileJob([{ priority: 'file', batchKey: undefined, alone: true, turn: { last: 3 } }, { priority: 'file', batchKey: undefined, alone: true, turn: { last: 0 } }]) // 1
 */
export function nextFileJob(queue: readonly QueuedJob[]): number {
  const quick = queue.findIndex((j) => j.priority === 'file' && j.quick === true);
  if (quick !== -1) return quick;
  let best = -1;
  queue.forEach((job, i) => {
    if (job.priority === 'file' && (best === -1 || (job.turn?.last ?? 0) < (queue[best]!.turn?.last ?? 0))) best = i;
  });
  return best;
}

/** The last stream-window request: when it settled and how long it took (queueing in the sidecar included). */
export interface LastWindows {
  endedAt: number;
  tookMs: number;
}

/**
 * Milliseconds an ordinary stream-window request (no flush in it) waits before it goes, so that
 * while file work wants the model, windows take at most `share` of the model's time: after a window
 * request of t ms, the next waits t * (1 - share) / share from its end, and the file runs meanwhile.
 * Without it a stream that keeps the model busy (one real-time stream does on a CPU, each decode
 * lasting about as long as the audio that came in during the last) would take all of it and a file
 * would only get the gaps. A flush (utterance end, finalize, the last decode) never waits; with no
 * file work, or share 1, nothing does.
 * @example windowHoldMs({ endedAt: 1000, tookMs: 600 }, 0.5, true, 1200) // 400
 */
export function windowHoldMs(last: LastWindows | undefined, share: number, fileWork: boolean, now: number): number {
  if (!fileWork || share >= 1 || last === undefined) return 0;
  return Math.max(0, Math.ceil(last.endedAt + (last.tookMs * (1 - share)) / share - now));
}

/**
 * Indexes of the jobs that form the next speech request: VAD items of any sessions go together (the
 * sidecar runs them as one batch), urgent ones first, up to maxItems; a speaker embedding goes alone.
 * The lead is the oldest urgent job, else the oldest job.
 * @example nextSpeechBatch([{ kind: 'vad', urgent: false }, { kind: 'vad', urgent: true }], 8) // [0, 1]
 */
export function nextSpeechBatch(queue: readonly QueuedSpeechJob[], maxItems: number): number[] {
  if (queue.length === 0) return [];
  const urgent = queue.findIndex((j) => j.urgent);
  const first = urgent !== -1 ? urgent : 0;
  if (queue[first]!.kind === 'embed' || queue[first]!.alone) return [first];
  const picked = [first];
  for (const wantUrgent of [true, false]) {
    for (let i = 0; i < queue.length && picked.length < maxItems; i++) {
      const job = queue[i]!;
      if (i !== first && job.kind === 'vad' && !job.alone && job.urgent === wantUrgent) picked.push(i);
    }
  }
  return picked.sort((a, b) => a - b);
}
