import { describe, expect, it } from 'vitest';
import { afterExit } from './replay-policy.js';

const fresh = { crashes: 0, timeouts: 0 };
const crash = { deadline: false, culprit: false, stopping: false };
const ownDeadline = { deadline: true, culprit: true, stopping: false };
const otherDeadline = { deadline: true, culprit: false, stopping: false };

describe('afterExit', () => {
  it('replays a request after its first crash and counts it', () => {
    expect(afterExit(fresh, crash)).toEqual({ action: 'replay', attempts: { crashes: 1, timeouts: 0 } });
  });
  it('fails a request that crashed the sidecar twice with poison_request', () => {
    expect(afterExit({ crashes: 1, timeouts: 0 }, crash)).toEqual({ action: 'fail', code: 'poison_request', attempts: { crashes: 2, timeouts: 0 } });
  });
  it('fails a request past its own deadline twice with request_timeout', () => {
    const once = afterExit(fresh, ownDeadline);
    expect(once).toEqual({ action: 'replay', attempts: { crashes: 0, timeouts: 1 } });
    expect(afterExit(once.attempts, ownDeadline)).toMatchObject({ action: 'fail', code: 'request_timeout' });
  });
  it('replays without blame a request killed for another request\'s deadline, however often', () => {
    let attempts = fresh;
    for (let i = 0; i < 5; i++) {
      const d = afterExit(attempts, otherDeadline);
      expect(d.action).toBe('replay');
      attempts = d.attempts;
    }
    expect(attempts).toEqual(fresh);
  });
  it('one crash and one deadline are neither poison nor timeout', () => {
    expect(afterExit({ crashes: 1, timeouts: 0 }, ownDeadline)).toEqual({ action: 'replay', attempts: { crashes: 1, timeouts: 1 } });
  });
  it('replays nothing while stopping, but a poison request still says so', () => {
    expect(afterExit(fresh, { ...crash, stopping: true })).toMatchObject({ action: 'fail', code: 'shutting_down' });
    expect(afterExit({ crashes: 1, timeouts: 0 }, { ...crash, stopping: true })).toMatchObject({ action: 'fail', code: 'poison_request' });
  });
});
