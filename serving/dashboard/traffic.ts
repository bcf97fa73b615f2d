import type { ProxyMetrics } from '../proxy-metrics.js';

/**
 * Traffic over time from the proxy's own Prometheus counters: read every few seconds and
 * differenced, so the dashboard adds no work to a forwarded request.
 */

/** The cumulative counts of one backend serving one model version, as the proxy's metrics hold them. */
export interface Counters {
  backend: string;
  version: string;
  requests: number;
  /** Answers with a 5xx status, including the proxy's own 502 and 503. */
  errors: number;
  /** Upstream latency observations at or below each bucket bound (cumulative, as Prometheus keeps them). */
  buckets: number[];
  latencyCount: number;
}

export interface CounterSnapshot {
  /** Milliseconds since the epoch. */
  at: number;
  /** Bucket upper bounds in seconds, ascending, without +Inf. */
  bounds: number[];
  counters: Map<string, Counters>;
}

/** One backend and version over one sampling interval. Null where nothing happened to measure. */
export interface TrafficPoint {
  backend: string;
  version: string;
  /** Requests per second. */
  rps: number;
  /** Share of answers with a 5xx status. */
  errorRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

const key = (backend: string, version: string) => `${backend}\u0000${version}`;

/** The proxy's request and latency counters now. */
export async function readCounters(metrics: ProxyMetrics, at = Date.now()): Promise<CounterSnapshot> {
  const counters = new Map<string, Counters>();
  const entry = (labels: Record<string, string | number | undefined>) => {
    const backend = String(labels.backend);
    const version = String(labels.model_version);
    const k = key(backend, version);
    let c = counters.get(k);
    if (!c) counters.set(k, (c = { backend, version, requests: 0, errors: 0, buckets: [], latencyCount: 0 }));
    return c;
  };
  for (const { labels, value } of (await metrics.requests.get()).values) {
    const c = entry(labels);
    c.requests += value;
    if (Number(labels.status) >= 500) c.errors += value;
  }
  const bounds: number[] = [];
  for (const { labels, value, metricName } of (await metrics.upstreamLatency.get()).values) {
    if (!metricName?.endsWith('_bucket')) continue;
    const c = entry(labels);
    // prom-client's types leave out the bucket's own label.
    const { le } = labels as { le?: string | number };
    if (le === '+Inf') {
      c.latencyCount = value;
      continue;
    }
    let i = bounds.indexOf(Number(le));
    if (i === -1) i = bounds.push(Number(le)) - 1;
    c.buckets[i] = value;
  }
  return { at, bounds, counters };
}

/**
 * A quantile from histogram bucket counts, interpolated linearly within its bucket as Prometheus's
 * histogram_quantile does. Past the last bound the last bound is the answer: the histogram knows no more.
 */
export function quantile(bounds: number[], cumulative: number[], count: number, q: number): number | null {
  if (count <= 0) return null;
  const rank = q * count;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const atOrBelow = cumulative[i] ?? below;
    if (atOrBelow >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const inBucket = atOrBelow - below;
      return inBucket === 0 ? lower : lower + (bounds[i]! - lower) * ((rank - below) / inBucket);
    }
    below = atOrBelow;
  }
  return bounds.at(-1) ?? null;
}

/**
 * What changed between two snapshots, per backend and version: request rate, error rate and latency
 * percentiles over just that interval. Pairs that served nothing in it are left out.
 */
export function trafficBetween(before: CounterSnapshot, after: CounterSnapshot): TrafficPoint[] {
  const seconds = (after.at - before.at) / 1000;
  if (seconds <= 0) return [];
  const points: TrafficPoint[] = [];
  for (const [k, now] of after.counters) {
    const then = before.counters.get(k);
    const requests = now.requests - (then?.requests ?? 0);
    if (requests <= 0) continue;
    const latencyCount = now.latencyCount - (then?.latencyCount ?? 0);
    const buckets = after.bounds.map((bound, i) => (now.buckets[i] ?? 0) - (then?.buckets[before.bounds.indexOf(bound)] ?? 0));
    const ms = (q: number) => {
      const s = quantile(after.bounds, buckets, latencyCount, q);
      return s === null ? null : s * 1000;
    };
    points.push({
      backend: now.backend,
      version: now.version,
      rps: requests / seconds,
      errorRate: (now.errors - (then?.errors ?? 0)) / requests,
      p50Ms: ms(0.5),
      p95Ms: ms(0.95),
    });
  }
  return points;
}
