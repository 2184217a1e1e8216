import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { heartbeat, type PingableSocket } from './heartbeat.js';

class FakeSocket implements PingableSocket {
  readyState = 1;
  pings = 0;
  terminated = false;
  readonly listeners: Record<string, Array<() => void>> = { pong: [], close: [] };
  /** When true, every ping is answered at once. */
  constructor(public answers: boolean) {}
  ping() {
    this.pings += 1;
    if (this.answers) for (const l of this.listeners.pong!) l();
  }
  terminate() {
    this.terminated = true;
    this.readyState = 3;
    for (const l of this.listeners.close!) l();
  }
  on(event: 'pong' | 'close', listener: () => void) {
    this.listeners[event]!.push(listener);
  }
}

describe('heartbeat', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('pings every interval and keeps a socket that answers', () => {
    const socket = new FakeSocket(true);
    const dead = vi.fn();
    heartbeat(socket, 1_000, dead);
    vi.advanceTimersByTime(10_500);
    expect(socket.pings).toBe(10);
    expect(dead).not.toHaveBeenCalled();
    expect(socket.terminated).toBe(false);
  });

  it('terminates a socket whose pongs stopped for two intervals, and says how long it was silent', () => {
    const socket = new FakeSocket(true);
    const dead = vi.fn();
    heartbeat(socket, 1_000, dead);
    vi.advanceTimersByTime(3_000);
    socket.answers = false; // the peer vanished after the third pong
    vi.advanceTimersByTime(2_000);
    expect(socket.terminated).toBe(false);
    vi.advanceTimersByTime(1_000);
    expect(socket.terminated).toBe(true);
    expect(dead).toHaveBeenCalledWith(3_000);
    const pings = socket.pings;
    vi.advanceTimersByTime(5_000);
    expect(socket.pings).toBe(pings); // stopped
  });

  it('interval 0: no pings at all', () => {
    const socket = new FakeSocket(false);
    heartbeat(socket, 0, () => undefined);
    vi.advanceTimersByTime(60_000);
    expect(socket.pings).toBe(0);
  });
});
