import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { Limiter, type Slot } from './limits.js';

const slot = (s: Slot | AppError): Slot => {
  if (s instanceof AppError) throw s;
  return s;
};

describe('Limiter', () => {
  it('refuses sessions past MAX_SESSIONS with too_many_sessions, and admits again after a release', () => {
    const limiter = new Limiter({ MAX_SESSIONS: 2, MAX_CONCURRENT_PER_KEY: 0 });
    const a = slot(limiter.openSession('k1'));
    slot(limiter.openSession('k2'));
    const refused = limiter.openSession('k3');
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('too_many_sessions');
    a.release();
    a.release(); // idempotent: counts once
    expect(limiter.stats().sessions).toBe(1);
    slot(limiter.openSession('k3'));
  });

  it('counts sessions and file requests together per key', () => {
    const limiter = new Limiter({ MAX_SESSIONS: 10, MAX_CONCURRENT_PER_KEY: 2 });
    slot(limiter.openSession('k1'));
    const r = slot(limiter.startRequest('k1'));
    const refused = limiter.startRequest('k1');
    expect((refused as AppError).code).toBe('too_many_requests');
    expect((refused as AppError).status).toBe(429);
    slot(limiter.startRequest('k2')); // another key has its own budget
    r.release();
    slot(limiter.openSession('k1'));
    expect(limiter.stats()).toEqual({ sessions: 2, requests: 1 });
  });

  it('refuses new sessions and file requests with draining once drain() is called, and keeps the slots already held', () => {
    const limiter = new Limiter({ MAX_SESSIONS: 4, MAX_CONCURRENT_PER_KEY: 0 });
    const held = slot(limiter.openSession('k1'));
    limiter.drain();
    expect(limiter.draining).toBe(true);
    expect((limiter.openSession('k2') as AppError).code).toBe('draining');
    expect((limiter.startRequest('k2') as AppError).code).toBe('draining');
    expect(limiter.stats().sessions).toBe(1);
    held.release();
    expect(limiter.stats().sessions).toBe(0);
  });
});
