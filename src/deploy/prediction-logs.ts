import type { StepContext } from '../context.js';
import { openFleet } from './rollout.js';

/** One deployed server's prediction log. */
export interface PredictionLogSource {
  server: string;
  version: string;
  /** Its lines, oldest first, across rotated files. */
  lines(): AsyncIterable<string>;
}

/**
 * The prediction logs of the project's servers on deploy.target, running or stopped: files for
 * processes; for containers, read through the engine, so a remote DOCKER_HOST works too.
 */
export async function predictionLogs(ctx: StepContext): Promise<PredictionLogSource[]> {
  const fleet = await openFleet(ctx);
  return (await fleet.list()).map((s) => ({ server: s.id, version: s.version, lines: () => fleet.predictionLog(s) }));
}
