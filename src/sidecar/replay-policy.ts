/**
 * @module What becomes of a request that was in flight when the sidecar died: sent again to the next
 * process, or failed with a code. Pure: takes the request's history and how the process ended.
 *
 * A request is blamed for an exit it may have caused: a crash (any exit or hang while it was in
 * flight) or a deadline (it ran past its own deadline, so it was killed). A request in flight beside
 * another request's deadline kill is replayed without blame. Two crashes make it a poison request,
 * two deadlines a request_timeout; a server that is stopping replays nothing.
 *
 * Model jobs (a stream window and file work) that were in flight together at a crash are both
 * blamed, and then replayed one at a time (the supervisor pumps the stream lane first, so the
 * window goes first): a second crash then falls on one of them alone, so an innocent file beside a
 * poison window (or the other way round) is not made a poison request.
 */
import type { Lane } from './protocol.js';

/** What the supervisor keeps about a request across restarts. */
export interface Attempts {
  crashes: number;
  timeouts: number;
}

/** How the process in flight ended, as far as this request is concerned. */
export interface ExitFacts {
  /** The process was killed because a request ran past its deadline. */
  deadline: boolean;
  /** That request was this one. */
  culprit: boolean;
  /** The server is shutting down. */
  stopping: boolean;
}

export type ReplayDecision =
  | { action: 'replay'; attempts: Attempts }
  | { action: 'fail'; code: 'poison_request' | 'request_timeout' | 'shutting_down'; attempts: Attempts };

/**
 * The decision for one request after an exit.
 * @example afterExit({ crashes: 1, timeouts: 0 }, { deadline: false, culprit: false, stopping: false }) // fail poison_request
 */
export function afterExit(previous: Attempts, exit: ExitFacts): ReplayDecision {
  const blamed = !exit.deadline || exit.culprit;
  const attempts: Attempts = {
    crashes: previous.crashes + (blamed && !exit.deadline ? 1 : 0),
    timeouts: previous.timeouts + (blamed && exit.deadline ? 1 : 0),
  };
  if (attempts.crashes >= 2) return { action: 'fail', code: 'poison_request', attempts };
  if (attempts.timeouts >= 2) return { action: 'fail', code: 'request_timeout', attempts };
  if (exit.stopping) return { action: 'fail', code: 'shutting_down', attempts };
  return { action: 'replay', attempts };
}

/**
 * The lanes whose jobs become suspects after a crash: the model lanes' jobs when more than one was
 * in flight (the speech lane never shares the blame: it runs on a worker of its own).
 * @example sharedCrashSuspects(['stream', 'file', 'speech']) // ['stream', 'file']
 */
export function sharedCrashSuspects(inFlight: readonly Lane[]): Lane[] {
  const model = inFlight.filter((lane) => lane !== 'speech');
  return model.length > 1 ? model : [];
}

/**
 * Whether a job waits before it is sent: a suspect of a shared crash, while another suspect is
 * still unresolved and a model job is in flight.
 * @example waitsForReplay({ lane: 'file', suspect: true }, 2, true) // true
 */
export function waitsForReplay(job: { lane: Lane; suspect: boolean }, suspectsLeft: number, modelInFlight: boolean): boolean {
  return job.lane !== 'speech' && job.suspect && suspectsLeft >= 2 && modelInFlight;
}
