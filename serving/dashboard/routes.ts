import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { streamSSE } from 'hono/streaming';
import { describeError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { RunDigest } from '../../src/runs/recent.js';
import type { ReleaseComparison } from '../../src/step-outputs.js';
import type { BackendPool, BackendView } from '../backends.js';
import { dashboardAssets } from './assets.js';
import type { ChampionImportance } from './importance.js';
import type { Sample, Sampler } from './sampler.js';

/** The recent runs with their gate decisions; the proxy has one where it can read the run ledger. */
export type RunsProvider = () => Promise<RunDigest[]>;

export type RunsView = { available: true; runs: RunDigest[] } | { available: false; reason: string };

/** GET /dashboard/data, and the first event of /dashboard/events. */
export interface DashboardSnapshot {
  intervalMs: number;
  historyMs: number;
  backends: BackendView[];
  samples: Sample[];
  runs: RunsView;
  /** The shadow or canary stage in progress, as measured so far; null when none runs. */
  release: ReleaseComparison | null;
  /** What the champion relies on (permutation importance from its model card); null when unknown. */
  importance: ChampionImportance | null;
}

/** Each later event of /dashboard/events. */
export type DashboardUpdate = Pick<DashboardSnapshot, 'backends' | 'runs' | 'release' | 'importance'> & { sample: Sample };

/** The staged release the proxy runs, if any. */
export type ReleaseProvider = () => ReleaseComparison | undefined;

/** Open event streams are bounded: each holds a connection and a subscription. */
export const MAX_EVENT_STREAMS = 32;

const NO_LEDGER: RunsView = {
  available: false,
  reason:
    'this proxy has no run ledger to read (it runs apart from the pipeline work folder, e.g. in a container); see `mlops status` where the pipeline runs',
};

/** The runs, read at most once per sampling interval however many pages are open. */
function cachedRuns(provider: RunsProvider | undefined, ttlMs: number, logger: Logger): () => Promise<RunsView> {
  if (!provider) return async () => NO_LEDGER;
  let cached: { at: number; view: Promise<RunsView> } | undefined;
  const read = async (): Promise<RunsView> => {
    try {
      return { available: true, runs: await provider() };
    } catch (err) {
      logger.warn(`dashboard: could not read the run ledger: ${describeError(err)}`);
      return { available: false, reason: 'the run ledger could not be read: see the proxy log' };
    }
  };
  return () => {
    if (!cached || Date.now() - cached.at >= ttlMs) cached = { at: Date.now(), view: read() };
    return cached.view;
  };
}

// Read-only and same-origin: scripts, styles and data from this proxy alone, never framed.
const headers = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    connectSrc: ["'self'"],
    imgSrc: ["'self'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
  },
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
});

const files = new Map(
  Object.entries(dashboardAssets).map(([name, { type, body }]) => [
    name,
    { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` },
  ]),
);

/**
 * The dashboard: the page and its assets (embedded, so a bundled proxy carries them), a JSON
 * snapshot of the history at /dashboard/data and every new sample as it is taken at /dashboard/events.
 */
export function dashboardRoutes(options: {
  sampler: Sampler;
  pool: BackendPool;
  runs?: RunsProvider;
  release?: ReleaseProvider;
  importance?: () => Promise<ChampionImportance | null>;
  logger: Logger;
}): Hono {
  const { sampler, pool } = options;
  const importance = () => options.importance?.() ?? Promise.resolve(null);
  const runs = cachedRuns(options.runs, sampler.options.intervalMs, options.logger);
  const release = () => options.release?.() ?? null;
  const snapshot = async (): Promise<DashboardSnapshot> => ({
    ...sampler.options,
    backends: pool.list(),
    samples: sampler.samples(),
    runs: await runs(),
    release: release(),
    importance: await importance(),
  });
  let streams = 0;

  const app = new Hono().basePath('/dashboard');
  app.use('*', headers);

  for (const [name, file] of files) {
    app.get(name === 'page.html' ? '/' : `/${name}`, (c) => {
      c.header('etag', file.etag);
      // Revalidated on each load (304 when unchanged), so a page never outlives the proxy version that served it.
      c.header('cache-control', 'no-cache');
      if (c.req.header('if-none-match') === file.etag) return c.body(null, 304);
      return c.body(file.body, 200, { 'content-type': file.type });
    });
  }

  app.get('/data', async (c) => c.json(await snapshot(), 200, { 'cache-control': 'no-store' }));

  app.get('/events', (c) => {
    if (streams >= MAX_EVENT_STREAMS)
      return c.json({ error: `${MAX_EVENT_STREAMS} dashboards are open already: close one, or poll /dashboard/data` }, 503);
    streams++;
    const res = streamSSE(c, async (stream) => {
      try {
        await stream.writeSSE({ event: 'snapshot', data: JSON.stringify(await snapshot()) });
        if (stream.aborted) return;
        let writing = false;
        await new Promise<void>((closed) => {
          const unsubscribe = sampler.subscribe((sample) => {
            // A client that has not taken the last update misses this one rather than queueing them.
            if (writing) return;
            writing = true;
            void Promise.all([runs(), importance()])
              .then(([r, i]) => {
                const update: DashboardUpdate = { sample, backends: pool.list(), runs: r, release: release(), importance: i };
                return stream.writeSSE({ event: 'sample', data: JSON.stringify(update) });
              })
              .finally(() => (writing = false));
          }, closed);
          stream.onAbort(() => {
            unsubscribe();
            closed();
          });
        });
      } finally {
        streams--;
      }
    });
    // Its connection ends with the stream, so a closing proxy is not kept open by a page that would reconnect on it.
    res.headers.set('connection', 'close');
    return res;
  });

  // Anything else under /dashboard is the dashboard's to refuse, never forwarded to a prediction server.
  app.all('/*', (c) => c.json({ error: `no ${c.req.path}: the dashboard is at /dashboard` }, 404));
  return app;
}
