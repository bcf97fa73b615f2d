import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { ROTATION_TIMEOUT_MS, type Fleet, type Liveness, type PredictionLogSource } from '../../src/deploy/fleet.js';
import { answersOk, type HostRequest } from '../../src/deploy/host-request.js';
import { hostPort } from '../../src/deploy/ports.js';
import { ProxyClient } from '../../src/deploy/proxy-client.js';
import { undeploy } from '../../src/deploy/rollout.js';
import { registerTarget } from '../../src/deploy/targets.js';
import { memoryLogger } from '../../src/log.js';
import { openRegistry } from '../../src/registry/registry.js';
import { serverSpecFor } from '../../src/serving-spec.js';
import type { Server } from '../../src/step-outputs.js';
import type { TargetSupport } from '../../src/target-support.js';
import { startProxy } from '../../serving/proxy.js';
import { serverOptions, startServer, type RunningServer } from '../../serving/server.js';
import { predict, underLoad } from '../helpers/load.js';
import { isolatedConfig, trainedRun } from '../helpers/model.js';
import { freePort } from '../helpers/ports.js';
import { withDeploy } from '../helpers/config.js';

/**
 * A deploy target written here, in the test folder, with no change to src/: its servers and its
 * proxy run in this process (startServer, startProxy), and the servers join the proxy's rotation by
 * registration, as deploy.target local's processes do. Its state lives as long as the test.
 */
const TOKEN = 'registered-target-token';
const supports: TargetSupport = { scaling: false, image: false };
const state = {
  servers: new Map<string, { server: Server; running?: RunningServer }>(),
  proxy: undefined as Promise<{ url: string; close(): Promise<void> }> | undefined,
};

class InProcessFleet implements Fleet {
  readonly target = 'in-process';
  readonly supports = supports;
  readonly predictionStore = 'this test’s memory';

  constructor(private readonly ctx: StepContext) {}

  readonly request: HostRequest = async (url, init) => {
    const res = await fetch(url, init);
    return { status: res.status, body: await res.text() };
  };

  serverUrl = (_version: string, port: number) => `http://127.0.0.1:${port}`;

  async proxy(): Promise<ProxyClient> {
    state.proxy ??= startProxy({
      logger: memoryLogger(),
      adminToken: TOKEN,
      port: this.ctx.config.deploy.proxy.port,
      healthIntervalMs: 200,
    });
    return new ProxyClient((await state.proxy).url, TOKEN, this.request);
  }

  async stopProxy(): Promise<void> {
    await (await state.proxy)?.close();
    state.proxy = undefined;
  }

  async predictionLogs(): Promise<PredictionLogSource[]> {
    return [];
  }

  async list(): Promise<Server[]> {
    return [...state.servers.values()].map((s) => s.server).sort((a, b) => b.since.localeCompare(a.since));
  }

  async start(version: string, port: number): Promise<Server> {
    const { dir } = await openRegistry(this.ctx).open(version);
    const id = `${version}-${port}`;
    const prediction_log = join(this.ctx.config.workdir, `${id}.jsonl`);
    const spec = serverSpecFor(this.ctx.config, { port, model_dir: dir, prediction_log });
    const running = await startServer({ ...serverOptions(spec), logger: memoryLogger() });
    const server = { id, version, port, url: this.serverUrl(version, port), running: true, since: new Date().toISOString() };
    state.servers.set(id, { server, running });
    return server;
  }

  port = (version: string, servers: Server[]) => hostPort(this.ctx, version, servers);

  async liveness(): Promise<Liveness> {
    return { exited: false };
  }

  ready = (server: Server) => answersOk(this.request, `${server.url}/ready`);

  async admit(proxy: ProxyClient, server: Server): Promise<void> {
    await proxy.register(server);
    await proxy.waitFor(server, ROTATION_TIMEOUT_MS);
  }

  async evict(proxy: ProxyClient, server: Server): Promise<void> {
    await proxy.deregister(server);
  }

  async stop(server: Server): Promise<void> {
    const entry = state.servers.get(server.id)!;
    await entry.running?.close();
    state.servers.set(server.id, { server: { ...server, running: false, since: new Date().toISOString() } });
  }

  async remove(server: Server): Promise<void> {
    state.servers.delete(server.id);
  }
}

registerTarget('in-process', supports, (ctx) => new InProcessFleet(ctx));
registerTarget('in-process-unstaged', { ...supports, noStages: 'its servers share one url' }, (ctx) => new InProcessFleet(ctx));

describe('a deploy target registered from outside src/', () => {
  it('is one the config accepts, with the rules of what it supports', () => {
    const staged = parseConfig(withDeploy({ target: 'in-process', release: 'shadow', shadow: { min_requests: 10 } }), {});
    expect(staged.deploy).toMatchObject({ target: 'in-process', release: 'shadow' });
    expect(() => parseConfig(withDeploy({ target: 'in-process-unstaged', release: 'shadow', shadow: { min_requests: 10 } }), {})).toThrow(
      'deploy.release: a shadow stage holds one server out of rotation, and its servers share one url: deploy.target in-process-unstaged releases directly',
    );
    expect(() => parseConfig(withDeploy({ target: 'kubernetes' }), {})).toThrow(
      'deploy.target: expected one of local, docker, swarm, in-process, in-process-unstaged, none, got "kubernetes"',
    );
  });

  describe('runs a rollout', () => {
    let root: string;
    let config: Config;
    let ctx: StepContext;
    let proxy: string;

    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'mlops-registered-target-'));
      config = await isolatedConfig(root);
      config.project = 'registered-target-test';
      config.deploy.target = 'in-process';
      config.deploy.proxy.port = await freePort();
      const first = await freePort();
      config.deploy.ports = [first, first + 50];
      proxy = `http://127.0.0.1:${config.deploy.proxy.port}`;
      ctx = (await trainedRun(config, 'one')).ctx;
    }, 180_000);
    afterAll(async () => {
      await undeploy(ctx).catch(() => {});
      await rm(root, { recursive: true, force: true });
    });

    it("releases a run's blessed model through it: the proxy serves it", async () => {
      const res = await predict(proxy);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-mlops-backend')).toMatch(/^v1-\d+$/);
      expect([...state.servers.values()].map((s) => s.server)).toMatchObject([{ version: 'v1', running: true }]);
    });

    it('rolls v2 out beside v1 under load without a failed request, then stops v1 and keeps it for a rollback', async () => {
      const load = underLoad(proxy);
      const { result } = await trainedRun(config, 'two', 2);
      const { failures, ok } = await load.stop();
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(0);
      expect(result.deploy).toMatchObject({ target: 'in-process', version: 'v2', stopped: [expect.stringMatching(/^v1-/)] });
      expect((await predict(proxy)).headers.get('x-mlops-backend')).toMatch(/^v2-/);
      const servers = (await new InProcessFleet(ctx).list()).map((s) => [s.version, s.running]);
      expect(servers.sort()).toEqual([
        ['v1', false],
        ['v2', true],
      ]);
    }, 180_000);
  });
});
