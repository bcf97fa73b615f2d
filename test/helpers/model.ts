import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createContext, type StepContext } from '../../src/context.js';
import { memoryLogger } from '../../src/log.js';
import { runPipeline } from '../../src/pipeline.js';
import { silentProgress } from '../../src/progress.js';
import { openRegistry } from '../../src/registry/registry.js';
import { startServer, type RunningServer } from '../../serving/server.js';
import { freePort } from './ports.js';
import type { PipelineResult, UnchangedRun } from '../../src/step-outputs.js';

/** The shipped config with its registry, work folder and prediction log moved under `root`, and no deploy target. */
export async function isolatedConfig(root: string): Promise<Config> {
  const config = structuredClone((await loadConfig('mlops.config.yaml', process.env)).config);
  config.registry.path = join(root, 'registry');
  config.workdir = join(root, 'work');
  config.serving.log.path = join(root, 'predictions', 'predictions.jsonl');
  config.predict!.sink = { kind: 'parquet', path: join(root, 'batches') };
  config.deploy.target = 'none'; // recorded versions become the champion; deploy tests choose a target
  // One seed: stability across seeds has its own tests (test/model/stability.test.ts); a pipeline here trains once.
  config.model.stability = undefined;
  if (config.gates) config.gates.stability = undefined;
  return config;
}

/** Runs the whole pipeline on the sample data: a trained, registered champion to serve. */
export async function trainedRun(config: Config, runId: string, seed?: number): Promise<{ ctx: StepContext; result: PipelineResult }> {
  const c = structuredClone(config);
  if (seed !== undefined) c.model.seed = seed;
  const ctx = await contextFor(c, runId);
  return { ctx, result: trained(await runPipeline(ctx)) };
}

/** A run that trained; one that ended after extract (the champion's own data, config and code) fails the test, saying so. */
export function trained(result: PipelineResult | UnchangedRun): PipelineResult {
  if ('unchanged' in result)
    throw new Error(`the run trained nothing: its data, config and code are those of the champion ${result.unchanged}`);
  return result;
}

/** Sets a deploy target on ports no other test uses; returns the proxy's URL. */
export async function deployTo(config: Config, target: 'local' | 'docker'): Promise<string> {
  config.deploy.target = target;
  config.deploy.proxy.port = await freePort();
  const first = await freePort();
  config.deploy.ports = [first, first + 50];
  config.deploy.ready_timeout_seconds = 30;
  return `http://127.0.0.1:${config.deploy.proxy.port}`;
}

/**
 * A step context for an isolated config. The config is also written beside its work folder, for
 * the processes a deploy starts (`mlops proxy`, `mlops serve`), which read it from the file.
 */
export async function contextFor(config: Config, runId: string): Promise<StepContext> {
  const file = join(dirname(config.workdir), 'mlops.config.yaml');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, stringify(config));
  return createContext({ config, file, dir: process.cwd(), env: process.env }, { runId, log: memoryLogger(), progress: silentProgress });
}

/**
 * Registers a version that passes every checksum but cannot load: the champion's files with the
 * weights cut in half. What a deploy must refuse without dropping a request.
 */
export async function registerBrokenVersion(config: Config): Promise<string> {
  const registry = openRegistry({ config, configDir: process.cwd(), env: process.env });
  const { dir } = await registry.open('champion');
  const staging = await mkdtemp(join(tmpdir(), 'mlops-broken-'));
  const files = ['model.json', 'preprocess.json', 'metadata.json'].map((f) => join(dir, f));
  const weights = await readFile(join(dir, 'weights.bin'));
  await writeFile(join(staging, 'weights.bin'), weights.subarray(0, weights.length >> 1));
  const { version } = await registry.register([...files, join(staging, 'weights.bin')], { runId: 'broken', summary: {} });
  await rm(staging, { recursive: true, force: true });
  return version;
}

/** A prediction server on a free port serving the registry's champion of `config`, as `mlops serve` would. */
export async function championServer(config: Config): Promise<RunningServer> {
  return startServer({
    serving: config.serving,
    configDir: process.cwd(),
    logger: memoryLogger(),
    port: 0,
    source: { kind: 'registry', registry: openRegistry({ config, configDir: process.cwd(), env: process.env }), alias: 'champion' },
  });
}
