/**
 * @module GET /v1/models (and /v1/models/:id): what is loaded, in OpenAI's list shape. The sidecar's
 * ready frame says what was really loaded; before it is ready the configured model is listed.
 * `whisper-1` is listed as an alias because OpenAI clients send it by default; every model name
 * reaches the one loaded model.
 */
import { Hono } from 'hono';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { HealthSource } from './health.js';

const CREATED = Math.floor(Date.UTC(2026, 0, 1) / 1000);

export function modelRoutes(config: Config, sidecar: HealthSource): Hono {
  const app = new Hono();
  const list = () => {
    const loaded = sidecar.snapshot().loaded;
    const id = loaded?.model ?? config.MODEL_ID;
    const entry = (name: string) => ({ id: name, object: 'model', created: CREATED, owned_by: 'local', root: id, ready: loaded !== null, device: loaded?.device ?? null });
    return [entry(id), entry('whisper-1')];
  };
  app.get('/v1/models', (c) => c.json({ object: 'list', data: list() }));
  app.get('/v1/models/:id{.+}', (c) => {
    const found = list().find((m) => m.id === c.req.param('id'));
    if (!found) throw new AppError('not_found', `no model ${c.req.param('id')}`);
    return c.json(found);
  });
  return app;
}
