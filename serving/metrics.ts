import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ModelStore } from './model-store.js';
import type { PredictionLog } from './prediction-log.js';

/** Latency histogram bounds in seconds, the same for server and proxy so their figures compare. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** The server's Prometheus metrics. Drift, outlier rate and queue depth are read when scraped. */
export function createMetrics(store: ModelStore, log: PredictionLog) {
  const registry = new Registry();
  const model = () => store.current?.version ?? 'none';
  const metrics = {
    registry,
    requests: new Counter({
      name: 'mlops_http_requests_total',
      help: 'HTTP requests by route, status and model version',
      labelNames: ['route', 'status', 'model_version'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'mlops_http_request_duration_seconds',
      help: 'HTTP request latency by route, status and model version',
      labelNames: ['route', 'status', 'model_version'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    predictions: new Counter({
      name: 'mlops_predictions_total',
      help: 'Predictions by predicted class (or "value" for regression) and model version',
      labelNames: ['class', 'model_version'],
      registers: [registry],
    }),
    outliers: new Counter({
      name: 'mlops_outlier_records_total',
      help: 'Records with a numeric feature beyond serving.outlier_z standard deviations',
      labelNames: ['model_version'],
      registers: [registry],
    }),
    loadFailures: new Counter({
      name: 'mlops_model_load_failures_total',
      help: 'Model versions that failed to load (the previous model kept serving)',
      registers: [registry],
    }),
  };
  new Gauge({
    name: 'mlops_feature_psi',
    help: 'Population stability index of each feature over the drift window, against the training reference',
    labelNames: ['feature', 'model_version'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [feature, psi] of Object.entries(store.current?.monitor.psi() ?? {})) this.set({ feature, model_version: model() }, psi);
    },
  });
  new Gauge({
    name: 'mlops_outlier_rate',
    help: 'Share of outlier records over the drift window',
    labelNames: ['model_version'],
    registers: [registry],
    collect() {
      this.reset();
      if (store.current) this.set({ model_version: model() }, store.current.monitor.outlierRate());
    },
  });
  new Counter({
    name: 'mlops_prediction_log_written_total',
    help: 'Predictions written to the prediction log',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(log.written);
    },
  });
  new Counter({
    name: 'mlops_prediction_log_dropped_total',
    help: 'Predictions not logged because the log fell behind or could not be written',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(log.dropped);
    },
  });
  new Gauge({
    name: 'mlops_prediction_log_queue_depth',
    help: 'Predictions waiting to be written to the prediction log',
    registers: [registry],
    collect() {
      this.set(log.depth);
    },
  });
  new Gauge({
    name: 'mlops_model_info',
    help: 'The model version being served (value 1)',
    labelNames: ['model_version', 'engine'],
    registers: [registry],
    collect() {
      this.reset();
      if (store.current) this.set({ model_version: model(), engine: store.current.predictor.engine }, 1);
    },
  });
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
