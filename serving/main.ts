/**
 * The prediction image's entry point, bundled to /app/server.js by `mlops build`: serves the model
 * baked into /app/model with the serving config the image was built with (/app/serving.json), on
 * PORT when set (plus its task slot less one, as a deploy.target swarm task: tasks share the host's
 * network), on MLOPS_HOST when set (a swarm task's proxy is on another host), with its prediction
 * log at MLOPS_PREDICTION_LOG when set (deploy.target docker and swarm give each server a file of
 * its own on the project's volume). Logs are JSON lines on stderr; a
 * failure is one line and exit code 1, no stack.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '../src/config/schema.js';
import { describeError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { preferredBackend } from '../src/model/backend.js';
import { registerSecret } from '../src/secrets.js';
import { closeOnSignal, slotOffset, startServer } from './server.js';

const app = new URL('./', import.meta.url).pathname;
const env = process.env; // the container's, read here only
const logger = createLogger({ format: 'json' });
try {
  const { serving } = JSON.parse(await readFile(`${app}serving.json`, 'utf8')) as { serving: Config['serving'] };
  if (env.MLOPS_PREDICTION_LOG) serving.log.path = env.MLOPS_PREDICTION_LOG;
  const adminToken = env.MLOPS_ADMIN_TOKEN || undefined;
  if (adminToken) registerSecret(adminToken);
  const server = await startServer({
    serving,
    configDir: process.cwd(), // the image's working directory, writable by its user: the prediction log goes there
    logger,
    port: (env.PORT ? Number(env.PORT) : serving.port) + slotOffset(env),
    host: env.MLOPS_HOST || undefined,
    adminToken,
    backend: preferredBackend(env),
    source: { kind: 'dir', dir: `${app}model` },
  });
  await closeOnSignal(server);
  logger.info('prediction server stopped');
} catch (err) {
  logger.error(describeError(err));
  process.exitCode = 1;
}
