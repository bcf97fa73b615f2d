import { createMiddleware } from 'hono/factory';
import type { LogAck } from '../src/config/schema.js';
import type { ModelStore } from './model-store.js';
import type { Predicted } from './predict.js';
import type { PredictionLog } from './prediction-log.js';

/**
 * Writes the prediction log entry of each request: the `prediction` its handler set, or, for
 * a request answered 4xx or 5xx, a line with its status, so the prediction log alone gives the error rate.
 * With `ack: write` a prediction is answered only once its lines are in the file; one the log
 * cannot take is answered 503, so no client holds a prediction the log never saw.
 */
export const logPredictions = (log: PredictionLog, store: ModelStore, ack: LogAck) =>
  createMiddleware<{ Variables: { requestId: string; prediction?: Predicted } }>(async (c, next) => {
    const began = performance.now();
    await next();
    const time = new Date().toISOString();
    const latencyMs = performance.now() - began;
    const prediction = c.get('prediction');
    if (prediction && ack === 'write') {
      if (!(await log.writeAcknowledged({ time, latencyMs, ...prediction })))
        c.res = Response.json(
          { error: 'the prediction log could not take this prediction (serving.log.ack is write): retry, and see the server log' },
          { status: 503, headers: { 'retry-after': '1' } },
        );
    } else if (prediction) log.write({ time, latencyMs, ...prediction });
    else if (c.res.status >= 400)
      log.write({ time, requestId: c.get('requestId'), modelVersion: store.current?.version ?? 'none', latencyMs, status: c.res.status });
  });
