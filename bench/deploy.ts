/**
 * `npm run bench:deploy`: the prediction image and its rollout against the real Docker engine at
 * DOCKER_HOST (deploy.target docker):
 *  1. the offline base from this machine's node (`mlops image base --from-host`): time and size;
 *  2. `mlops build` of a sample model on that warm base: time, and size over the base;
 *  3. the first rollout (proxy started, v1 container healthy and in rotation): time;
 *  4. v1 replaced by v2 while autocannon sends single-record predictions through the proxy;
 *  5. a broken v3 (weights cut short, so the model cannot load) rolled out under load: removed
 *     automatically, v2 still serving.
 * Every response under load must be 2xx. The run exits 1 when a figure misses its target (printed
 * beside it). `npm run bench:deploy` builds dist/ first, so nothing it starts runs stale code.
 *
 *   npm run bench:deploy -- [--connections N]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type autocannon from 'autocannon';
import { stringify } from 'yaml';
import { createContext } from '../src/context.js';
import { rollout, undeploy } from '../src/deploy/rollout.js';
import { MlopsError } from '../src/errors.js';
import { buildHostBase } from '../src/image/base.js';
import { buildImage } from '../src/image/build.js';
import { openDocker } from '../src/image/docker.js';
import { createLogger } from '../src/log.js';
import { runPipeline } from '../src/pipeline.js';
import { silentProgress } from '../src/progress.js';
import { isolatedConfig, registerBrokenVersion } from '../test/helpers/model.js';
import { underLoad } from './load.js';
import { targets } from './targets.js';
import type { DeployOutputs } from '../src/step-outputs.js';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '50' } } });
const root = await mkdtemp(join(tmpdir(), 'mlops-bench-deploy-'));
const config = await isolatedConfig(root);
config.project = 'bench-deploy';
config.image.base = 'mlops-bench-base:host';
config.deploy.ports = [8600, 8699];
config.deploy.proxy.port = 8590;
const file = join(root, 'mlops.config.yaml');
const context = (runId: string, target: typeof config.deploy.target, seed = 42) => {
  const c = { ...config, model: { ...config.model, seed }, deploy: { ...config.deploy, target } };
  return createContext(
    { config: c, file, dir: process.cwd(), env: process.env },
    { runId, log: createLogger({ write: () => {} }), progress: silentProgress },
  );
};
await writeFile(file, stringify({ ...config, deploy: { ...config.deploy, target: 'docker' } })); // for the proxy process

// Two blessed models, v1 and v2, recorded without a deploy.
await runPipeline(context('a', 'none', 1));
await runPipeline(context('b', 'none', 2));
const ctx = context('deploy', 'docker');

const docker = openDocker(process.env);
const seconds = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
  const began = performance.now();
  const result = await work();
  return [result, (performance.now() - began) / 1000];
};
const [, baseSeconds] = await seconds(() => buildHostBase(docker, config.image.base, () => {}));
const [built, buildSeconds] = await seconds(() => buildImage(ctx, { version: 'v1' }));
const base = await docker.getImage(config.image.base).inspect();
await buildImage(ctx, { version: 'v2' });
const broken = await registerBrokenVersion(config);
await buildImage(ctx, { version: broken });

const proxyUnderLoad = <T>(work: () => Promise<T>) =>
  underLoad(`http://127.0.0.1:${config.deploy.proxy.port}`, Number(values.connections), work);

const [first, firstSeconds] = await seconds(() => rollout(ctx, 'v1'));
const swap = await proxyUnderLoad(() => rollout(ctx, 'v2'));
const failed = await proxyUnderLoad(() => rollout(ctx, broken));
const backends = (await (await fetch(`http://127.0.0.1:${config.deploy.proxy.port}/backends`)).json()) as {
  id: string;
  version: string;
  healthy: boolean;
}[];
const serving = backends.map((b) => `${b.id}${b.healthy ? '' : ' (unhealthy)'}`).join(', ');

await undeploy(ctx);
for (const v of ['v1', 'v2', broken]) await docker.getImage(`${built.image.split(':')[0]}:${v}`).remove({ force: true });
await docker.getImage(config.image.base).remove({ force: true });
await rm(root, { recursive: true, force: true });

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const traffic = ({ load }: { load: autocannon.Result }) =>
  `${fmt(load.requests.total)} requests (${fmt(load.requests.average)} req/s), ${load.non2xx} non-2xx, ${load.errors} errors`;
const failure = failed.outcome instanceof MlopsError ? `${failed.outcome.errorClass} error: ${failed.outcome.message}` : 'it did not fail';
console.log(`\nprediction image and rollout, Docker engine at ${process.env.DOCKER_HOST || 'unix:///var/run/docker.sock'}`);
console.log(`base from host    ${baseSeconds.toFixed(1)} s, ${mb(base.Size)}`);
console.log(`build, warm base  ${buildSeconds.toFixed(1)} s   (target <= 20 s)`);
console.log(`image size        ${mb(built.sizeBytes)}, base + ${mb(built.sizeBytes - base.Size)}   (target <= base + 30 MB)`);
console.log(`first rollout     ${firstSeconds.toFixed(1)} s: proxy started, ${first.server.id} healthy and in rotation`);
console.log(
  `v1 -> v2 rollout  ${(swap.outcome as DeployOutputs).seconds.toFixed(1)} s start to traffic switched, under load: ${traffic(swap)}   (target 0 non-2xx)`,
);
console.log(`broken ${broken}         ${failure}`);
console.log(`                  under load: ${traffic(failed)}; serving after: ${serving}   (target 0 non-2xx, v2 serving)`);

const goals = targets();
const overBase = built.sizeBytes - base.Size;
goals.check(buildSeconds <= 20, `build on the warm base: ${buildSeconds.toFixed(1)} s > 20 s`);
goals.check(overBase <= 30e6, `image size: base + ${mb(overBase)} > base + 30 MB`);
goals.check(
  swap.load.non2xx === 0 && swap.load.errors === 0,
  `v1 -> v2 under load: ${swap.load.non2xx} non-2xx, ${swap.load.errors} errors`,
);
goals.check(!(swap.outcome instanceof Error), `v1 -> v2 rollout failed: ${String(swap.outcome)}`);
goals.check(failed.outcome instanceof MlopsError, `broken ${broken}: ${failure}`);
goals.check(
  failed.load.non2xx === 0 && failed.load.errors === 0,
  `broken ${broken} under load: ${failed.load.non2xx} non-2xx, ${failed.load.errors} errors`,
);
const healthy = backends.filter((b) => b.healthy);
goals.check(
  healthy.length > 0 && healthy.every((b) => b.version === 'v2'),
  `serving after the broken rollout: ${serving || 'nothing'}, not v2`,
);
goals.report();
