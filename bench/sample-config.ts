import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';

/**
 * The shipped config for a benchmark that runs its servers itself: the registry, work folder and
 * prediction log under `root`, the sample data by absolute path, and no deploy target.
 */
export async function sampleConfig(root: string): Promise<Config> {
  const config = structuredClone((await loadConfig('mlops.config.yaml', process.env)).config);
  config.registry.path = join(root, 'registry');
  config.workdir = join(root, 'work');
  config.serving.log.path = join(root, 'predictions', 'predictions.jsonl');
  config.deploy.target = 'none';
  config.data.source.query = config.data.source.query.replace(
    "'data/penguins_raw.csv'",
    `'${join(process.cwd(), 'data/penguins_raw.csv')}'`,
  );
  return config;
}
