/**
 * The proxy's entry point inside a prediction image, bundled to /app/proxy.js by `mlops build`:
 * deploy.target docker runs it as a container of its own on the Docker host, beside the servers it
 * finds by their labels through the engine's socket, so it outlives the job that deployed them;
 * deploy.target swarm runs it so on a manager, where it finds the services' tasks. It runs as its
 * spec says (serving-spec.ts), which the deployer hands it in MLOPS_PROXY_SPEC; a failure (a bad
 * spec too) is one JSON line and exit code 1.
 */
import { configError, describeError } from '../src/errors.js';
import { openDocker } from '../src/image/docker.js';
import { createLogger } from '../src/log.js';
import { parseSpec, PROXY_SPEC_VARIABLE, proxySpec } from '../src/serving-spec.js';
import { proxyOptions, startProxy } from './proxy.js';
import { closeOnSignal } from './server.js';

const env = process.env; // the container's, read here only
const logger = createLogger({ format: 'json' });
try {
  const handed = env[PROXY_SPEC_VARIABLE];
  if (!handed)
    throw configError(`${PROXY_SPEC_VARIABLE} is not set: the proxy runs as its spec says`, 'deploy again: the deployer sets it');
  const proxy = await startProxy({ ...proxyOptions(parseSpec(proxySpec, handed, PROXY_SPEC_VARIABLE), () => openDocker(env)), logger });
  await closeOnSignal(proxy);
  logger.info('prediction proxy stopped');
} catch (err) {
  logger.error(describeError(err));
  process.exitCode = 1;
}
