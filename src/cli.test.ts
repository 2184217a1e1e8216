import { describe, expect, it } from 'vitest';
import { newlyCommitted, progressBar, takeEvents } from './cli.js';

describe('cli helpers', () => {
  it('takes whole server-sent events and keeps the partial one', () => {
    const { events, rest } = takeEvents('data: {"a":1}\n\ndata: {"b":2}\r\n\r\ndata: {"c"');
    expect(events).toEqual([{ a: 1 }, { b: 2 }]);
    expect(rest).toBe('data: {"c"');
    expect(takeEvents(`${rest}:3}\n\n`).events).toEqual([{ c: 3 }]);
  });

  it('draws a bounded progress bar', () => {
    expect(progressBar(0, 0, 10)).toBe('[----------]   0%  0.0/0.0 s');
    expect(progressBar(5, 20, 10)).toBe('[###-------]  25%  5.0/20.0 s');
    expect(progressBar(30, 20, 10)).toBe('[##########] 100%  30.0/20.0 s');
  });

  it('prints only what was committed since the last print', () => {
    expect(newlyCommitted('', ' And so')).toBe(' And so');
    expect(newlyCommitted(' And so', ' And so my fellow')).toBe(' my fellow');
    expect(newlyCommitted(' And so', ' Ants')).toBe(' Ants');
  });
});
