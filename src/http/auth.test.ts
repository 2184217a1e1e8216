import { describe, expect, it } from 'vitest';
import { ANONYMOUS, ApiKeys, bearerToken } from './auth.js';

describe('ApiKeys', () => {
  const keys = new ApiKeys('first-key-0123456789,second-key-0123456789');

  it('is off without keys: everyone is anonymous', () => {
    const off = new ApiKeys(undefined);
    expect(off.enabled).toBe(false);
    expect(off.identify(undefined)).toBe(ANONYMOUS);
  });

  it('identifies each key by a fingerprint that is not the key', () => {
    const a = keys.identify('first-key-0123456789');
    const b = keys.identify('second-key-0123456789');
    expect(a).toMatch(/^key:[0-9a-f]{8}$/);
    expect(b).toMatch(/^key:[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('first');
  });

  it('refuses missing, empty, wrong, prefix and longer keys', () => {
    for (const k of [undefined, '', 'first-key', 'first-key-01234567890', 'FIRST-KEY-0123456789']) expect(keys.identify(k)).toBeUndefined();
  });

  it('reads Bearer tokens case-insensitively and nothing else', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
