import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import { createLogger } from '../log.js';
import { endpointingFrom, sessionOptionsFrom } from './options.js';

describe('session options', () => {
  it('endpointing releases 0.15 below the onset threshold, never below 0.01', () => {
    expect(endpointingFrom({ STREAM_ENDPOINT_MS: 600, STREAM_VAD_THRESHOLD: 0.5 })).toMatchObject({ endpointMs: 600, threshold: 0.5, negThreshold: 0.35 });
    expect(endpointingFrom({ STREAM_ENDPOINT_MS: 800, STREAM_VAD_THRESHOLD: 0.1 }).negThreshold).toBe(0.01);
  });
  it('takes every figure from the config', () => {
    const config = parseConfig({ STREAM_DECODE_INTERVAL_S: '2', STREAM_PROMPT_CHARS: '0', WS_IDLE_TIMEOUT_MS: '5000' }, false);
    const options = sessionOptionsFrom(config, ['en'], createLogger('silent'));
    expect(options).toMatchObject({ decodeIntervalS: 2, promptChars: 0, idleTimeoutMs: 5000, maxWindowS: 20, contextS: 4, contextGapS: 1.2, languages: ['en'] });
  });
});
