import { createMiddleware } from 'hono/factory';
import type { Metrics } from './metrics.js';
import type { ModelStore } from './model-store.js';

/** Counts and times every request, by route, status and the model version serving when it was answered. */
export const requestMetrics = (metrics: Metrics, store: ModelStore) =>
  createMiddleware(async (c, next) => {
    const began = performance.now();
    await next();
    const labels = { route: c.req.routePath, status: String(c.res.status), model_version: store.current?.version ?? 'none' };
    metrics.requests.inc(labels);
    metrics.latency.observe(labels, (performance.now() - began) / 1000);
  });
