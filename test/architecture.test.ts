/** The import-direction rules of docs/architecture.md, and src/errors.ts ↔ docs/errors.md agreement. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../src/config.js';
import { ERRORS } from '../src/errors.js';

const SRC = path.join(ROOT_DIR, 'src');
const LEAVES = new Set(['config.ts', 'errors.ts', 'log.ts', 'metrics.ts']);
/** Which top-level folders of src/ each folder may import from (besides itself and the leaves). */
const ALLOWED: Record<string, string[]> = {
  sidecar: [],
  audio: [],
  scheduler: ['sidecar'],
  session: ['scheduler', 'sidecar', 'audio'],
  files: ['scheduler', 'sidecar', 'audio'],
  ws: ['session', 'scheduler', 'sidecar', 'audio'],
  http: ['files', 'scheduler', 'sidecar', 'audio'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [full] : [];
  });
}

function imports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

describe('architecture', () => {
  const files = sources(SRC);

  it('each folder imports only from layers below it and the shared leaves', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const rel = path.relative(SRC, file);
      const folder = rel.includes(path.sep) ? rel.split(path.sep)[0]! : undefined;
      if (!folder) continue; // top-level wiring (app, server, main) may import anything
      for (const spec of imports(file).filter((s) => s.startsWith('.'))) {
        const target = path.relative(SRC, path.resolve(path.dirname(file), spec)).replace(/\.js$/, '.ts');
        const targetFolder = target.includes(path.sep) ? target.split(path.sep)[0]! : undefined;
        if (targetFolder === undefined ? LEAVES.has(target) : targetFolder === folder || ALLOWED[folder]?.includes(targetFolder)) continue;
        wrong.push(`${rel} imports ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('only the process owners spawn', () => {
    const spawners = files.filter((f) => imports(f).some((s) => s === 'execa' || s === 'node:child_process')).map((f) => path.relative(SRC, f));
    expect(spawners.every((f) => ['sidecar/process.ts', 'audio/ffmpeg.ts'].includes(f))).toBe(true);
  });

  it('docs/errors.md lists exactly the codes of src/errors.ts, with the same statuses', () => {
    const doc = readFileSync(path.join(ROOT_DIR, 'docs', 'errors.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d+) \| (\d+|–) \|/gm)].map((m) => [m[1], Number(m[2]), m[3] === '–' ? undefined : Number(m[3])]);
    const table = Object.entries(ERRORS).map(([code, e]) => [code, e.http, e.wsClose]);
    expect(rows).toEqual(table);
  });
});
