/**
 * A rolling restart behind a real nginx on loopback: two server instances (production entry, child
 * processes) as one upstream (instance 2 as backup, so every stream lands on instance 1 first),
 * proxy_read_timeout 5 s so that nothing but the server's WebSocket pings keeps a quiet stream
 * alive. With streams open through nginx, instance 1 gets SIGTERM: every stream gets a final with
 * all its audio (none is cut with 1006), and a client that reconnects on 1012 / 1013 lands on
 * instance 2. Needs nginx: fails when CI=true and it is missing, skips with a message otherwise.
 */
import { existsSync } from 'node:fs';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildServer, type ChildServer } from '../helpers/child-server.js';
import { DRAIN_CLIPS, DRAIN_MAX_WER, liveStream } from '../helpers/live-stream.js';
import { NGINX, startNginx, type Nginx } from '../helpers/nginx.js';
import { wer } from '../helpers/wer.js';
import { WsClient, wsUrl } from '../helpers/ws-client.js';

const haveNginx = existsSync(NGINX);
const inCi = process.env.CI === 'true';
if (!haveNginx && !inCi) console.warn(`drain-nginx.test.ts skipped: ${NGINX} is missing (apt-get install nginx; .ci/run installs it)`);

const { jfk, jfkText, short, shortText } = DRAIN_CLIPS;
const MAX_WER = DRAIN_MAX_WER;
const READ_TIMEOUT_S = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!haveNginx && !inCi)('rolling restart behind nginx', () => {
  let one: ChildServer;
  let two: ChildServer;
  let nginx: Nginx | undefined;
  const env = { STREAM_DRAIN_MS: '20000', SHUTDOWN_GRACE_MS: '60000', WS_PING_INTERVAL_MS: '1000' };

  beforeAll(async () => {
    if (!haveNginx) throw new Error(`CI=true but ${NGINX} is missing: this test needs nginx (apt-get install nginx)`);
    [one, two] = await Promise.all([startChildServer(env), startChildServer(env)]);
    await Promise.all([one.ready(), two.ready()]);
    nginx = await startNginx({ upstreams: [one.port], backup: [two.port], readTimeoutS: READ_TIMEOUT_S });
  }, 240_000);
  afterAll(async () => {
    await nginx?.stop();
    one?.kill();
    two?.kill();
  });

  it('SIGTERM to instance 1: every stream through nginx gets its whole final (no 1006), a reconnect lands on instance 2', async () => {
    const url = wsUrl(nginx!.url);
    // Quiet: jfk, then nothing at all for longer than proxy_read_timeout, then `end`: only pings keep it.
    const quiet = await WsClient.connect(url);
    let quietPings = 0;
    quiet.ws.on('ping', () => { quietPings += 1; });
    quiet.send({ type: 'config', language: 'en' });
    const quietDone = (async () => {
      for (let at = 0; at < jfk.length; at += 3_200) { quiet.send(jfk.subarray(at, at + 3_200)); await sleep(100); }
      await sleep(8_000);
      if (quiet.ws.readyState === WebSocket.OPEN) quiet.send({ type: 'end' });
      return quiet.result();
    })();
    // Held: jfk then silence (a live microphone) until the drain deadline closes it with 1012.
    const held = await liveStream(url, jfk);
    await sleep(1_000);
    expect(await sessions(one)).toBe(2); // both went to instance 1
    expect(await sessions(two)).toBe(0);

    await sleep(2_000);
    const signalAt = Date.now();
    one.child.kill('SIGTERM');

    const q = await quietDone;
    const quietClosedMs = Date.now() - signalAt;
    expect(q.close.code, 'the quiet stream was not cut by nginx').not.toBe(1006);
    expect([1000, 1012]).toContain(q.close.code);
    expect(wer(jfkText, String(q.final?.text ?? '')), String(q.final?.text)).toBeLessThanOrEqual(MAX_WER);
    expect(quietPings).toBeGreaterThan(READ_TIMEOUT_S);

    const h = await held.result;
    const heldClosedMs = Date.now() - signalAt;
    expect(h.close.code).toBe(1012);
    expect(Number(h.final?.duration_s)).toBeGreaterThanOrEqual(jfk.length / 32_000);
    expect(wer(jfkText, String(h.final?.text ?? '')), String(h.final?.text)).toBeLessThanOrEqual(MAX_WER);

    // The client reconnects, as docs/protocol.md advises: on 1012/1013 (and a refused connect) try again.
    const reconnectAt = Date.now();
    let attempts = 0;
    let again: WsClient | undefined;
    while (!again && Date.now() - reconnectAt < 60_000) {
      attempts += 1;
      const c = new WsClient(new WebSocket(url));
      const ok = await c.opened.then(() => true, () => false);
      if (ok) {
        // A draining instance refuses at once with `draining` (1013); an open session stays quiet.
        const refused = await Promise.race([c.closed.then((x) => x.code), sleep(1_000).then(() => undefined)]);
        // 1013: the draining instance refused it (`draining`); 1006: it went away under this attempt.
        if (refused === undefined) again = c;
        else expect([1013, 1006]).toContain(refused);
      }
      if (!again) await sleep(500);
    }
    expect(again, 'a reconnect was taken within 60 s').toBeDefined();
    const landedMs = Date.now() - reconnectAt;
    expect(await sessions(two)).toBe(1); // on instance 2
    again!.send({ type: 'config', language: 'en' });
    for (let at = 0; at < short.length; at += 3_200) { again!.send(short.subarray(at, at + 3_200)); await sleep(100); }
    again!.send({ type: 'end' });
    const r = await again!.result();
    expect(r.close.code).toBe(1000);
    expect(wer(shortText, String(r.final?.text ?? '')), String(r.final?.text)).toBeLessThanOrEqual(0.35);

    expect(await one.exited).toBe(0);
    expect(nginx!.errorLog()).not.toContain('upstream timed out');
    console.log(`nginx drain: quiet stream closed ${q.close.code} ${quietClosedMs} ms after SIGTERM (${quietPings} pings); held stream final + 1012 at ${heldClosedMs} ms; reconnect on instance 2 after ${landedMs} ms, ${attempts} attempt(s)`);
  });
});

/** whisper_sessions of one instance, read from it directly (not through nginx). */
async function sessions(server: ChildServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^whisper_sessions (\d+)$/m.exec(text)?.[1] ?? NaN);
}
