import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createContext, type StepContext } from '../../src/context.js';
import { memoryLogger } from '../../src/log.js';
import { runPipeline, type PipelineResult } from '../../src/pipeline.js';
import { silentProgress } from '../../src/progress.js';

/** The shipped config with its registry, work folder and prediction log moved under `root`. */
export async function isolatedConfig(root: string): Promise<Config> {
  const config = structuredClone((await loadConfig('mlops.config.yaml')).config);
  config.registry.path = join(root, 'registry');
  config.workdir = join(root, 'work');
  config.serving.log.path = join(root, 'predictions', 'predictions.jsonl');
  return config;
}

/** Runs the whole pipeline on the sample data: a trained, registered champion to serve. */
export async function trainedRun(config: Config, runId: string, seed?: number): Promise<{ ctx: StepContext; result: PipelineResult }> {
  const c = structuredClone(config);
  if (seed !== undefined) c.model.seed = seed;
  const ctx = createContext(
    { config: c, file: join(process.cwd(), 'mlops.config.yaml'), dir: process.cwd() },
    { runId, log: memoryLogger(), progress: silentProgress },
  );
  return { ctx, result: await runPipeline(ctx) };
}
