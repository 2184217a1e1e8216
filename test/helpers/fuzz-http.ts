/**
 * @module HTTP fuzzing for the upload endpoints: fast-check arbitraries of requests (broken and
 * truncated multipart, wrong content types, bad fields, random and mutated files, random paths and
 * methods), sent with fetch; and byte-level requests Node's parser must refuse (huge headers, bad
 * request lines, broken chunked bodies), sent over TCP. Every reply is judged: an error status
 * with our JSON body and a stable code, or (for a mutated real file that still decodes) a transcript.
 */
import net from 'node:net';
import fc from 'fast-check';
import { isKnownCode } from './reliability.js';

const ROUTES = ['/v1/audio/transcriptions', '/v1/audio/translations'];
const FIELDS = ['model', 'language', 'prompt', 'response_format', 'temperature', 'timestamp_granularities[]', 'mode', 'vad', 'stream', 'file'];

const VALID_FIELDS: Record<string, string[]> = { language: ['en'], response_format: ['json', 'text', 'srt', 'vtt', 'verbose_json'], temperature: ['0'], mode: ['pipeline', 'vad'], vad: ['true', 'false'] };

export interface HttpCase { method: string; path: string; contentType: string | undefined; body: Buffer; decodable: boolean }

function multipart(boundary: string, parts: Array<{ name: string; value: Buffer; filename?: string }>): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.filename !== undefined ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`), p.value, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** Arbitraries over `wav` (a real WAV file: the mutated uploads come from its first half second). */
export function httpCaseArb(wav: Buffer): fc.Arbitrary<HttpCase> {
  const head = wav.subarray(0, 44 + 16_000);
  const file = fc.oneof(
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 3_000 }).map((b) => ({ bytes: Buffer.from(b), decodable: true })) },
    { weight: 2, arbitrary: fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 64 })).map(([cut, tail]) => ({ bytes: Buffer.concat([head.subarray(0, cut % head.length), Buffer.from(tail)]), decodable: true })) },
    { weight: 2, arbitrary: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }).map((flips) => {
      const b = Buffer.from(head);
      for (const [at, v] of flips) b[at % b.length] = v;
      return { bytes: b, decodable: true };
    }) },
    { weight: 1, arbitrary: fc.constant({ bytes: Buffer.alloc(0), decodable: false }) },
  );
  const field = fc.tuple(fc.constantFrom(...FIELDS), fc.oneof(fc.constantFrom('whisper-1', 'en', 'xx', 'json', 'verbose_json', 'srt', 'vtt', 'text', 'word', 'segment', 'true', 'false', '2', '-1', 'vad', ''), fc.string({ maxLength: 30 })));
  const form = fc.record({
    boundary: fc.stringMatching(/^[A-Za-z0-9'()+_,.-]{1,40}$/),
    fields: fc.array(field, { maxLength: 6 }),
    withModel: fc.boolean(),
    file: fc.option(file, { nil: undefined }),
    filename: fc.constantFrom('a.wav', 'a.mp3', '', 'x'.repeat(300), '../../etc/passwd', 'a\u00e9.webm'),
    cut: fc.option(fc.nat(), { nil: undefined }),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }),
    typeVariant: fc.constantFrom('right', 'none', 'wrong', 'bare'),
    // Half the forms are well-formed with valid fields, so the file reaches ffmpeg (and, if it decodes, the model).
    clean: fc.boolean(),
  }).map((f): Omit<HttpCase, 'method' | 'path'> => {
    if (f.clean) {
      f.fields = f.fields.filter(([name, v]) => VALID_FIELDS[name]?.includes(v));
      f.withModel = true;
      f.cut = undefined;
      f.flips = [];
      f.typeVariant = 'right';
      f.file ??= { bytes: Buffer.from('not audio at all'), decodable: false };
    }
    const parts: Array<{ name: string; value: Buffer; filename?: string }> = [...(f.withModel ? [{ name: 'model', value: Buffer.from('whisper-1') }] : []), ...f.fields.map(([name, v]) => ({ name, value: Buffer.from(v) }))];
    if (f.file) parts.push({ name: 'file', value: f.file.bytes, filename: f.filename });
    let body = multipart(f.boundary, parts);
    if (f.cut !== undefined) body = body.subarray(0, f.cut % (body.length + 1));
    for (const [at, v] of f.flips) if (body.length > 0) body[at % body.length] = v;
    const contentType = { right: `multipart/form-data; boundary=${f.boundary}`, none: undefined, wrong: 'multipart/form-data; boundary=not-the-boundary', bare: 'multipart/form-data' }[f.typeVariant];
    return { contentType, body, decodable: f.file?.decodable === true };
  });
  const other = fc.record({
    contentType: fc.option(fc.oneof(fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'audio/wav', 'multipart/mixed; boundary=x', 'multipart/form-data; boundary='), fc.string({ maxLength: 60 }).filter((s) => /^[\x20-\x7e]*$/.test(s))), { nil: undefined }),
    body: fc.oneof(fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)), fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')), fc.constant(Buffer.from('model=whisper-1&file=abc'))),
  }).map((o) => ({ ...o, decodable: false }));
  const target = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...ROUTES).map((path) => ({ method: 'POST', path })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH'), fc.constantFrom(...ROUTES)).map(([method, path]) => ({ method, path })) },
    { weight: 1, arbitrary: fc.webPath().map((p) => ({ method: 'POST', path: `/v1/audio/${p.replace(/^\//, '')}x` })) },
  );
  return fc.tuple(target, fc.oneof({ weight: 3, arbitrary: form }, { weight: 1, arbitrary: other })).map(([t, b]) => ({ ...t, ...b }));
}

export interface HttpOutcome { status: number; code: string | undefined; problems: string[] }

/** Send one case with fetch and judge the reply. */
export async function runHttpCase(base: string, c: HttpCase): Promise<HttpOutcome> {
  const headers: Record<string, string> = {};
  if (c.contentType !== undefined) headers['content-type'] = c.contentType;
  const res = await fetch(`${base}${c.path}`, { method: c.method, headers, body: c.method === 'GET' ? undefined : new Uint8Array(c.body) });
  const text = await res.text();
  let json: { error?: { code?: string; message?: string }; text?: string } | undefined;
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    json = undefined;
  }
  const problems: string[] = [];
  const code = json?.error?.code;
  if (res.status === 200) {
    // Only a real recording that survived its mutation may be transcribed.
    if (!c.decodable || !ROUTES.includes(c.path) || c.method !== 'POST') problems.push(`200 for a request that cannot succeed: ${c.method} ${c.path}`);
  } else if (res.status < 400 || !isKnownCode(code) || code === 'internal_error' || typeof json?.error?.message !== 'string') {
    problems.push(`reply ${res.status} ${text.slice(0, 160)}`);
  }
  return { status: res.status, code, problems };
}

/** Requests broken at the byte level (the HTTP parser answers them, not our routes). */
export const rawHttpCaseArb: fc.Arbitrary<{ label: string; bytes: Buffer; endEarly: boolean }> = fc.oneof(
  fc.integer({ min: 17, max: 200 }).map((kb) => ({ label: 'huge header', bytes: Buffer.from(`POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(kb * 1024)}\r\n\r\n`), endEarly: false })),
  fc.integer({ min: 200, max: 3_000 }).map((n) => ({ label: 'many headers', bytes: Buffer.from(`POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n${Array.from({ length: n }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`), endEarly: false })),
  fc.integer({ min: 9, max: 120 }).map((kb) => ({ label: 'huge url', bytes: Buffer.from(`GET /${'a'.repeat(kb * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`), endEarly: false })),
  // Only CR/LF is not a bad request line but empty lines, which HTTP servers skip before one (RFC 9112 §2.2): Node waits for the request.
  fc.string({ unit: 'binary', maxLength: 200 }).filter((s) => /[^\r\n]/.test(s)).map((s) => ({ label: 'garbage request line', bytes: Buffer.from(`${s}\r\n\r\n`), endEarly: false })),
  fc.constant({ label: 'bad chunked body', bytes: Buffer.from('POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: multipart/form-data; boundary=b\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'), endEarly: false }),
  fc.constant({ label: 'both content-length and chunked', bytes: Buffer.from('POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), endEarly: false }),
  fc.integer({ min: 100, max: 10_000_000 }).map((n) => ({ label: 'body shorter than content-length', bytes: Buffer.from(`POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: ${n}\r\n\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF`), endEarly: true })),
);

/** Send raw bytes; the reply's status code, or null when the server closed without one. */
export async function runRawHttpCase(port: number, c: { bytes: Buffer; endEarly: boolean }): Promise<{ status: number | null; closedByServer: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let reply = '';
  socket.on('data', (d: Buffer) => { reply += d.toString('latin1'); });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(c.bytes);
  if (c.endEarly) socket.end();
  let timer: NodeJS.Timeout | undefined;
  const closedByServer = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), 3_000); })]);
  clearTimeout(timer);
  socket.destroy();
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(reply);
  return { status: m ? Number(m[1]) : null, closedByServer };
}
