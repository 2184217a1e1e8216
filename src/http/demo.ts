/**
 * @module The browser demo: GET / answers text/html (web/index.html) to a client that asks for HTML
 * first, and leaves every other client (curl, `Accept: application/json`, no Accept) to the JSON
 * route in health.ts; GET /web/<file> serves the demo's scripts. Only the files in ASSETS are
 * served, so no request path ever reaches the file system.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Hono, type Context } from 'hono';
import { ROOT_DIR } from '../config.js';

const WEB_DIR = path.join(ROOT_DIR, 'web');
const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'docs.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'pcm-worklet.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/** The text of one of the web/ assets. */
export function readWebAsset(name: keyof typeof ASSETS & string): Promise<string> {
  return readFile(path.join(WEB_DIR, name), 'utf8');
}

/** True when the client prefers HTML over JSON (a browser navigating to /). */
export function wantsHtml(c: Context): boolean {
  const accept = c.req.header('accept') ?? '';
  const html = accept.indexOf('text/html');
  if (html === -1) return false;
  const json = accept.indexOf('application/json');
  return json === -1 || html < json;
}

/** GET / for browsers and GET /web/:file. Mount before the JSON GET /. */
export function demoRoutes(): Hono {
  const app = new Hono();
  app.get('/', async (c, next) => {
    if (!wantsHtml(c)) return next();
    return c.html(await readWebAsset('index.html'));
  });
  app.get('/web/:file', async (c) => {
    const file = c.req.param('file');
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!type) return c.notFound();
    return c.body(await readWebAsset(file), 200, { 'content-type': type, 'cache-control': 'no-cache' });
  });
  return app;
}
