import { serve, type ServerType } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Config } from '../src/config/schema.js';
import { MlopsError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { selectBackend, type BackendName } from '../src/model/backend.js';
import { createApp } from './app.js';
import { closable } from './closable.js';
import { createMetrics } from './metrics.js';
import { ModelStore, type ModelSource } from './model-store.js';
import { PredictionLog } from './prediction-log.js';
import type { ServerSpec } from '../src/serving-spec.js';

export interface ServerOptions {
  serving: Config['serving'];
  /** What relative paths in `serving` (the prediction log) are relative to. */
  configDir: string;
  source: ModelSource;
  logger: Logger;
  port?: number;
  /** The address to listen on: 127.0.0.1 unless it must be reached from other hosts (a swarm task). */
  host?: string;
  /** model-load mode: poll the source for new versions. */
  poll?: boolean;
  adminToken?: string;
  /** The TensorFlow.js backend to force (MLOPS_TF_BACKEND); the fastest that loads by default. */
  backend?: BackendName;
}

export interface RunningServer {
  url: string;
  store: ModelStore;
  log: PredictionLog;
  /** Drains for `serving.shutdown_grace_seconds`, stops accepting, lets in-flight requests finish, flushes the prediction log. */
  close(): Promise<void>;
}

/** Starts the prediction server (on 127.0.0.1 by default) with a loaded, warmed model. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { serving, logger } = options;
  await selectBackend(options.backend);
  const log = new PredictionLog({
    path: resolve(options.configDir, serving.log.path),
    maxBytes: serving.log.max_bytes,
    maxFiles: serving.log.max_files,
    capacity: serving.log.queue,
    redact: serving.log.redact,
    onError: (message) => logger.error(message),
  });
  const store: ModelStore = new ModelStore(options.source, {
    driftWindow: serving.drift_window,
    log: logger,
    onFailure: () => metrics.loadFailures.inc(),
  });
  const metrics = createMetrics(store, log);
  const first = await store.check();
  // A fixed model (model-in-image) that fails to load never will: exit, so a deployer sees it at once.
  if (!options.poll && first.error) {
    await log.close();
    throw new MlopsError('quality', first.error);
  }
  if (options.poll) store.poll(serving.poll_seconds);
  let draining = false;
  const app = createApp({ store, log, metrics, serving, logger, adminToken: options.adminToken, draining: () => draining });
  let closeServer!: () => Promise<void>;
  const server = await new Promise<ServerType>((ready) => {
    const s = serve({ fetch: app.fetch, hostname: options.host ?? '127.0.0.1', port: options.port ?? serving.port }, () => ready(s));
    closeServer = closable(s as Server);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  logger.info(`prediction server on ${url} (${store.current ? `model ${store.current.version}` : 'no model yet'})`);
  return {
    url,
    store,
    log,
    async close() {
      store.stop();
      // Lame duck first: requests already on their way (e.g. on kept-alive connections) still land.
      draining = true;
      await new Promise((r) => setTimeout(r, serving.shutdown_grace_seconds * 1000));
      await closeServer();
      await log.close();
    },
  };
}

/**
 * What a server started from its spec is: the model folder served as is (model-in-image), on the
 * spec's port plus `offset` (a swarm task's), with a relative prediction log path under the working folder.
 */
export const serverOptions = (spec: ServerSpec, offset = 0): Pick<ServerOptions, 'serving' | 'configDir' | 'port' | 'host' | 'source'> => ({
  serving: spec.serving,
  configDir: process.cwd(),
  port: spec.port + offset,
  host: spec.host,
  source: { kind: 'dir', dir: spec.model_dir },
});

/** Resolves once SIGTERM (or SIGINT) has closed the server (or proxy): stop accepting, finish in-flight requests, flush the log. */
export function closeOnSignal(server: Pick<RunningServer, 'close'>): Promise<void> {
  return new Promise<void>((done) => {
    const stop = () => void server.close().then(done);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

/**
 * A deploy.target swarm task's port is PORT plus its slot less one (MLOPS_TASK_SLOT, from Swarm's
 * `{{.Task.Slot}}`): tasks run on the host's network, so the tasks of one version that share a node
 * need ports of their own. The image's health check shifts its port the same way.
 */
export const slotOffset = (env: NodeJS.ProcessEnv): number => (env.MLOPS_TASK_SLOT ? Number(env.MLOPS_TASK_SLOT) - 1 : 0);
