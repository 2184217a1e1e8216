/** The import rules of docs/architecture.md, and src/errors.ts ↔ docs/errors.md agreement. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../src/config.js';
import { ERRORS } from '../src/errors.js';

const SRC = path.join(ROOT_DIR, 'src');
const SIDECAR = path.join(ROOT_DIR, 'sidecar');
/** Shared leaf modules: anyone may import them, and they import no folder of src/. */
const LEAVES = new Set(['config.ts', 'errors.ts', 'log.ts', 'metrics.ts']);
/** Which top-level folders of src/ each folder may import from (besides itself and the leaves). */
const ALLOWED: Record<string, string[]> = {
  sidecar: [],
  audio: [],
  scheduler: ['sidecar'],
  session: ['sidecar', 'audio'],
  files: ['scheduler', 'sidecar', 'audio'],
  ws: ['session', 'audio'],
  http: ['files', 'scheduler', 'sidecar', 'audio'],
};
/** The only files that may import hono (transport and wiring), and the only ones that see a WebSocket. */
const HONO = /^(http\/|ws\/|app\.ts$|server\.ts$)/;
const WEBSOCKET = /^ws\/(route|protocols)\.ts$/;

function sources(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return ['.venv', 'models', 'tests', 'node_modules', '__pycache__'].includes(e.name) ? [] : sources(full, ext);
    return e.name.endsWith(ext) && !e.name.endsWith(`.test${ext}`) ? [full] : [];
  });
}

/** Every module specifier a TS file names: `import … from`, `export … from`, side-effect `import '…'`, dynamic `import('…')`. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const patterns = [/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm, /^\s*import\s+['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]!));
}

/** Top-level module names a Python file imports (`import a.b`, `from a import b`), function-level imports included. */
function pythonImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w., ]+))/gm)].flatMap((m) =>
    (m[1] ?? m[2]!).split(',').map((s) => s.trim().split(/\s|\./)[0]!).filter(Boolean),
  );
}

const rel = (file: string) => path.relative(SRC, file).split(path.sep).join('/');

describe('architecture', () => {
  const files = sources(SRC, '.ts');

  it('each folder imports only from layers below it and the shared leaves', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = rel(file);
      const folder = from.includes('/') ? from.split('/')[0]! : undefined;
      if (!folder) continue; // top-level files: the leaves' own rule below; app, server, main, cli wire everything
      for (const spec of imports(file).filter((s) => s.startsWith('.'))) {
        const target = path.relative(SRC, path.resolve(path.dirname(file), spec)).split(path.sep).join('/').replace(/\.js$/, '.ts');
        const targetFolder = target.includes('/') ? target.split('/')[0]! : undefined;
        if (targetFolder === undefined ? LEAVES.has(target) : targetFolder === folder || ALLOWED[folder]?.includes(targetFolder)) continue;
        wrong.push(`${from} imports ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the shared leaves import no folder of src/', () => {
    const wrong = files.filter((f) => LEAVES.has(rel(f))).flatMap((f) => imports(f).filter((s) => s.startsWith('.') && s.includes('/', 2)).map((s) => `${rel(f)} imports ${s}`));
    expect(wrong).toEqual([]);
  });

  it('hono only in the transport and wiring files; a WebSocket only in the socket files', () => {
    const honoUsers = files.filter((f) => imports(f).some((s) => s === 'hono' || s.startsWith('hono/') || s.startsWith('@hono/'))).map(rel);
    expect(honoUsers.filter((f) => !HONO.test(f))).toEqual([]);
    const socketUsers = files.filter((f) => imports(f).some((s) => s === 'hono/ws' || s === '@hono/node-ws')).map(rel);
    expect(socketUsers.filter((f) => !WEBSOCKET.test(f))).toEqual([]);
    // The `ws` package: the server's sockets, and the CLI's client socket.
    const wsUsers = files.filter((f) => imports(f).includes('ws')).map(rel);
    expect(wsUsers.filter((f) => !WEBSOCKET.test(f) && f !== 'cli.ts')).toEqual([]);
  });

  it('the scheduler reaches the sidecar only through its protocol types (never the supervisor or the connection)', () => {
    const wrong = files.filter((f) => rel(f).startsWith('scheduler/')).flatMap((f) => imports(f).filter((s) => s.includes('/sidecar/') && !s.endsWith('/sidecar/protocol.js')).map((s) => `${rel(f)} imports ${s}`));
    expect(wrong).toEqual([]);
  });

  it('only the process owners spawn', () => {
    const spawners = files.filter((f) => imports(f).some((s) => s === 'execa' || s === 'node:child_process' || s === 'child_process')).map(rel);
    expect(spawners.filter((f) => !['sidecar/process.ts', 'audio/ffmpeg.ts'].includes(f))).toEqual([]);
  });

  it('the sidecar message layer (protocol.py, framing.py) imports neither the model nor torch', () => {
    const heavy = new Set(['model', 'torch', 'transformers', 'engine', 'files', 'longform', 'slices', 'service', 'vad', 'diarize']);
    const wrong = ['protocol.py', 'framing.py'].flatMap((name) => pythonImports(path.join(SIDECAR, name)).filter((m) => heavy.has(m)).map((m) => `${name} imports ${m}`));
    expect(wrong).toEqual([]);
    // The matcher itself sees what it must (a module that does import torch).
    expect(pythonImports(path.join(SIDECAR, 'model.py'))).toContain('torch');
  });

  it('docs/architecture.md names every folder of src/ and the files its table points to exist', () => {
    const doc = readFileSync(path.join(ROOT_DIR, 'docs', 'architecture.md'), 'utf8');
    for (const folder of Object.keys(ALLOWED)) expect(doc).toContain(`src/${folder}/`);
    const named = [...doc.matchAll(/`((?:src|sidecar)\/[\w/.-]+\.(?:ts|py))`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(20);
    const missing = [...new Set(named)].filter((p) => { try { readFileSync(path.join(ROOT_DIR, p)); return false; } catch { return true; } });
    expect(missing).toEqual([]);
  });

  it('docs/errors.md lists exactly the codes of src/errors.ts, with the same statuses', () => {
    const doc = readFileSync(path.join(ROOT_DIR, 'docs', 'errors.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d+) \| (\d+|–) \|/gm)].map((m) => [m[1], Number(m[2]), m[3] === '–' ? undefined : Number(m[3])]);
    const table = Object.entries(ERRORS).map(([code, e]) => [code, e.http, e.wsClose]);
    expect(rows).toEqual(table);
  });
});
