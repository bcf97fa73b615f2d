import { getRequestListener } from '@hono/node-server';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type Docker from 'dockerode';
import { servingKeys } from '../src/config/schema.js';
import { configError } from '../src/errors.js';
import type { ProxySpec } from '../src/serving-spec.js';
import type { Logger } from '../src/log.js';
import { adminAuth } from './admin-auth.js';
import { BackendPool } from './backends.js';
import { closable } from './closable.js';
import { discoveries } from './discoveries.js';
import { createDashboard } from './dashboard/dashboard.js';
import type { RunsProvider } from './dashboard/routes.js';
import type { SamplingOptions } from './dashboard/sampler.js';
import { createForwarder } from './forward.js';
import { createProxyMetrics } from './proxy-metrics.js';
import { Release } from './release.js';

export interface ProxyOptions {
  logger: Logger;
  /** Bearer token for PUT and DELETE /backends/:id; without one, registration is off (404). */
  adminToken?: string;
  /** How often each backend's /ready is checked. */
  healthIntervalMs?: number;
  /** How long a client waits at most for a backend's answer, a retry included (10 s by default). */
  upstreamTimeoutMs?: number;
  /** Also follow the servers an engine runs: one of discoveries.ts. */
  discover?: (pool: BackendPool, logger: Logger) => { close(): void };
  /** Larger request bodies are refused with 413: the proxy buffers them, to send one again (serving.max_body_bytes). */
  maxBodyBytes?: number;
  /** The recent runs and gate decisions for /dashboard; without a run ledger the page says so. */
  runs?: RunsProvider;
  /** How often /dashboard samples traffic and drift, and how much history it keeps (5 s, 1 h by default). */
  dashboard?: Partial<SamplingOptions>;
}

/** The servers' own default limit (serving.max_body_bytes), for a proxy started without a spec. */
const DEFAULT_MAX_BODY_BYTES = servingKeys.shape.max_body_bytes.parse(undefined);

const problem = (c: Context, status: 400 | 404 | 409 | 503, error: string) => c.json({ error }, status);

const ID = /^[\w.-]{1,128}$/;
/** The paths of the proxy's own routes below; any other request is a backend's. */
const OWN_PATHS = /^\/(health|ready|metrics|backends|release|dashboard)(\/|\?|$)/;
// Only servers on this machine: a proxy that forwards anywhere it is told would be an open relay.
const LOOPBACK = /^https?:\/\/(127\.0\.0\.1|localhost):(\d{1,5})\/?$/;
const WEIGHT = 'expected a whole number >= 0';
const VERSION = 'expected the model version it serves, e.g. "v3"';
const registration = z.strictObject({
  url: z
    .string({ error: 'expected a string' })
    .refine((url) => {
      const port = Number(LOOPBACK.exec(url)?.[2]);
      return port >= 1 && port <= 65535;
    }, 'expected http(s)://127.0.0.1:<port> or http(s)://localhost:<port>')
    .transform((url) => url.replace(/\/$/, '')),
  version: z.string({ error: VERSION }).min(1, VERSION),
  weight: z.number({ error: WEIGHT }).int(WEIGHT).min(0, WEIGHT).default(1),
});
const SHARE = 'expected a number in (0, 1]';
const staging = z.strictObject({
  mode: z.enum(['shadow', 'canary'], { error: 'expected "shadow" or "canary"' }),
  url: registration.shape.url,
  share: z.number({ error: SHARE }).gt(0, SHARE).max(1, SHARE),
});

/** The body's JSON checked against `schema`, or the 400 that says what is wrong with it. */
async function parseBody<T>(c: Context, schema: z.ZodType<T>, what: string): Promise<{ data: T } | { problem: Response }> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch (err) {
    return { problem: problem(c, 400, `malformed JSON: ${(err as Error).message}`) };
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return { data: parsed.data };
  const fields = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
  return { problem: problem(c, 400, `invalid ${what}: ${fields.join('; ')}`) };
}

/** The proxy's routes, its backend pool (health checks running) and, when asked, Docker discovery. */
export function createProxy(options: ProxyOptions): {
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  pool: BackendPool;
  close(drained?: () => Promise<void>): Promise<void>;
} {
  const { logger } = options;
  const pool = new BackendPool({ logger, healthIntervalMs: options.healthIntervalMs ?? 1000 });
  const metrics = createProxyMetrics(pool);
  // A staged release: the new server is held out of rotation, and gets a shadow's copies or a canary's share.
  let release: Release | undefined;
  const dashboard = createDashboard({
    pool,
    metrics,
    logger,
    runs: options.runs,
    release: () => release?.report(),
    sampling: options.dashboard,
  });
  const app = new Hono();

  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', (c) => {
    const routable = pool.routable();
    return routable ? c.json({ status: 'ready', backends: routable }) : problem(c, 503, 'no healthy prediction server');
  });
  app.get('/backends', (c) => c.json(pool.list()));
  app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  app.route('/', dashboard.routes);

  const admin = adminAuth(options.adminToken, 'registration is off: set MLOPS_ADMIN_TOKEN to turn it on');
  // Discovery owns the backends it found: their labels decide, and it would undo a change made here.
  const discovered = (c: Context, id: string) => {
    const source = pool.get(id)?.source;
    return source && source !== 'registered'
      ? problem(c, 409, `backend ${id} was found by ${source} discovery: change its labels or stop it instead`)
      : undefined;
  };
  app.put('/backends/:id', admin, async (c) => {
    const id = c.req.param('id');
    if (!ID.test(id)) return problem(c, 400, 'id: expected 1 to 128 letters, digits, ".", "_" or "-"');
    const conflict = discovered(c, id);
    if (conflict) return conflict;
    const parsed = await parseBody(c, registration, 'backend');
    if ('problem' in parsed) return parsed.problem;
    const { backend, created } = await pool.set(id, { ...parsed.data, source: 'registered' });
    return c.json(backend, created ? 201 : 200);
  });
  app.delete('/backends/:id', admin, (c) => {
    const id = c.req.param('id');
    const conflict = discovered(c, id);
    if (conflict) return conflict;
    return pool.remove(id) ? c.body(null, 204) : problem(c, 404, `no backend ${id}`);
  });

  const noRelease = (c: Context) => problem(c, 404, 'no shadow or canary release is in progress');
  app.get('/release', (c) => (release ? c.json(release.report()) : noRelease(c)));
  app.put('/release', admin, async (c) => {
    const parsed = await parseBody(c, staging, 'release');
    if ('problem' in parsed) return parsed.problem;
    release = new Release(parsed.data);
    pool.hold(parsed.data.url);
    logger.info(`${parsed.data.mode} release of ${parsed.data.url}: share ${parsed.data.share}`);
    return c.json(release.report());
  });
  app.delete('/release', admin, (c) => {
    if (!release) return noRelease(c);
    const ended = release.report();
    release = undefined;
    pool.hold(undefined);
    logger.info(`${ended.mode} release of ${ended.candidate_url} ended`);
    return c.json(ended);
  });

  app.onError((err, c) => {
    logger.error(`internal error on ${c.req.method} ${c.req.path}: ${err.message}`);
    return c.json({ error: 'internal error' }, 500);
  });
  const routes = getRequestListener(app.fetch);
  const forwarder = createForwarder(pool, metrics, {
    timeoutMs: options.upstreamTimeoutMs ?? 10_000,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    release: () => release,
  });
  /** The proxy's own paths go to its routes; every other request is forwarded, on node:http's own objects (the hot path). */
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (OWN_PATHS.test(req.url ?? '/')) return void routes(req, res);
    forwarder.forward(req, res).catch((err: unknown) => {
      logger.error(`internal error on ${req.method} ${req.url}: ${(err as Error).message}`);
      if (res.headersSent) res.destroy();
      else res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'internal error' }));
    });
  };

  pool.start();
  dashboard.start();
  const discovery = options.discover?.(pool, logger);
  return {
    listener,
    pool,
    /** Stops the checks, discovery and the dashboard's streams; once `drained` (requests in flight answered), drops the upstream connections. */
    async close(drained = async () => {}) {
      pool.stop();
      dashboard.close();
      discovery?.close();
      await drained();
      forwarder.close();
    },
  };
}

/**
 * What a proxy started from its spec is: its address, health checks, limits, and the discovery the
 * spec names, following the engine `docker` opens.
 */
export function proxyOptions(spec: ProxySpec, docker: () => Docker): Omit<ProxyOptions, 'logger'> & { port: number; host: string } {
  const { discovery } = spec;
  return {
    port: spec.port,
    host: spec.host,
    healthIntervalMs: spec.health_interval_seconds * 1000,
    upstreamTimeoutMs: spec.upstream_timeout_ms,
    maxBodyBytes: spec.max_body_bytes,
    discover: discovery && ((pool, logger) => discoveries[discovery.name](pool, { docker: docker(), project: discovery.project, logger })),
  };
}

/** Starts the proxy on `host` (127.0.0.1 unless told otherwise). */
export async function startProxy(
  options: ProxyOptions & { port: number; host?: string },
): Promise<{ url: string; pool: BackendPool; close(): Promise<void> }> {
  const proxy = createProxy(options);
  const server = createServer(proxy.listener);
  const host = options.host ?? '127.0.0.1';
  // Node's 5 s idle timeout races clients that reuse a connection just as it expires ("other side
  // closed"); an edge keeps idle connections open longer than its clients do, as load balancers do.
  server.keepAliveTimeout = 65_000;
  const closeServer = closable(server);
  try {
    await new Promise<void>((listening, failed) => {
      server.once('error', failed);
      server.listen(options.port, host, () => {
        server.off('error', failed);
        listening();
      });
    });
  } catch (err) {
    await proxy.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw configError(`port ${options.port} on ${host} is taken`, 'set deploy.proxy.port to a free port, or stop what holds it');
    throw err;
  }
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  options.logger.info(`prediction proxy on ${url}`);
  return {
    url,
    pool: proxy.pool,
    async close() {
      await proxy.close(closeServer);
    },
  };
}
