/**
 * @module WebSocket fuzzing for /ws/transcribe: fast-check arbitraries of client frame sequences
 * (random and mutated text and binary, valid messages with broken tails, real PCM with a random
 * tail, empty and huge frames, and frames the protocol forbids), and a runner that sends one case
 * over a byte-level socket and checks every reply: only interim/final/error frames, every error a
 * stable code (never internal_error), and a close code from the documented set.
 */
import fc from 'fast-check';
import { clientFrame, RawWs } from './raw-ws.js';
import { isKnownCode } from './reliability.js';

const VALID = ['{"type":"config","language":"en"}', '{"type":"config","language":null,"word_timestamps":true,"sample_rate":8000}', '{"type":"keepalive"}', '{"type":"finalize"}', '{"type":"config","task":"translate","interim_results":false}'];
const CONFIG_KEYS = ['type', 'language', 'detect_language', 'task', 'word_timestamps', 'sample_rate', 'interim_results', 'endpointing_ms', 'extra'];
const LIMIT = 1024 * 1024; // WS_MAX_MESSAGE_BYTES default

/** One thing the client writes: a whole frame, or bytes that are not one. */
export type WsStep = { op: 'text'; data: Buffer } | { op: 'binary'; data: Buffer } | { op: 'raw'; bytes: Buffer; label: string };
export interface WsCase { steps: WsStep[]; ending: 'end' | 'close' | 'abort' | 'none' }

const text = (s: string): WsStep => ({ op: 'text', data: Buffer.from(s, 'utf8') });

/** Arbitraries over `pcm` (real speech: valid prefixes come from it). */
export function wsCaseArb(pcm: Buffer): fc.Arbitrary<WsCase> {
  const textStep = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...VALID).map(text) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...VALID), fc.nat(), fc.string({ unit: 'binary', maxLength: 40 })).map(([v, cut, tail]) => text(v.slice(0, cut % v.length) + tail)) },
    { weight: 3, arbitrary: fc.dictionary(fc.constantFrom(...CONFIG_KEYS), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }).map((o) => text(JSON.stringify({ type: 'config', ...o }))) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => text(JSON.stringify(v) ?? 'null')) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }).map(text) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b): WsStep => ({ op: 'text', data: Buffer.from(b) })) }, // often invalid UTF-8
    { weight: 1, arbitrary: fc.constant(text('')) },
    { weight: 1, arbitrary: fc.constantFrom(LIMIT + 10, 4 * LIMIT + 10).map((n): WsStep => ({ op: 'text', data: Buffer.alloc(n, 0x61) })) },
  );
  const pcmSlice = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 16_000 }), fc.uint8Array({ maxLength: 33 })).map(([from, len, tail]): WsStep => {
    const start = (from * 2) % Math.max(2, pcm.length - 32_000);
    return { op: 'binary', data: Buffer.concat([pcm.subarray(start, start + len * 2), Buffer.from(tail)]) };
  });
  const binaryStep = fc.oneof(
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 4_000 }).map((b): WsStep => ({ op: 'binary', data: Buffer.from(b) })) },
    { weight: 4, arbitrary: pcmSlice },
    { weight: 1, arbitrary: fc.constant<WsStep>({ op: 'binary', data: Buffer.alloc(0) }) },
    { weight: 1, arbitrary: fc.constantFrom(LIMIT + 2, 4 * LIMIT + 2).map((n): WsStep => ({ op: 'binary', data: Buffer.alloc(n) })) },
  );
  const rawStep: fc.Arbitrary<WsStep> = fc.oneof(
    fc.tuple(fc.integer({ min: 1, max: 7 }), fc.constantFrom(1, 2)).map(([rsv, opcode]) => ({ op: 'raw' as const, bytes: clientFrame(opcode, Buffer.from('{"type":"keepalive"}'), { rsv }), label: 'rsv bits' })),
    fc.constantFrom(3, 4, 5, 6, 7, 11, 12, 13, 14, 15).map((opcode) => ({ op: 'raw' as const, bytes: clientFrame(opcode, Buffer.from('xx')), label: 'reserved opcode' })),
    fc.constant({ op: 'raw' as const, bytes: clientFrame(2, Buffer.alloc(64), { mask: false }), label: 'unmasked' }),
    fc.constant({ op: 'raw' as const, bytes: clientFrame(0, Buffer.alloc(64)), label: 'continuation without start' }),
    fc.constant({ op: 'raw' as const, bytes: Buffer.concat([clientFrame(1, Buffer.from('{"type":'), { fin: false }), clientFrame(0, Buffer.from('"keepalive"}'))]), label: 'fragmented text' }),
    fc.constant({ op: 'raw' as const, bytes: clientFrame(9, Buffer.alloc(200)), label: 'ping over 125 bytes' }),
    fc.constant({ op: 'raw' as const, bytes: clientFrame(9, Buffer.from('hi')), label: 'ping' }),
    fc.constant({ op: 'raw' as const, bytes: clientFrame(2, Buffer.alloc(8), { declaredLength: 2 ** 40 }), label: 'declared length 2^40' }),
    fc.nat({ max: 500 }).map((n) => ({ op: 'raw' as const, bytes: clientFrame(2, Buffer.alloc(1_000)).subarray(0, n), label: 'truncated frame' })),
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => ({ op: 'raw' as const, bytes: Buffer.from(b), label: 'random bytes' })),
  );
  return fc.record({
    steps: fc.array(fc.oneof({ weight: 5, arbitrary: textStep }, { weight: 5, arbitrary: binaryStep }, { weight: 1, arbitrary: rawStep }), { minLength: 1, maxLength: 6 }),
    ending: fc.constantFrom('end', 'close', 'abort', 'none'),
  });
}

/** Close codes a fuzzed session may end with: ours from src/errors.ts, and ws's own for protocol violations. */
export const ALLOWED_CLOSE = new Set([1000, 1002, 1003, 1007, 1008, 1009, 1013]);

export interface WsOutcome { messages: number; closeCode: number | undefined; errorCodes: string[]; problems: string[] }

/** Send one case and judge every reply. `port`: the server's port. */
export async function runWsCase(port: number, c: WsCase, settleMs = 1_500): Promise<WsOutcome> {
  const raw = await RawWs.connect(port, '/ws/transcribe', true);
  for (const step of c.steps) raw.write(step.op === 'raw' ? step.bytes : clientFrame(step.op === 'text' ? 1 : 2, step.data));
  if (c.ending === 'end') raw.write(clientFrame(1, Buffer.from('{"type":"end"}')));
  if (c.ending === 'close') raw.write(clientFrame(8, Buffer.from([0x03, 0xe8])));
  if (c.ending === 'abort') raw.destroy();
  // A session that was ended waits for its drain (VAD, one decode); others only for their replies.
  await raw.waitEnded(c.ending === 'end' ? 60_000 : c.ending === 'abort' ? 0 : settleMs);
  raw.destroy();
  const problems: string[] = [];
  const errorCodes: string[] = [];
  for (const m of raw.texts()) {
    const frame = m as { type?: string; code?: string };
    if (!frame || !['interim', 'final', 'error'].includes(frame.type ?? '')) problems.push(`unexpected frame ${JSON.stringify(m).slice(0, 120)}`);
    if (frame?.type === 'error') {
      errorCodes.push(String(frame.code));
      if (!isKnownCode(frame.code) || frame.code === 'internal_error') problems.push(`error code ${String(frame.code)}`);
    }
  }
  const closeCode = raw.closeCode();
  if (closeCode !== undefined && !ALLOWED_CLOSE.has(closeCode)) problems.push(`close code ${closeCode}`);
  return { messages: c.steps.length + (c.ending === 'end' || c.ending === 'close' ? 1 : 0), closeCode, errorCodes, problems };
}
