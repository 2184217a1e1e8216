/**
 * API keys and admission limits on /v1/listen and /v1/realtime (real server, API_KEYS and
 * MAX_SESSIONS=1 set): each protocol's own key places work (Deepgram: `Token`/`Bearer` header or the
 * `token, <key>` subprotocol pair; OpenAI: `Bearer` or `openai-insecure-api-key.<key>`, answered
 * with `realtime`), a missing or wrong key is HTTP 401 before the upgrade, and a session past
 * MAX_SESSIONS gets that protocol's error and close 1013 while the open one is unaffected.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { dgConnect, upgradeStatus } from '../helpers/deepgram-client.js';
import { rtConnect } from '../helpers/realtime-client.js';
import { useServer } from '../helpers/server.js';

const KEY = 'test-key-0123456789abcdef';
const server = useServer({ API_KEYS: KEY, MAX_SESSIONS: '1' });

/** A raw socket that records its text messages. */
function raw(url: string, protocols: string[], headers: Record<string, string> = {}) {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols, { headers });
  const messages: Array<Record<string, unknown>> = [];
  ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as Record<string, unknown>));
  const opened = new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return { ws, messages, opened, closed };
}

describe('keys and limits on the hosted-API protocols', () => {
  it('Deepgram: no key or a wrong one is 401 before the upgrade; Token header and token subprotocol work', async () => {
    expect(await upgradeStatus(`${server().url}/v1/listen`)).toBe(401);
    expect(await upgradeStatus(`${server().url}/v1/listen`, { headers: { authorization: 'Token wrong-key-0000000000' } })).toBe(401);
    await expect(dgConnect(server().url, {}, { apiKey: 'wrong-key-0000000000' })).rejects.toThrow();
    const sdk = await dgConnect(server().url, { encoding: 'linear16', sample_rate: 16000 }, { apiKey: KEY });
    sdk.conn.sendCloseStream({ type: 'CloseStream' });
    expect((await sdk.closed).code).toBe(1000);
    const browser = raw(`${server().url}/v1/listen`, ['token', KEY]);
    await browser.opened;
    expect(browser.ws.protocol).toBe('token');
    browser.ws.send(JSON.stringify({ type: 'CloseStream' }));
    expect((await browser.closed).code).toBe(1000);
    expect(browser.messages.map((m) => m.type)).toEqual(['Metadata']);
  });

  it('Realtime: no key or a wrong one is 401; Bearer (SDK) and the openai-insecure-api-key subprotocol work, answered with realtime', async () => {
    expect(await upgradeStatus(`${server().url}/v1/realtime?intent=transcription`)).toBe(401);
    expect(await upgradeStatus(`${server().url}/v1/realtime`, { protocols: ['realtime', 'openai-insecure-api-key.wrong-key-00000000'] })).toBe(401);
    const sdk = rtConnect(server().url, { apiKey: KEY });
    await sdk.waitFor((e) => e.type === 'session.created');
    sdk.rt.close();
    await sdk.closed;
    const browser = raw(`${server().url}/v1/realtime?intent=transcription`, ['realtime', `openai-insecure-api-key.${KEY}`, 'openai-beta.realtime-v1']);
    await browser.opened;
    expect(browser.ws.protocol).toBe('realtime');
    await new Promise((r) => setTimeout(r, 200));
    expect(browser.messages[0]!.type).toBe('transcription_session.created');
    browser.ws.close();
    await browser.closed;
  });

  it('past MAX_SESSIONS each protocol gets its own error shape and close 1013; the open session goes on', async () => {
    const first = await dgConnect(server().url, { encoding: 'linear16', sample_rate: 16000 }, { apiKey: KEY });
    const dg = raw(`${server().url}/v1/listen`, [], { authorization: `Token ${KEY}` });
    expect((await dg.closed).code).toBe(1013);
    expect(dg.messages[0]).toMatchObject({ type: 'Error', code: 'too_many_sessions' });
    const rt = raw(`${server().url}/v1/realtime`, [], { authorization: `Bearer ${KEY}` });
    expect((await rt.closed).code).toBe(1013);
    expect(rt.messages.map((m) => m.type)).toEqual(['session.created', 'error']);
    expect(rt.messages[1]!.error).toMatchObject({ code: 'too_many_sessions', type: 'server_error' });
    first.conn.sendCloseStream({ type: 'CloseStream' });
    expect((await first.closed).code).toBe(1000);
  });
});
