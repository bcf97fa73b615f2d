import { createMiddleware } from 'hono/factory';
import type { ModelStore } from './model-store.js';
import type { Predicted } from './predict.js';
import type { PredictionLog } from './prediction-log.js';

/**
 * Writes the prediction log entry of each request: the `prediction` its handler set, or, for
 * a request answered 4xx or 5xx, a line with its status, so the prediction log alone gives the error rate.
 */
export const logPredictions = (log: PredictionLog, store: ModelStore) =>
  createMiddleware<{ Variables: { requestId: string; prediction?: Predicted } }>(async (c, next) => {
    const began = performance.now();
    await next();
    const time = new Date().toISOString();
    const latencyMs = performance.now() - began;
    const prediction = c.get('prediction');
    if (prediction) log.write({ time, latencyMs, ...prediction });
    else if (c.res.status >= 400)
      log.write({ time, requestId: c.get('requestId'), modelVersion: store.current?.version ?? 'none', latencyMs, status: c.res.status });
  });
