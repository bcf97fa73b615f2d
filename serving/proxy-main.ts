/**
 * The proxy's entry point inside a prediction image, bundled to /app/proxy.js by `mlops build`:
 * deploy.target docker runs it as a container of its own on the Docker host, beside the servers it
 * finds by their labels through the engine's socket, so it outlives the job that deployed them;
 * deploy.target swarm runs it so on a manager, where it finds the services' tasks (MLOPS_DISCOVERY=swarm).
 * Configured by the environment the deployer sets; a failure is one JSON line and exit code 1.
 */
import { describeError } from '../src/errors.js';
import { openDocker } from '../src/image/docker.js';
import { createLogger } from '../src/log.js';
import { discoverContainers } from './docker-discovery.js';
import { startProxy } from './proxy.js';
import { discoverTasks } from './swarm-discovery.js';
import { closeOnSignal } from './server.js';

const env = process.env; // the container's, read here only
const logger = createLogger({ format: 'json' });
try {
  const { PORT, MLOPS_PROXY_HOST, MLOPS_PROJECT, MLOPS_DISCOVERY, MLOPS_HEALTH_INTERVAL_SECONDS, MLOPS_UPSTREAM_TIMEOUT_MS } = env;
  if (!MLOPS_PROJECT) throw new Error('MLOPS_PROJECT is not set: the proxy follows the containers of that project');
  const docker = openDocker(env);
  const proxy = await startProxy({
    logger,
    port: Number(PORT ?? 8000),
    host: MLOPS_PROXY_HOST || '127.0.0.1',
    healthIntervalMs: Number(MLOPS_HEALTH_INTERVAL_SECONDS ?? 1) * 1000,
    upstreamTimeoutMs: MLOPS_UPSTREAM_TIMEOUT_MS ? Number(MLOPS_UPSTREAM_TIMEOUT_MS) : undefined,
    discover: (pool, log) =>
      (MLOPS_DISCOVERY === 'swarm' ? discoverTasks : discoverContainers)(pool, { docker, project: MLOPS_PROJECT, logger: log }),
  });
  await closeOnSignal(proxy);
  logger.info('prediction proxy stopped');
} catch (err) {
  logger.error(describeError(err));
  process.exitCode = 1;
}
