import { Hono, type Context } from 'hono';
import type { Config } from '../src/config/schema.js';
import type { Logger } from '../src/log.js';
import { adminAuth } from './admin-auth.js';
import { jsonBody } from './json-body.js';
import { logPredictions } from './log-predictions.js';
import type { Metrics } from './metrics.js';
import type { ModelStore } from './model-store.js';
import { predict } from './predict.js';
import type { PredictionLog } from './prediction-log.js';
import { requestId } from './request-id.js';
import { requestMetrics } from './request-metrics.js';

export interface AppOptions {
  store: ModelStore;
  log: PredictionLog;
  metrics: Metrics;
  serving: Config['serving'];
  logger: Logger;
  /** Bearer token for /admin routes; without one they are off. */
  adminToken?: string;
  /** True once shutdown began: every response asks the client to close its connection. */
  draining: () => boolean;
}

const problem = (c: Context, status: 400 | 404 | 422 | 503, error: string, extra: object = {}) => c.json({ error, ...extra }, status);

export function createApp(options: AppOptions): Hono {
  const { store, log, metrics, serving, logger } = options;
  const app = new Hono();

  // Once draining, every answer closes its connection: the client's next request goes to another server.
  app.use(async (c, next) => {
    await next();
    if (options.draining()) c.header('connection', 'close');
  });
  app.use(requestMetrics(metrics, store));

  app.get('/health', (c) => c.json({ status: 'ok' }));
  // Not ready while draining either: a proxy's health check then stops sending before the listener closes.
  app.get('/ready', (c) =>
    options.draining()
      ? problem(c, 503, 'shutting down')
      : store.current
        ? c.json({ status: 'ready', model_version: store.current.version })
        : problem(c, 503, 'no model loaded yet'),
  );

  app.get('/metadata', (c) => {
    const model = store.current;
    if (!model) return problem(c, 503, 'no model loaded yet');
    const { card, spec, engine } = model.predictor;
    return c.json({
      model_version: model.version,
      loaded_at: model.loadedAt,
      task: card.task,
      label: card.label,
      classes: card.classes,
      features: spec.features.map((f) => ({ name: f.name, kind: f.kind, ...(f.kind === 'category' ? { values: f.vocabulary } : {}) })),
      metrics: model.metrics,
      training: { backend: card.backend, epochs: card.training.epochs, best_epoch: card.training.bestEpoch, lineage: card.lineage },
      inference_engine: engine,
      importance: card.importance ?? null,
      explains: Boolean(model.predictor.explain),
      max_batch: serving.max_batch,
    });
  });

  app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));

  app.post('/predict', requestId(), logPredictions(log, store, serving.log.ack), jsonBody(serving.max_body_bytes), (c) => {
    const model = store.current; // read once: this request finishes on this model even if a swap happens
    if (!model) return problem(c, 503, 'no model loaded yet');
    const explain = c.req.query('explain');
    if (explain !== undefined && explain !== 'true' && explain !== 'false')
      return problem(c, 400, `explain: expected true or false, got ${JSON.stringify(explain.slice(0, 40))}`);
    if (explain === 'true' && !model.predictor.explain)
      return problem(c, 422, `model ${model.version} cannot explain its predictions`, {
        hint: `its family (${model.predictor.card.family}) has no gradients; ask without explain=true`,
      });
    const prediction = predict(model, c.get('body'), c.get('requestId'), serving, metrics, explain === 'true');
    if (!prediction.ok) return problem(c, 422, 'invalid input', { fields: prediction.fields });
    c.set('prediction', prediction.entry);
    return c.body(prediction.json, 200, { 'content-type': 'application/json' });
  });

  app.post('/admin/reload', adminAuth(options.adminToken, 'admin routes are off: set MLOPS_ADMIN_TOKEN to turn them on'), async (c) => {
    const result = await store.check();
    return c.json(result, result.error ? 409 : 200);
  });

  app.notFound((c) => problem(c, 404, `no route ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    logger.error(`internal error on ${c.req.method} ${c.req.path}: ${err.message}`);
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}
