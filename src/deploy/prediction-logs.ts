import type { StepContext } from '../context.js';
import type { PredictionLogSource } from './fleet.js';
import { openFleet } from './targets.js';

export type { PredictionLogSource };

/**
 * The prediction logs of every server the project has run on deploy.target, running, stopped or
 * removed, last written at `since` or later: files for processes; for containers, a Docker volume
 * read through the engine, so a remote DOCKER_HOST works too.
 */
export async function predictionLogs(ctx: StepContext, since?: string): Promise<PredictionLogSource[]> {
  return (await openFleet(ctx)).predictionLogs(since);
}
