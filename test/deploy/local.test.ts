import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { rollback, rollout, undeploy } from '../../src/deploy/rollout.js';
import { MlopsError } from '../../src/errors.js';
import { openRegistry } from '../../src/registry/registry.js';
import { contextFor, deployTo, isolatedConfig, registerBrokenVersion, trainedRun } from '../helpers/model.js';
import { predict, underLoad } from '../helpers/load.js';

let root: string;
let config: Config;
let ctx: StepContext;
let proxy: string;

const backends = async () => (await (await fetch(`${proxy}/backends`)).json()) as { id: string; version: string; healthy: boolean }[];
const champion = async () => (await openRegistry({ config, configDir: process.cwd(), env: process.env }).aliases()).champion;

describe('deploy.target local: prediction servers as processes behind the proxy', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-deploy-local-'));
    config = await isolatedConfig(root);
    config.project = 'local-deploy-test';
    proxy = await deployTo(config, 'local');
    ctx = (await trainedRun(config, 'one')).ctx;
  }, 120_000);
  afterAll(async () => {
    await undeploy(ctx).catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  it('releases the blessed model of a run: it serves through the proxy and becomes the champion', async () => {
    const res = await predict(proxy);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mlops-backend')).toMatch(/^v1-\d+$/);
    expect(await champion()).toBe('v1');
    expect(await backends()).toMatchObject([{ version: 'v1', healthy: true }]);
  });

  it('rolls v2 out beside v1 under load without a failed request, then stops v1', async () => {
    const load = underLoad(proxy);
    const { result } = await trainedRun(config, 'two', 2);
    await new Promise((r) => setTimeout(r, 300));
    const { ok, failures, backends: answered } = await load.stop();
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect(result.deploy).toMatchObject({ version: 'v2', stopped: [expect.stringMatching(/^v1-/)] });
    expect(answered.some((b) => b.startsWith('v2-'))).toBe(true);
    expect((await backends()).map((b) => b.version)).toEqual(['v2']);
    expect(await champion()).toBe('v2');
  }, 120_000);

  it('removes a new server whose model cannot load: v2 keeps serving, and the error is a quality error with its cause', async () => {
    const broken = await registerBrokenVersion(config);
    const load = underLoad(proxy);
    const err = await rollout(ctx, broken).catch((e: unknown) => e);
    const { failures } = await load.stop();
    expect(err).toBeInstanceOf(MlopsError);
    expect(err).toMatchObject({ errorClass: 'quality' });
    expect((err as Error).message).toMatch(new RegExp(`the new server for ${broken} exited before it was ready: .*cannot be loaded`));
    expect(failures).toEqual([]);
    expect((await backends()).map((b) => b.version)).toEqual(['v2']);
    expect(await champion()).toBe('v2');
    const state = JSON.parse(await readFile(join(root, 'work/deploy/local.json'), 'utf8')) as { version: string }[];
    expect(state.map((s) => s.version)).not.toContain(broken);
  }, 60_000);

  it('rolls back to the version that served before, and makes it the champion', async () => {
    const back = await rollback(ctx);
    expect(back.version).toBe('v1');
    expect((await predict(proxy)).headers.get('x-mlops-backend')).toMatch(/^v1-/);
    expect(await champion()).toBe('v1');
  }, 60_000);

  it('says which port is taken when something else holds the proxy port', async () => {
    const other = structuredClone(config);
    other.workdir = join(root, 'other', 'work');
    const holder = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    other.deploy.proxy.port = (holder.address() as { port: number }).port;
    try {
      const err = await rollout(await contextFor(other, 'taken'), 'v1').catch((e: unknown) => e);
      expect(err).toMatchObject({
        errorClass: 'config',
        message: `deploy.proxy.port ${other.deploy.proxy.port} is taken by another process`,
      });
    } finally {
      holder.close();
    }
  });
});
