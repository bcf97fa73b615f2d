import type Docker from 'dockerode';
import { engineError } from '../src/image/docker.js';
import type { Logger } from '../src/log.js';

/**
 * A discovery's view of the engine's availability: an engine that does not answer is logged once
 * per outage (the backends already known keep serving), and its return once.
 */
export function engineOutage(docker: Docker, logger: Logger, signal: AbortSignal, what: string) {
  let down = false;
  return {
    failed(err: unknown, doing: string): void {
      if (down || signal.aborted) return;
      down = true;
      const e = engineError(docker, err, doing);
      logger.error(`${what} paused: ${e.message}${e.hint ? ` (${e.hint})` : ''}; serving the backends already known`);
    },
    answered(): void {
      if (down) logger.info(`${what} resumed: the engine answers again`);
      down = false;
    },
  };
}
