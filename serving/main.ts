/**
 * The prediction image's entry point, bundled to /app/server.js by `mlops build`: serves the model
 * baked into /app/model as its spec says (serving-spec.ts). The deploy side hands the spec in
 * MLOPS_SERVER_SPEC; without one, the image's own /app/serving.json is the spec, on PORT when set
 * (`docker run -e PORT=...`). A swarm task adds its slot less one to the port (tasks share the
 * host's network). Logs are JSON lines on stderr; a failure (a bad spec too) is one line and exit
 * code 1, no stack.
 */
import { readFile } from 'node:fs/promises';
import { configError, describeError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { preferredBackend } from '../src/model/backend.js';
import { registerSecret } from '../src/secrets.js';
import { parseSpec, SERVER_SPEC_VARIABLE, serverSpec } from '../src/serving-spec.js';
import { closeOnSignal, slotOffset, serverOptions, startServer } from './server.js';

const app = new URL('./', import.meta.url).pathname;
const env = process.env; // the container's, read here only
const logger = createLogger({ format: 'json' });
try {
  const handed = env[SERVER_SPEC_VARIABLE];
  const spec = handed
    ? parseSpec(serverSpec, handed, SERVER_SPEC_VARIABLE)
    : parseSpec(serverSpec, await readFile(`${app}serving.json`, 'utf8'), `${app}serving.json`);
  if (!handed && env.PORT) {
    spec.port = Number(env.PORT);
    if (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535)
      throw configError(`PORT is ${JSON.stringify(env.PORT)}: expected a port, 0 to 65535`, 'set PORT to the port to listen on');
  }
  const adminToken = env.MLOPS_ADMIN_TOKEN || undefined;
  if (adminToken) registerSecret(adminToken);
  const server = await startServer({ ...serverOptions(spec, slotOffset(env)), logger, adminToken, backend: preferredBackend(env) });
  await closeOnSignal(server);
  logger.info('prediction server stopped');
} catch (err) {
  logger.error(describeError(err));
  process.exitCode = 1;
}
