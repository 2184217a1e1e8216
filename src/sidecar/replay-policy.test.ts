import { describe, expect, it } from 'vitest';
import { afterExit, sharedCrashSuspects, waitsForReplay } from './replay-policy.js';

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

describe('replay after a shared crash', () => {
  it('makes suspects of the model jobs only when more than one was in flight', () => {
    expect(sharedCrashSuspects(['stream', 'file', 'speech'])).toEqual(['stream', 'file']);
    expect(sharedCrashSuspects(['file', 'speech'])).toEqual([]);
    expect(sharedCrashSuspects(['stream'])).toEqual([]);
    expect(sharedCrashSuspects([])).toEqual([]);
  });
  it('holds a suspect while another suspect is unresolved and a model job is in flight', () => {
    expect(waitsForReplay({ lane: 'file', suspect: true }, 2, true)).toBe(true);
    expect(waitsForReplay({ lane: 'file', suspect: true }, 2, false)).toBe(false); // nothing in flight: it may go
    expect(waitsForReplay({ lane: 'file', suspect: true }, 1, true)).toBe(false); // the other one is settled
    expect(waitsForReplay({ lane: 'file', suspect: false }, 2, true)).toBe(false); // new work is not held
    expect(waitsForReplay({ lane: 'speech', suspect: true }, 2, true)).toBe(false);
  });
  it('replays two suspects one after the other, whichever is pumped first', () => {
    // The supervisor's order after a restart: pump stream, then file; each settles before the next goes.
    const suspects = new Set(['stream', 'file'] as const);
    const sent: string[] = [];
    let inFlight = false;
    const pump = () => {
      for (const lane of ['stream', 'file'] as const) {
        if (!suspects.has(lane) || inFlight || sent.includes(lane)) continue;
        if (waitsForReplay({ lane, suspect: true }, suspects.size, inFlight)) continue;
        sent.push(lane);
        inFlight = true;
      }
    };
    pump();
    expect(sent).toEqual(['stream']);
    suspects.delete('stream');
    inFlight = false;
    pump();
    expect(sent).toEqual(['stream', 'file']);
  });
});
