import { describe, expect, it } from 'vitest';
import { ConfigError, EMBEDDED_MODEL_DIR, GPU_DEFAULT_MODEL, parseConfig } from './config.js';

describe('parseConfig', () => {
  it('defaults to the embedded model without CUDA and says why', () => {
    const config = parseConfig({}, false);
    expect(config.MODEL_ID).toBe(EMBEDDED_MODEL_DIR);
    expect(config.modelReason).toMatch(/embedded/);
    expect(config).toMatchObject({ PORT: 8000, HOST: '0.0.0.0', DEVICE: 'auto', BATCH_SIZE: 16, CHUNK_LENGTH_S: 30, MAX_NEW_TOKENS: 128 });
  });
  it('defaults to large-v3 where CUDA is present', () => {
    expect(parseConfig({}, true).MODEL_ID).toBe(GPU_DEFAULT_MODEL);
    expect(parseConfig({ DEVICE: 'cuda:0' }, false).MODEL_ID).toBe(GPU_DEFAULT_MODEL);
    expect(parseConfig({ DEVICE: 'cpu' }, true).MODEL_ID).toBe(EMBEDDED_MODEL_DIR);
  });
  it('keeps an explicit MODEL_ID as given', () => {
    expect(parseConfig({ MODEL_ID: '/models/x' }, true)).toMatchObject({ MODEL_ID: '/models/x', modelReason: 'MODEL_ID is set' });
  });
  it('fails with one line naming the variable', () => {
    expect(() => parseConfig({ PORT: 'eighty' }, false)).toThrow(ConfigError);
    expect(() => parseConfig({ PORT: 'eighty' }, false)).toThrow(/^invalid PORT="eighty": /);
    expect(() => parseConfig({ DEVICE: 'tpu' }, false)).toThrow(/invalid DEVICE="tpu"/);
    expect(() => parseConfig({ BATCH_SIZE: '0' }, false)).toThrow(/invalid BATCH_SIZE/);
  });
  it('treats empty values as unset', () => {
    expect(parseConfig({ PORT: '' }, false).PORT).toBe(8000);
  });
  it('ignores a variable it does not know, such as the retired SIDECAR_QUEUE_MAX (the scheduler has the one bound)', () => {
    const config = parseConfig({ SIDECAR_QUEUE_MAX: '256', SCHEDULER_QUEUE_MAX: '64' }, false);
    expect(config.SCHEDULER_QUEUE_MAX).toBe(64);
    expect('SIDECAR_QUEUE_MAX' in config).toBe(false);
  });
});
