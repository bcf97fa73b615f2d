import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { predictionLogs } from '../../src/deploy/prediction-logs.js';
import { rollback, undeploy } from '../../src/deploy/rollout.js';
import { scale } from '../../src/deploy/scale.js';
import { listTasks } from '../../src/deploy/swarm-api.js';
import { buildHostBase } from '../../src/image/base.js';
import { buildImage } from '../../src/image/build.js';
import { pushImage } from '../../src/image/push.js';
import { runPipeline } from '../../src/pipeline.js';
import { openRegistry } from '../../src/registry/registry.js';
import { predict, rolloutUnderLoad, underLoad } from '../helpers/load.js';
import { contextFor, isolatedConfig, registerBrokenVersion, trained, trainedRun } from '../helpers/model.js';
import { freePort } from '../helpers/ports.js';
import { imageRegistry } from '../helpers/services.js';
import { cutNode, restoreNode, swarmHosts } from '../helpers/swarm.js';
import type { PipelineResult } from '../../src/step-outputs.js';

const hosts = swarmHosts();
const registry = imageRegistry();
const BASE = 'mlops-test-base:host';
const PROJECT = 'swarm-deploy-test';
let root: string;
let config: Config;
let ctx: StepContext;
let first: PipelineResult;
let proxy: string;
let manager: Docker;

/** The project's services (one per version): name, version and replicas. */
const services = async () =>
  (await manager.listServices({ filters: { label: [`mlops.project=${PROJECT}`, 'mlops.role=server'] } })).map((s) => ({
    name: s.Spec!.Name!,
    version: s.Spec!.Labels!['mlops.model.version'],
    replicas: s.Spec!.Mode?.Replicated?.Replicas,
  }));
/** The running tasks of a version's service, with the node each runs on. */
const running = async (service: string) =>
  (await listTasks(manager, { service: [service], 'desired-state': ['running'] })).filter((t) => t.Status.State === 'running');
const nodeOf = async (nodeId: string | undefined) =>
  ((await manager.getNode(nodeId!).inspect()) as { Description: { Hostname: string } }).Description.Hostname;
const champion = async () => (await openRegistry({ config, configDir: process.cwd(), env: process.env }).aliases()).champion;
/** The tasks that answered a load: `<service>.<slot>@<node>`. */
const nodesOf = (backends: string[]) => new Set(backends.map((b) => b.split('@')[1]));

describe.skipIf(!hosts || !registry)('deploy.target swarm: a service per version on a real three-host swarm', () => {
  beforeAll(async () => {
    // Everything goes to the manager, as a workflow's DOCKER_HOST would: build, push, services and proxy.
    process.env.DOCKER_HOST = hosts!.manager;
    Object.assign(process.env, { MLOPS_REGISTRY_USERNAME: registry!.username, MLOPS_REGISTRY_PASSWORD: registry!.password });
    manager = new Docker({ socketPath: hosts!.manager.replace('unix://', '') });
    root = await mkdtemp(join(tmpdir(), 'mlops-deploy-swarm-'));
    config = await isolatedConfig(root);
    config.project = PROJECT;
    config.image.base = BASE;
    config.image.registry = hosts!.registry;
    config.deploy.target = 'swarm';
    config.deploy.replicas = 2;
    config.deploy.proxy.host = '0.0.0.0';
    config.deploy.proxy.port = await freePort();
    config.deploy.proxy.upstream_timeout_ms = 4000;
    config.deploy.ports = [9100, 9199];
    config.deploy.ready_timeout_seconds = 60;
    proxy = `http://${hosts!.nodes[0]!.address}:${config.deploy.proxy.port}`;
    await buildHostBase(manager, BASE, () => {});
    ctx = await contextFor(config, 'one');
    first = trained(await runPipeline(ctx));
  }, 240_000);
  afterAll(async () => {
    for (const node of hosts?.nodes ?? []) restoreNode(node);
    if (ctx) await undeploy(ctx).catch(() => {});
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('deploys v1 as a service of 2 tasks on two nodes, from the image pushed by digest; predictions are answered by both', async () => {
    expect(first.deploy).toMatchObject({ target: 'swarm', version: 'v1' });
    const service = (await manager.getService(first.deploy!.server.id).inspect()) as {
      Spec: Docker.ServiceSpec & { TaskTemplate: Docker.ContainerTaskSpec };
    };
    expect(service.Spec.TaskTemplate.ContainerSpec?.Image).toBe(`${hosts!.registry}/${PROJECT}-server@${first.push!.digest}`);
    expect(service.Spec).toMatchObject({
      Mode: { Replicated: { Replicas: 2 } },
      UpdateConfig: { FailureAction: 'rollback', Parallelism: 1 },
      TaskTemplate: { RestartPolicy: { Condition: 'on-failure' } },
    });
    const tasks = await running(first.deploy!.server.id);
    expect(new Set(await Promise.all(tasks.map((t) => nodeOf(t.NodeID)))).size).toBe(2);
    const load = underLoad(proxy);
    await new Promise((r) => setTimeout(r, 1500));
    const { ok, failures, backends } = await load.stop();
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(20);
    expect(nodesOf(backends).size).toBe(2);
  });

  it('rolls v1 → v2 under load without a failed request; v1 is kept at 0 tasks for rollback', async () => {
    const load = underLoad(proxy);
    const { result } = await trainedRun(config, 'two', 2);
    const { failures, ok, backends } = await load.stop();
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect(result.deploy?.version).toBe('v2');
    expect(backends.some((b) => b.includes('-v2-'))).toBe(true);
    expect(await services()).toEqual(
      expect.arrayContaining([
        { name: result.deploy!.server.id, version: 'v2', replicas: 2 },
        { name: first.deploy!.server.id, version: 'v1', replicas: 0 },
      ]),
    );
    expect(await running(first.deploy!.server.id)).toEqual([]);
    expect(await champion()).toBe('v2');
  }, 240_000);

  it('removes a v3 whose model cannot load: v2 keeps serving, 0 failed requests, and the step fails as quality naming the cause', async () => {
    const broken = await registerBrokenVersion(config);
    await buildImage(ctx, { version: broken });
    await pushImage(ctx, broken);
    const { outcome, failures } = await rolloutUnderLoad(ctx, proxy, broken);
    expect(outcome).toMatchObject({
      errorClass: 'quality',
      message: expect.stringContaining(`the new server for ${broken} exited before it was ready`),
    });
    expect(failures).toEqual([]);
    expect((await services()).map((s) => s.version)).not.toContain(broken);
    expect(await champion()).toBe('v2');
  }, 180_000);

  it('scales 2 → 4 → 1 under load without a failed request', async () => {
    const load = underLoad(proxy);
    const up = await scale(ctx, 4);
    const v2 = up.server;
    expect((await running(v2)).length).toBe(4);
    await scale(ctx, 1);
    const { failures, ok } = await load.stop();
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect((await running(v2)).length).toBe(1);
    await scale(ctx, 2);
  }, 180_000);

  it('loses no client request when a worker host dies mid-load, and Swarm runs its task on a live node again', async () => {
    const v2 = (await services()).find((s) => s.version === 'v2')!.name;
    const tasks = await running(v2);
    const names = await Promise.all(tasks.map((t) => nodeOf(t.NodeID)));
    const victim = hosts!.nodes.find((n) => n.role === 'worker' && names.includes(n.name))!;
    const load = underLoad(proxy);
    await new Promise((r) => setTimeout(r, 1000));
    const cut = Date.now();
    cutNode(victim);
    // Swarm marks the node down after some seconds, and starts its task on a live node.
    let moved = false;
    let where: string[] = [];
    while (!moved && Date.now() - cut < 90_000) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await running(v2);
      where = await Promise.all(now.map((t) => nodeOf(t.NodeID)));
      moved = now.length === 2 && !where.includes(victim.name);
    }
    const { failures, ok } = await load.stop();
    restoreNode(victim);
    const back = async () => ((await manager.getNode(victim.name).inspect()) as { Status: { State: string } }).Status.State === 'ready';
    while (!(await back()) && Date.now() - cut < 120_000) await new Promise((r) => setTimeout(r, 500));
    expect(moved, `${victim.name} cut; v2's tasks run on ${where.join(', ')}`).toBe(true);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
  }, 180_000);

  it("reads every task's prediction log on every node, removed tasks' too", async () => {
    const logs = await predictionLogs(ctx);
    const servers = logs.map((l) => l.server);
    // v1's two tasks were removed when v2 went live; their logs are still on their nodes.
    expect(servers.filter((s) => s.startsWith(first.deploy!.server.id)).length).toBeGreaterThanOrEqual(2);
    let lines = 0;
    for (const log of logs) for await (const line of log.lines()) lines += JSON.parse(line).model_version ? 1 : 0;
    expect(lines).toBeGreaterThan(100);
  }, 120_000);

  it('rolls back to the kept v1 service', async () => {
    const back = await rollback(ctx);
    expect(back).toMatchObject({ version: 'v1', server: { id: first.deploy!.server.id } });
    expect((await running(first.deploy!.server.id)).length).toBe(2);
    expect((await predict(proxy)).status).toBe(200);
    expect(await champion()).toBe('v1');
  }, 120_000);
});
