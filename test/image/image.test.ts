import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import type { Config } from '../../src/config/schema.js';
import { buildHostBase } from '../../src/image/base.js';
import { buildImage, runBuild } from '../../src/image/build.js';
import { isolatedConfig, trainedRun } from '../helpers/model.js';
import { dockerEngine } from '../helpers/services.js';
import type { BuildOutputs } from '../../src/step-outputs.js';

const engine = await dockerEngine();
const docker = new Docker();
const BASE = 'mlops-test-base:host';
let root: string;
let config: Config;
let built: BuildOutputs;
let run: Awaited<ReturnType<typeof trainedRun>>;

describe.skipIf(!engine)('the prediction image (real Docker engine)', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-image-'));
    config = await isolatedConfig(root);
    config.project = 'image-test';
    config.image.base = BASE;
    await buildHostBase(docker, BASE, () => {});
    run = await trainedRun(config, 'image');
    built = await buildImage(run.ctx);
  }, 120_000);
  afterAll(async () => {
    await docker
      .getImage(built?.image ?? 'none')
      .remove({ force: true })
      .catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  it('builds a base from this machine: node runs in it as the non-root user', async () => {
    const info = await docker.getImage(BASE).inspect();
    expect(info.Config.User).toBe('node');
    expect(info.Size).toBeGreaterThan(20 * 2 ** 20);
  });

  it('bakes the champion into an image with OCI and mlops labels, a non-root user, a health check and at most 30 MB over its base', async () => {
    const info = await docker.getImage(built.image).inspect();
    expect(built.image).toBe('image-test-server:v1');
    expect(info.Config.Labels).toMatchObject({
      'org.opencontainers.image.version': 'v1',
      'mlops.model.version': 'v1',
      'mlops.run_id': 'image',
      'mlops.metric.accuracy': expect.stringMatching(/^[01]/),
    });
    expect(info.Config.Labels['org.opencontainers.image.revision']).toMatch(/^[0-9a-f]{40}$|^unknown$/);
    expect(info.Config.User).toBe('1000:1000');
    expect(info.Config.Healthcheck?.Test).toEqual(['CMD', 'node', '/app/healthcheck.js']);
    expect(Object.keys(info.Config.ExposedPorts ?? {})).toEqual([`${config.serving.port}/tcp`]);
    const base = await docker.getImage(BASE).inspect();
    expect(info.Size - base.Size).toBeLessThan(30 * 2 ** 20);
  });

  it('runs on the host network as a prediction server that answers, turns healthy and stops cleanly', async () => {
    const port = await freePort();
    const container = await docker.createContainer({
      Image: built.image,
      Env: [`PORT=${port}`],
      HostConfig: { NetworkMode: 'host' },
      Labels: { 'mlops.test': 'image' },
    });
    try {
      await container.start();
      await expect
        .poll(async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status, { timeout: 20_000 })
        .toBe(200);
      const res = await fetch(`http://127.0.0.1:${port}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          island: 'Biscoe',
          clutch_completion: true,
          culmen_length_mm: 45.1,
          culmen_depth_mm: 14.5,
          flipper_length_mm: 215,
          body_mass_g: 5000,
          sex: 'FEMALE',
          delta_15_n: 8.6,
          delta_13_c: -26.8,
        }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ label: 'Gentoo', model_version: 'v1' });
      await expect.poll(async () => (await container.inspect()).State.Health?.Status, { timeout: 30_000, interval: 1000 }).toBe('healthy');
      await container.stop({ t: 10 });
      expect((await container.inspect()).State.ExitCode).toBe(0);
    } finally {
      await container.remove({ force: true });
    }
  }, 60_000);

  it('fails a build whose error arrives inside the stream, naming the instruction', async () => {
    const tar = pack();
    tar.entry({ name: 'Dockerfile' }, `FROM ${BASE}\nCOPY missing-file /app/\n`);
    tar.finalize();
    await expect(runBuild(docker, tar, { t: 'mlops-test-broken:1' }, BASE, () => {})).rejects.toThrow(
      /the image build failed at "Step 2\/2 : COPY missing-file \/app\/"/,
    );
  });

  it('says how to get a base image that is missing', async () => {
    const missing = { ...run.ctx, config: { ...run.ctx.config, image: { ...run.ctx.config.image, base: 'mlops-no-such-base:1' } } };
    await expect(buildImage(missing)).rejects.toMatchObject({
      errorClass: 'config',
      message: expect.stringContaining('the base image mlops-no-such-base:1 is not available'),
      hint: expect.stringContaining('mlops image base --from-host'),
    });
  });

  it('reports an unreachable engine as transient, naming DOCKER_HOST', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${join(root, 'no-engine.sock')}`;
    try {
      await expect(buildImage(run.ctx)).rejects.toMatchObject({
        errorClass: 'transient',
        message: expect.stringContaining(`the Docker engine at unix://${join(root, 'no-engine.sock')} did not answer`),
        hint: expect.stringContaining('DOCKER_HOST'),
      });
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});
