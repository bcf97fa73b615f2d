import { createMiddleware } from 'hono/factory';
import type { Metrics } from './metrics.js';
import type { ModelStore } from './model-store.js';

/**
 * Counts and times every request, by route, status and the model version serving when it was
 * answered, and tells the caller its own time in a `Server-Timing` header: the proxy compares a
 * shadow's and a champion's time to answer by it, which the proxy's own scheduling cannot skew.
 */
export const requestMetrics = (metrics: Metrics, store: ModelStore) =>
  createMiddleware(async (c, next) => {
    const began = performance.now();
    await next();
    const ms = performance.now() - began;
    const labels = { route: c.req.routePath, status: String(c.res.status), model_version: store.current?.version ?? 'none' };
    metrics.requests.inc(labels);
    metrics.latency.observe(labels, ms / 1000);
    c.res.headers.set('server-timing', `app;dur=${ms.toFixed(3)}`);
  });
