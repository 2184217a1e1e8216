/**
 * Faults the real sidecar cannot produce on demand, driven by LABELLED TEST DOUBLES from
 * test/doubles/: a hang, and broken frames of each class. Everything else about supervision
 * is proved against the real sidecar in supervision.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createSupervisor } from '../../src/server.js';
import type { Supervisor } from '../../src/sidecar/supervisor.js';
import { doubleFactory, testConfig, testLogger, waitForState } from '../helpers/server.js';

const audio = Buffer.alloc(3200); // 0.1 s of silence: its content does not matter to a double
let supervisor: Supervisor | undefined;

afterEach(async () => {
  await supervisor?.stop(0);
  supervisor = undefined;
});

function start(double: string, env: Record<string, string> = {}, configEnv: Record<string, string> = {}) {
  const { log, capture } = testLogger();
  const config = testConfig({ SIDECAR_PING_INTERVAL_MS: '200', SIDECAR_PONG_TIMEOUT_MS: '500', ...configEnv });
  supervisor = createSupervisor(config, log, doubleFactory(double, log, env));
  supervisor.start();
  return { supervisor, capture };
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    return err as AppError;
  }
  throw new Error('expected a rejection');
}

describe('supervision against fault doubles', () => {
  it('kills and restarts a sidecar that stops answering pings', async () => {
    const { supervisor, capture } = start('sidecar-hang.py');
    await waitForState(supervisor, 'ready', 10_000);
    await waitForState(supervisor, 'restarting', 5_000);
    expect(supervisor.snapshot().last_exit?.cause).toBe('hang');
    await waitForState(supervisor, 'ready', 10_000);
    expect(supervisor.snapshot().restarts).toBeGreaterThanOrEqual(1);
    expect(capture.lines.some((l) => l.msg === 'sidecar exited; restarting' && l.cause === 'hang')).toBe(true);
  });

  it('kills a sidecar whose request passes its deadline, replays it once, then fails it with request_timeout', async () => {
    const { supervisor } = start('sidecar-hang.py', {}, { SIDECAR_PING_INTERVAL_MS: '60000', SIDECAR_REQUEST_TIMEOUT_MS: '300', SIDECAR_REQUEST_TIMEOUT_PER_AUDIO_SECOND_MS: '0' });
    await waitForState(supervisor, 'ready', 10_000);
    const err = await failure(supervisor.transcribe({ items: [{ audio }] }));
    expect(err.code).toBe('request_timeout');
    expect(supervisor.snapshot().restarts).toBe(2);
    expect(supervisor.snapshot().last_exit?.cause).toBe('deadline');
  });

  it('fails only the request behind an undecodable frame, by its id, without a restart', async () => {
    const { supervisor } = start('sidecar-garbage.py', { GARBAGE_MODE: 'undecodable' });
    await waitForState(supervisor, 'ready', 10_000);
    const err = await failure(supervisor.transcribe({ items: [{ audio }] }));
    expect(err.code).toBe('bad_frame');
    const again = await failure(supervisor.transcribe({ items: [{ audio }] }));
    expect(again.code).toBe('bad_frame');
    expect(supervisor.snapshot()).toMatchObject({ state: 'ready', restarts: 0 });
  });

  it('discards an oversize frame by counting bytes and fails its request with frame_too_large', async () => {
    const { supervisor } = start('sidecar-garbage.py', { GARBAGE_MODE: 'oversize' }, { SIDECAR_MAX_FRAME_BYTES: String(1 << 20) });
    await waitForState(supervisor, 'ready', 10_000);
    const err = await failure(supervisor.transcribe({ items: [{ audio }] }));
    expect(err.code).toBe('frame_too_large');
    expect(supervisor.snapshot()).toMatchObject({ state: 'ready', restarts: 0 });
  });

  it('refuses to send a request over the frame limit without touching the sidecar', async () => {
    const { supervisor } = start('sidecar-garbage.py', {}, { SIDECAR_MAX_FRAME_BYTES: '65536' });
    await waitForState(supervisor, 'ready', 10_000);
    const err = await failure(supervisor.transcribe({ items: [{ audio: Buffer.alloc(100_000) }] }));
    expect(err.code).toBe('frame_too_large');
    expect(supervisor.snapshot().restarts).toBe(0);
  });

  it('restarts a sidecar whose stream is out of sync and replays the request', async () => {
    const { supervisor } = start('sidecar-garbage.py', { GARBAGE_MODE: 'out_of_sync' });
    await waitForState(supervisor, 'ready', 10_000);
    const err = await failure(supervisor.transcribe({ items: [{ audio }] }));
    // Each attempt desynchronises a fresh double, so the replay fails the same way.
    expect(err.code).toBe('poison_request');
    expect(supervisor.snapshot().restarts).toBe(2);
    expect(supervisor.snapshot().last_exit?.cause).toBe('out_of_sync');
  });

  it('restarts with growing backoff when the process keeps exiting at start', async () => {
    const { log, capture } = testLogger();
    const config = testConfig({ RESTART_BACKOFF_MS: '50' });
    supervisor = createSupervisor(config, log, doubleFactory('does-not-exist.py', log));
    supervisor.start();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(supervisor.snapshot().restarts).toBeGreaterThanOrEqual(3);
    expect(supervisor.state).toBe('restarting');
    const backoffs = capture.lines.filter((l) => l.msg === 'sidecar exited; restarting').map((l) => l.backoffMs);
    expect(backoffs.slice(0, 3)).toEqual([50, 100, 200]);
  });
});
