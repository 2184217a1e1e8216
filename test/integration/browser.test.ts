/**
 * The browser demo end to end: Debian's Chromium, headless, driven by playwright-core, with a fake
 * microphone that plays a fixture WAV (jfk.wav between silences). The page captures it through its
 * AudioWorklet at 16 kHz, streams PCM over the WebSocket to a real server with the real sidecar,
 * and shows live text; the test stops it after the speech and checks the final transcript's WER,
 * then uploads a file through the page's form. A screenshot is kept in test-artifacts/.
 * Skipped (with the reason printed) where /usr/bin/chromium is missing; .ci/run installs it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { AUDIO_DIR, manifest } from '../helpers/audio.js';
import { testConfig, testLogger, waitForState } from '../helpers/server.js';
import { wer } from '../helpers/wer.js';
import { NO_FFMPEG } from '../helpers/ffmpeg.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT_DIR, 'test-artifacts');
const KEY = 'browser-key-0123456789';
const jfk = manifest().find((f) => f.file === 'jfk.wav')!;
const LEAD_S = 1;
const TAIL_S = 6;

let server: RunningServer;
let browser: Browser;

/** jfk.wav with silence around it (the fake device loops the file: the tail keeps the loop out of the take). */
function fakeMicrophoneWav(): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  const out = path.join(ARTIFACTS, 'fake-mic-jfk.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO_DIR, 'jfk.wav'), '-af', `adelay=${LEAD_S * 1000},apad=pad_dur=${TAIL_S}`, '-ar', '48000', '-ac', '1', '-c:a', 'pcm_s16le', out]);
  return out;
}

describe.skipIf(!existsSync(CHROMIUM) || NO_FFMPEG)('browser demo (Chromium headless, fake microphone)', () => {
  beforeAll(async () => {
    const t = testLogger();
    server = await startServer(testConfig({ API_KEYS: KEY }), t.log);
    await waitForState(server.supervisor, 'ready');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${fakeMicrophoneWav()}`, '--autoplay-policy=no-user-gesture-required',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('streams the microphone and shows live, then final text close to the transcript', async () => {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    await page.goto(`${server.url}/`);
    await page.fill('#key', KEY);
    await page.dispatchEvent('#key', 'change');
    await page.click('#start');
    await page.waitForSelector('body[data-status="listening"]', { timeout: 30_000 });
    const listening = Date.now();
    // Live text appears while the speech plays.
    await page.waitForFunction(() => (document.getElementById('committed')!.textContent! + document.getElementById('tentative')!.textContent!).trim().length > 0, undefined, { timeout: 60_000 });
    // Stop inside the trailing silence, before the fake device loops back to the start of the file.
    await page.waitForTimeout(Math.max(0, (LEAD_S + jfk.seconds + 2) * 1000 - (Date.now() - listening)));
    await page.click('#stop');
    await page.waitForSelector('body[data-final]', { timeout: 120_000 });
    const final = await page.getAttribute('body', 'data-final');
    await page.screenshot({ path: path.join(ARTIFACTS, 'browser-demo.png'), fullPage: true });
    const score = wer(jfk.transcript, final ?? '');
    writeFileSync(path.join(ARTIFACTS, 'browser-demo.json'), `${JSON.stringify({ final, wer: score, status: await page.textContent('#status') }, null, 2)}\n`);
    expect(score).toBeLessThanOrEqual(0.3);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('renders the API docs page from /openapi.json', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/docs`);
    await page.waitForSelector('#paths section');
    const headings = await page.$$eval('#paths h2', (hs) => hs.map((h) => h.textContent));
    expect(headings).toContain('post/v1/audio/transcriptions');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('uploads a file through the page and shows its transcript', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.fill('#key', KEY);
    await page.dispatchEvent('#key', 'change');
    await page.setInputFiles('#file', path.join(AUDIO_DIR, 'jfk.wav'));
    await page.click('#upload');
    await page.waitForSelector('#file-result[data-done="true"]', { timeout: 120_000 });
    const text = await page.textContent('#file-result');
    expect(wer(jfk.transcript, text ?? '')).toBeLessThanOrEqual(0.15);
    await page.screenshot({ path: path.join(ARTIFACTS, 'browser-upload.png'), fullPage: true });
    await page.close();
  });
});
