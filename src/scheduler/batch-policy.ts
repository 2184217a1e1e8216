/** @module When to cut a batch, and what goes in it. Pure: takes the queue, returns indexes. */

/** What the policy needs to know about a queued job. */
export interface QueuedJob {
  /** 'flush': a stream window that commits an utterance or ends a session (a user waits on it right now). */
  priority: 'flush' | 'stream' | 'file';
  /** Jobs can share one sidecar request only when their batch keys are equal. */
  batchKey: string | undefined;
  /** A job that failed inside a batch is retried alone. */
  alone: boolean;
}

/**
 * Indexes of the jobs that form the next sidecar request: stream windows first (a live user waits),
 * led by the oldest flush window if any, up to maxItems sharing the lead's batch key; otherwise
 * the oldest file job on its own.
 * @example nextBatch([{ priority: 'file', batchKey: undefined, alone: true }], 8) // [0]
 */
export function nextBatch(queue: readonly QueuedJob[], maxItems: number): number[] {
  const flush = queue.findIndex((j) => j.priority === 'flush');
  const first = flush !== -1 ? flush : queue.findIndex((j) => j.priority === 'stream');
  if (first === -1) return queue.length > 0 ? [0] : [];
  const lead = queue[first]!;
  if (lead.alone || lead.batchKey === undefined) return [first];
  const picked = [first];
  for (let i = 0; i < queue.length && picked.length < maxItems; i++) {
    const job = queue[i]!;
    if (i !== first && job.priority !== 'file' && !job.alone && job.batchKey === lead.batchKey) picked.push(i);
  }
  return picked.sort((a, b) => a - b);
}
