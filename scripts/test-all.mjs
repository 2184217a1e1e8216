#!/usr/bin/env node
// `npm test`: every suite (vitest unit + integration, pytest for the sidecar), then one
// closing line "N passed, N failed" with the totals. Exits non-zero when anything failed.
// Extra arguments go to vitest (e.g. `npm test -- test/integration/sidecar.test.ts`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = mkdtempSync(path.join(tmpdir(), 'tests-'));
const totals = { passed: 0, failed: 0, skipped: 0 };

function runSuite(name, file, args, cwd, read) {
  process.stderr.write(`\n=== ${name} ===\n`);
  const started = Date.now();
  const res = spawnSync(file, args, { cwd, stdio: 'inherit', env: process.env });
  const counts = read();
  if (res.status !== 0 && counts.failed === 0) counts.failed = 1; // crashed before it could report
  process.stderr.write(`=== ${name}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped in ${((Date.now() - started) / 1000).toFixed(1)} s ===\n`);
  for (const key of Object.keys(totals)) totals[key] += counts[key];
}

const vitestJson = path.join(out, 'vitest.json');
runSuite('vitest', path.join(root, 'node_modules', '.bin', 'vitest'),
  ['run', '--reporter=default', '--reporter=json', `--outputFile=${vitestJson}`, ...process.argv.slice(2)], root, () => {
    if (!existsSync(vitestJson)) return { passed: 0, failed: 0, skipped: 0 };
    const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
    return { passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + r.numTodoTests };
  });

if (process.argv.length <= 2) {
  const junit = path.join(out, 'pytest.xml');
  runSuite('pytest', path.join(root, 'sidecar', '.venv', 'bin', 'python'),
    ['-m', 'pytest', '-q', 'tests', `--junitxml=${junit}`], path.join(root, 'sidecar'), () => {
      if (!existsSync(junit)) return { passed: 0, failed: 0, skipped: 0 };
      const xml = readFileSync(junit, 'utf8');
      const attr = (n) => [...xml.matchAll(new RegExp(`<testsuite [^>]*?\\b${n}="(\\d+)"`, 'g'))].reduce((s, m) => s + Number(m[1]), 0);
      const failed = attr('failures') + attr('errors');
      const skipped = attr('skipped');
      return { passed: attr('tests') - failed - skipped, failed, skipped };
    });
}

console.log(`${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(totals.failed > 0 ? 1 : 0);
