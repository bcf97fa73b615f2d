import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { predictionLogs } from '../../src/deploy/prediction-logs.js';
import { rollback, rollout, undeploy } from '../../src/deploy/rollout.js';
import { buildHostBase } from '../../src/image/base.js';
import { buildImage } from '../../src/image/build.js';
import { pushImage } from '../../src/image/push.js';
import { runPipeline } from '../../src/pipeline.js';
import { openRegistry } from '../../src/registry/registry.js';
import { predict, rolloutUnderLoad, underLoad } from '../helpers/load.js';
import { contextFor, deployTo, isolatedConfig, registerBrokenVersion, trained, trainedRun } from '../helpers/model.js';
import { dockerEngine, imageRegistry } from '../helpers/services.js';
import type { PipelineResult } from '../../src/step-outputs.js';

const engine = await dockerEngine();
const registry = imageRegistry();
const docker = new Docker();
const BASE = 'mlops-test-base:host';
const PROJECT = 'docker-deploy-test';
let root: string;
let config: Config;
let ctx: StepContext;
let first: PipelineResult;
let proxy: string;

/** The project's server containers: name, model version and state. */
const containers = async () =>
  (await docker.listContainers({ all: true, filters: { label: [`mlops.project=${PROJECT}`, 'mlops.role=server'] } })).map((c) => ({
    name: c.Names[0]!.slice(1),
    version: c.Labels['mlops.model.version'],
    state: c.State,
  }));
const champion = async () => (await openRegistry({ config, configDir: process.cwd(), env: process.env }).aliases()).champion;

/** Sets the registry credentials for one piece of work, as a workflow's secrets would. */
async function withCredentials<T>(password: string, work: () => Promise<T>): Promise<T> {
  Object.assign(process.env, { MLOPS_REGISTRY_USERNAME: registry!.username, MLOPS_REGISTRY_PASSWORD: password });
  try {
    return await work();
  } finally {
    delete process.env.MLOPS_REGISTRY_USERNAME;
    delete process.env.MLOPS_REGISTRY_PASSWORD;
  }
}

describe.skipIf(!engine || !registry)('deploy.target docker: containers behind the proxy (real engine and registry)', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-deploy-docker-'));
    config = await isolatedConfig(root);
    config.project = PROJECT;
    config.image.base = BASE;
    config.image.registry = registry!.address;
    proxy = await deployTo(config, 'docker');
    await buildHostBase(docker, BASE, () => {});
    ctx = await contextFor(config, 'one');
    first = await withCredentials(registry!.password, async () => trained(await runPipeline(ctx)));
  }, 180_000);
  afterAll(async () => {
    if (ctx) await undeploy(ctx).catch(() => {});
    for (const v of ['v1', 'v2', 'v3']) {
      await docker
        .getImage(`${registry!.address}/${PROJECT}-server:${v}`)
        .remove({ force: true })
        .catch(() => {});
    }
    await docker
      .getVolume(`${PROJECT}-predictions`)
      .remove()
      .catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  it('runs extract → … → gate → record → build → push → deploy: the pushed image serves through the proxy', async () => {
    expect(first.decision.blessed).toBe(true);
    expect(first.build?.image).toBe(`${registry!.address}/${PROJECT}-server:v1`);
    expect(first.push?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.deploy).toMatchObject({ target: 'docker', version: 'v1', proxy });
    // The registry version records the server it was released as.
    expect(await openRegistry({ config, configDir: process.cwd(), env: process.env }).tags('v1')).toMatchObject({
      image: first.build?.image,
      digest: first.push?.digest,
      reference: `${registry!.address}/${PROJECT}-server@${first.push?.digest}`,
      deploy_target: 'docker',
    });
    expect(await containers()).toEqual([{ name: first.deploy!.server.id, version: 'v1', state: 'running' }]);
    const res = await predict(proxy);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mlops-backend')).toContain(first.deploy!.server.id);
    expect(await champion()).toBe('v1');
  });

  it('runs the proxy as a container on the Docker host, so it outlives the job that deployed', async () => {
    const info = await docker.getContainer(`${PROJECT}-proxy`).inspect();
    expect(info.State.Running).toBe(true);
    expect(info.Config.Labels).toMatchObject({ 'mlops.project': PROJECT, 'mlops.role': 'proxy' });
    expect(info.HostConfig).toMatchObject({ NetworkMode: 'host', RestartPolicy: { Name: 'unless-stopped' } });
    expect(info.HostConfig.Binds).toEqual(['/var/run/docker.sock:/var/run/docker.sock']);
  });

  it("reads a server's prediction log from the project's volume through the engine, as a remote DOCKER_HOST needs", async () => {
    await predict(proxy);
    const [log] = await predictionLogs(ctx);
    expect(log).toMatchObject({ server: first.deploy!.server.id });
    const lines: string[] = [];
    for await (const line of log!.lines()) lines.push(line);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ model_version: 'v1' });
  });

  it('rolls v2 out beside v1 under load without a failed request, and keeps v1 stopped for rollback', async () => {
    const load = underLoad(proxy);
    const { result } = await withCredentials(registry!.password, () => trainedRun(config, 'two', 2));
    const { ok, failures } = await load.stop();
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect(result.deploy?.version).toBe('v2');
    expect(await containers()).toEqual(
      expect.arrayContaining([
        { name: result.deploy!.server.id, version: 'v2', state: 'running' },
        { name: first.deploy!.server.id, version: 'v1', state: 'exited' },
      ]),
    );
    expect(await champion()).toBe('v2');
  }, 180_000);

  it('removes a new container that never turns healthy: v2 keeps serving, and the step fails as a quality problem', async () => {
    const broken = await registerBrokenVersion(config);
    await buildImage(ctx, { version: broken });
    const { outcome, failures } = await rolloutUnderLoad(ctx, proxy, broken);
    expect(outcome).toMatchObject({
      errorClass: 'quality',
      message: expect.stringContaining(`the new server for ${broken} exited before it was ready`),
    });
    expect(failures).toEqual([]);
    expect((await containers()).map((c) => c.version)).not.toContain(broken);
    expect((await predict(proxy)).headers.get('x-mlops-backend')).toBeTruthy();
    expect(await champion()).toBe('v2');
  }, 120_000);

  it('rolls back by starting the kept v1 container again', async () => {
    const back = await rollback(ctx);
    expect(back).toMatchObject({ version: 'v1', server: { id: first.deploy!.server.id } });
    expect((await predict(proxy)).status).toBe(200);
    expect(await champion()).toBe('v1');
  }, 120_000);

  it('refuses a push with wrong credentials as a config error naming the registry, never the secret', async () => {
    const err = await withCredentials('not-the-password', () => pushImage(ctx, 'v1')).catch((e: unknown) => e);
    expect(err).toMatchObject({ errorClass: 'config' });
    expect((err as Error).message).toContain(`the registry ${registry!.address} refused the push`);
    expect(JSON.stringify({ message: (err as Error).message, hint: (err as { hint?: string }).hint })).not.toContain('not-the-password');
  });

  it('reports an unreachable daemon as transient, naming DOCKER_HOST', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      const err = await rollout(ctx, 'v2').catch((e: unknown) => e);
      expect(err).toMatchObject({ errorClass: 'transient', message: expect.stringContaining('unix:///nonexistent/docker.sock') });
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});
