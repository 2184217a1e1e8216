/**
 * @module What becomes of a request that was in flight when the sidecar died: sent again to the next
 * process, or failed with a code. Pure: takes the request's history and how the process ended.
 *
 * A request is blamed for an exit it may have caused: a crash (any exit or hang while it was in
 * flight) or a deadline (it ran past its own deadline, so it was killed). A request in flight beside
 * another request's deadline kill is replayed without blame. Two crashes make it a poison request,
 * two deadlines a request_timeout; a server that is stopping replays nothing.
 */

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
