import type { Hono } from 'hono';
import type { Logger } from '../../src/log.js';
import type { BackendPool } from '../backends.js';
import type { ProxyMetrics } from '../proxy-metrics.js';
import { scrapeDrift, type DriftPoint } from './drift.js';
import { championImportance } from './importance.js';
import { dashboardRoutes, type ReleaseProvider, type RunsProvider } from './routes.js';
import { DEFAULT_SAMPLING, Sampler, type SamplingOptions } from './sampler.js';
import { readCounters } from './traffic.js';

/** A scrape slower than this is skipped for the interval: the chart shows a gap, the sampler does not fall behind. */
const MAX_SCRAPE_MS = 2000;

/** The proxy's dashboard: its sampler, over the proxy's own counters and its backends' drift, and its routes. */
export function createDashboard(options: {
  pool: BackendPool;
  metrics: ProxyMetrics;
  logger: Logger;
  runs?: RunsProvider;
  release?: ReleaseProvider;
  sampling?: Partial<SamplingOptions>;
}): { routes: Hono; start(): void; close(): void } {
  const { pool, metrics, logger } = options;
  const sampling = { ...DEFAULT_SAMPLING, ...options.sampling };
  const timeoutMs = Math.min(sampling.intervalMs, MAX_SCRAPE_MS);
  const sampler = new Sampler(
    {
      counters: () => readCounters(metrics),
      drift: async () =>
        (await Promise.all(pool.list().map((b) => scrapeDrift(b.id, b.url, timeoutMs)))).filter((d): d is DriftPoint => d !== undefined),
    },
    logger,
    sampling,
  );
  return {
    routes: dashboardRoutes({
      sampler,
      pool,
      runs: options.runs,
      release: options.release,
      importance: championImportance(pool, timeoutMs),
      logger,
    }),
    start: () => sampler.start(),
    close: () => sampler.stop(),
  };
}
