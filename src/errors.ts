/** @module Every error code the service can return: its HTTP status, WebSocket close code and meaning. Defined once; docs/errors.md mirrors this table (checked by a test). */

/** The table: one row per stable code. `wsClose` is set where the error ends a WebSocket session. */
export const ERRORS = {
  invalid_request: { http: 400, wsClose: undefined, message: 'The request is malformed.' },
  not_found: { http: 404, wsClose: undefined, message: 'No such route.' },
  frame_too_large: { http: 413, wsClose: undefined, message: 'A sidecar frame would exceed its size limit.' },
  overloaded: { http: 503, wsClose: 1013, message: 'The transcription queue is full; retry later.' },
  sidecar_unavailable: { http: 503, wsClose: 1011, message: 'The model process is not running.' },
  shutting_down: { http: 503, wsClose: 1001, message: 'The server is shutting down.' },
  // A drain (SIGTERM) refuses new work while open streams finish: 1013 "try again later", elsewhere.
  draining: { http: 503, wsClose: 1013, message: 'The server is draining before a restart and takes no new sessions or files; retry (another instance will answer).' },
  sidecar_exited: { http: 502, wsClose: undefined, message: 'The model process exited while handling the request.' },
  poison_request: { http: 500, wsClose: 1011, message: 'This request crashed the model process twice and was not retried.' },
  request_timeout: { http: 504, wsClose: 1011, message: 'The model did not answer within the request deadline twice.' },
  bad_frame: { http: 502, wsClose: 1011, message: 'The model process sent or received a frame that does not decode.' },
  bad_request: { http: 500, wsClose: 1011, message: 'The model process rejected a request as invalid.' },
  transcribe_failed: { http: 500, wsClose: 1011, message: 'The model failed on this audio.' },
  out_of_memory: { http: 503, wsClose: 1011, message: 'The model ran out of device memory.' },
  internal_error: { http: 500, wsClose: 1011, message: 'Unexpected server error.' },
  empty_file: { http: 400, wsClose: undefined, message: 'The uploaded file is empty.' },
  unsupported_audio: { http: 400, wsClose: undefined, message: 'The uploaded file is not audio that ffmpeg can decode.' },
  truncated_audio: { http: 400, wsClose: undefined, message: 'The uploaded audio is damaged or cut short.' },
  file_too_large: { http: 413, wsClose: undefined, message: 'The uploaded file is over the size limit.' },
  decode_timeout: { http: 400, wsClose: undefined, message: 'Decoding the uploaded file took too long.' },
  ffmpeg_missing: { http: 503, wsClose: undefined, message: 'ffmpeg is not installed, so files cannot be decoded.' },
  invalid_audio: { http: 400, wsClose: 1007, message: 'A binary frame is not whole 16-bit PCM samples (odd byte count).' },
  invalid_message: { http: 400, wsClose: 1007, message: 'A text frame is not a JSON object of a known shape.' },
  invalid_config: { http: 400, wsClose: 1007, message: 'The config message has an invalid option.' },
  unknown_message_type: { http: 400, wsClose: 1003, message: 'A text frame has an unknown type.' },
  config_after_audio: { http: 400, wsClose: 1008, message: 'config must come before the first audio.' },
  message_too_large: { http: 413, wsClose: 1009, message: 'A WebSocket message is over the size limit.' },
  session_too_long: { http: 400, wsClose: 1008, message: 'The session has streamed more audio than its length limit.' },
  idle_timeout: { http: 408, wsClose: 1008, message: 'No message arrived within the idle timeout.' },
  unauthorized: { http: 401, wsClose: 1008, message: 'A valid API key is required.' },
  too_many_sessions: { http: 503, wsClose: 1013, message: 'The server has its maximum of streaming sessions open; retry later.' },
  too_many_requests: { http: 429, wsClose: 1013, message: 'This API key has its maximum of concurrent requests and sessions; retry when one ends.' },
  invalid_event: { http: 400, wsClose: undefined, message: 'A Realtime client event is not JSON, has a bad field, or carries audio that is not base64.' },
  unknown_event: { http: 400, wsClose: undefined, message: 'A Realtime client event type that transcription sessions do not take.' },
  input_audio_buffer_commit_empty: { http: 400, wsClose: undefined, message: 'Commit of an audio buffer under 100 ms.' },
} as const satisfies Record<string, { http: number; wsClose: number | undefined; message: string }>;

/** A stable, machine-readable error code. */
export type ErrorCode = keyof typeof ERRORS;

/** An error as a value: a stable `code`, a human `message`, and the original `cause` when there is one. */
export class AppError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'AppError';
    this.code = code;
  }

  /** HTTP status for this error. */
  get status(): number {
    return ERRORS[this.code].http;
  }

  /** The JSON body every HTTP error response carries. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** True when `code` is one of ours (sidecar error frames carry their code as a string). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** Wrap anything thrown into an AppError, keeping AppErrors as they are. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('internal_error', undefined, { cause: err });
}
