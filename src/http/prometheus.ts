/** @module GET /metrics: the Prometheus text exposition of src/metrics.ts. Behind API_KEYS like the API (scrapers send a bearer token). */
import { Hono } from 'hono';
import type { Metrics } from '../metrics.js';

export function prometheusRoutes(metrics: Metrics): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) => c.body(await metrics.render(), 200, { 'content-type': metrics.contentType }));
  return app;
}
