import { randomUUID, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import type { Config } from '../src/config/schema.js';
import type { Logger } from '../src/log.js';
import { transform } from '../src/model/preprocess.js';
import type { Metrics } from './metrics.js';
import type { ModelStore } from './model-store.js';
import { outputJson } from './json-text.js';
import { outlierScores } from './monitor.js';
import type { PredictionLog } from './prediction-log.js';
import { parseRecords, unpredictable } from './validate.js';

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

const problem = (c: Context, status: 400 | 401 | 404 | 413 | 415 | 422 | 503, error: string, extra: object = {}) =>
  c.json({ error, ...extra }, status);

/**
 * Reads the body up to `limit` bytes. Content-Length is checked before reading; a chunked body is
 * counted as it streams and cut off at the limit. (Not hono's bodyLimit: it costs ~4x throughput.)
 */
async function readBody(c: Context, limit: number): Promise<string | undefined> {
  const declared = c.req.header('content-length');
  if (declared !== undefined) return Number(declared) > limit ? undefined : c.req.text();
  const reader = c.req.raw.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const requestId = (header: string | undefined) => (header && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID());

export function createApp(options: AppOptions): Hono {
  const { store, log, metrics, serving, logger } = options;
  const app = new Hono();

  // Requests and latency by route, status and model version, for every route; a failed prediction
  // request is logged too, so the prediction log alone gives the error rate.
  app.use(async (c, next) => {
    const began = performance.now();
    await next();
    if (options.draining()) c.header('connection', 'close');
    const labels = { route: c.req.routePath, status: String(c.res.status), model_version: store.current?.version ?? 'none' };
    const seconds = (performance.now() - began) / 1000;
    metrics.requests.inc(labels);
    metrics.latency.observe(labels, seconds);
    if (c.res.status >= 400 && labels.route === '/predict') {
      const { model_version: modelVersion } = labels;
      const requestId = c.res.headers.get('x-request-id') ?? '';
      log.write({ time: new Date().toISOString(), requestId, modelVersion, latencyMs: seconds * 1000, status: c.res.status });
    }
  });

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
      max_batch: serving.max_batch,
    });
  });

  app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));

  app.post('/predict', async (c) => {
    const began = performance.now();
    const id = requestId(c.req.header('x-request-id'));
    c.header('x-request-id', id);
    if (!(c.req.header('content-type') ?? '').toLowerCase().startsWith('application/json'))
      return problem(c, 415, 'expected Content-Type: application/json');
    const text = await readBody(c, serving.max_body_bytes);
    if (text === undefined) {
      // The rest of the body is never read, so the connection cannot carry another request.
      c.header('connection', 'close');
      return problem(c, 413, `the body is over serving.max_body_bytes (${serving.max_body_bytes} bytes)`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return problem(c, 400, `malformed JSON: ${(err as Error).message}`);
    }
    const model = store.current; // read once: this request finishes on this model even if a swap happens
    if (!model) return problem(c, 503, 'no model loaded yet');
    const { spec } = model.predictor;
    const parsed = parseRecords(spec, body, serving.max_batch);
    if (!parsed.ok) return problem(c, 422, 'invalid input', { fields: parsed.errors });

    const x = transform(spec, parsed.columns, parsed.rows);
    const out = model.predictor.forward(x, parsed.rows);
    const outliers = outlierScores(spec, x, parsed.rows);
    const overflowed = unpredictable(out, outliers, parsed.rows, parsed.batch);
    if (overflowed.length) return problem(c, 422, 'invalid input', { fields: overflowed });
    model.monitor.observe(parsed.columns, parsed.rows, (r) => outliers[r]! > serving.outlier_z);
    const outputs = outputJson(spec.label.classes, out, parsed.rows);
    const perClass = new Map<string, number>();
    let outlierCount = 0;
    for (let r = 0; r < parsed.rows; r++) {
      const label = spec.label.classes ? spec.label.classes[outputs.best[r]!]! : 'value';
      perClass.set(label, (perClass.get(label) ?? 0) + 1);
      if (outliers[r]! > serving.outlier_z) outlierCount++;
    }
    for (const [label, n] of perClass) metrics.predictions.inc({ class: label, model_version: model.version }, n);
    if (outlierCount) metrics.outliers.inc({ model_version: model.version }, outlierCount);
    const predictions = `[${outputs.json.join(',')}]`;
    log.write({
      time: new Date().toISOString(),
      requestId: id,
      modelVersion: model.version,
      latencyMs: performance.now() - began,
      body: text,
      batch: parsed.batch,
      fields: spec.features.length,
      predictions,
      rows: parsed.rows,
      outlierScores: outliers,
    });
    const tail = `"model_version":${JSON.stringify(model.version)},"request_id":"${id}"}`;
    const json = parsed.batch ? `{"predictions":${predictions},${tail}` : `${outputs.json[0]!.slice(0, -1)},${tail}`;
    return c.body(json, 200, { 'content-type': 'application/json' });
  });

  app.post('/admin/reload', async (c) => {
    if (!options.adminToken) return problem(c, 404, 'admin routes are off: set MLOPS_ADMIN_TOKEN to turn them on');
    const given = Buffer.from(c.req.header('authorization')?.replace(/^Bearer /i, '') ?? '');
    const expected = Buffer.from(options.adminToken);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return problem(c, 401, 'a valid bearer token is required');
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
