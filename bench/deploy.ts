/**
 * `npm run bench:deploy`: the prediction image against the real Docker engine at DOCKER_HOST.
 *  1. the offline base from this machine's node (`mlops image base --from-host`): time and size;
 *  2. `mlops build` of the sample champion on that warm base: time, and size over the base.
 * The rollout figures join these when deploy lands.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { createContext } from '../src/context.js';
import { buildHostBase } from '../src/image/base.js';
import { buildImage } from '../src/image/build.js';
import { openDocker } from '../src/image/docker.js';
import { createLogger } from '../src/log.js';
import { runPipeline } from '../src/pipeline.js';
import { silentProgress } from '../src/progress.js';

const root = await mkdtemp(join(tmpdir(), 'mlops-bench-deploy-'));
const loaded = await loadConfig('mlops.config.yaml');
const config = structuredClone(loaded.config);
config.registry.path = join(root, 'registry');
config.workdir = join(root, 'work');
config.project = 'bench-deploy';
config.image.base = 'mlops-bench-base:host';
const ctx = createContext({ ...loaded, config }, { log: createLogger({ write: () => {} }), progress: silentProgress });
await runPipeline(ctx);

const docker = openDocker();
const seconds = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
  const began = performance.now();
  const result = await work();
  return [result, (performance.now() - began) / 1000];
};
const [, baseSeconds] = await seconds(() => buildHostBase(docker, config.image.base, () => {}));
const [built, buildSeconds] = await seconds(() => buildImage(ctx));
const base = await docker.getImage(config.image.base).inspect();
await docker.getImage(built.image).remove({ force: true });
await docker.getImage(config.image.base).remove({ force: true });
await rm(root, { recursive: true, force: true });

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
console.log(`\nprediction image, Docker engine at ${process.env.DOCKER_HOST || 'unix:///var/run/docker.sock'}`);
console.log(`base from host    ${baseSeconds.toFixed(1)} s, ${mb(base.Size)}`);
console.log(`build, warm base  ${buildSeconds.toFixed(1)} s   (target <= 20 s)`);
console.log(`image size        ${mb(built.sizeBytes)}, base + ${mb(built.sizeBytes - base.Size)}   (target <= base + 30 MB)`);
