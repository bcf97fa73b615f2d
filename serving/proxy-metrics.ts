import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BackendPool } from './backends.js';
import { LATENCY_BUCKETS } from './metrics.js';

/** The proxy's Prometheus metrics. Backend health is read from the pool when scraped. */
export function createProxyMetrics(pool: BackendPool) {
  const registry = new Registry();
  const metrics = {
    registry,
    requests: new Counter({
      name: 'mlops_proxy_requests_total',
      help: 'Forwarded requests by the backend that answered ("none" when none could), its model version and the status',
      labelNames: ['backend', 'model_version', 'status'],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'mlops_proxy_retries_total',
      help: 'Requests retried on another backend, by the backend that failed and why (unreachable, 503 or timeout)',
      labelNames: ['backend', 'reason'],
      registers: [registry],
    }),
    upstreamLatency: new Histogram({
      name: 'mlops_proxy_upstream_duration_seconds',
      help: 'Time for a backend to answer a forwarded request, by backend and model version',
      labelNames: ['backend', 'model_version'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
  new Gauge({
    name: 'mlops_proxy_healthy_backends',
    help: 'Backends passing their health check',
    registers: [registry],
    collect() {
      this.set(pool.list().filter((b) => b.healthy).length);
    },
  });
  new Gauge({
    name: 'mlops_proxy_backend_up',
    help: 'Each backend: 1 while healthy, 0 while out of rotation',
    labelNames: ['backend', 'model_version', 'source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const b of pool.list()) this.set({ backend: b.id, model_version: b.version, source: b.source }, b.healthy ? 1 : 0);
    },
  });
  return metrics;
}

export type ProxyMetrics = ReturnType<typeof createProxyMetrics>;
