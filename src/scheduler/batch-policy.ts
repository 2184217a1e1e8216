/** @module When to cut a batch, and what goes in it. Pure: takes the queue, returns indexes. */

/** What the policy needs to know about a queued job. */
export interface QueuedJob {
  priority: 'stream' | 'file';
  /** Jobs can share one sidecar request only when their batch keys are equal. */
  batchKey: string | undefined;
  /** A job that failed inside a batch is retried alone. */
  alone: boolean;
}

/**
 * Indexes of the jobs that form the next sidecar request: stream windows first (a live user waits),
 * up to maxItems sharing the first one's batch key; otherwise the oldest file job on its own.
 * @example nextBatch([{ priority: 'file', batchKey: undefined, alone: true }], 8) // [0]
 */
export function nextBatch(queue: readonly QueuedJob[], maxItems: number): number[] {
  const first = queue.findIndex((j) => j.priority === 'stream');
  if (first === -1) return queue.length > 0 ? [0] : [];
  const lead = queue[first]!;
  if (lead.alone || lead.batchKey === undefined) return [first];
  const picked = [first];
  for (let i = first + 1; i < queue.length && picked.length < maxItems; i++) {
    const job = queue[i]!;
    if (job.priority === 'stream' && !job.alone && job.batchKey === lead.batchKey) picked.push(i);
  }
  return picked;
}
