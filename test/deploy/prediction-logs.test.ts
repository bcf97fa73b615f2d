import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { rollout, undeploy } from '../../src/deploy/rollout.js';
import { openFleet } from '../../src/deploy/targets.js';
import { buildHostBase } from '../../src/image/base.js';
import { buildImage } from '../../src/image/build.js';
import { logSources } from '../../src/monitor/log-sources.js';
import { timeWindow } from '../../src/monitor/window.js';
import { openRegistry } from '../../src/registry/registry.js';
import { penguinRequest } from '../helpers/load.js';
import { contextFor, deployTo, isolatedConfig, trainedRun } from '../helpers/model.js';
import { dockerEngine } from '../helpers/services.js';

const engine = await dockerEngine();
const BASE = 'mlops-test-base:host';
let root: string;
let trained: Config;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-prediction-logs-'));
  trained = await isolatedConfig(root);
  await trainedRun(trained, 'one'); // v1; v2 and v3 are its files again, as versions of their own
  const registry = openRegistry({ config: trained, configDir: process.cwd(), env: process.env });
  const { manifest, dir } = await registry.open('v1');
  for (const runId of ['two', 'three'])
    await registry.register(
      Object.keys(manifest.files).map((f) => join(dir, f)),
      { runId, summary: manifest.summary },
    );
}, 120_000);
afterAll(() => rm(root, { recursive: true, force: true }));

/** The project's config for one target: its own work folder and logs, the shared registry, no stopped server kept. */
async function projectOn(target: 'local' | 'docker', project: string): Promise<{ ctx: StepContext; proxy: string }> {
  const config = structuredClone(trained);
  config.project = project;
  config.workdir = join(root, target, 'work');
  config.serving.log.path = join(root, target, 'predictions', 'predictions.jsonl');
  config.serving.shutdown_grace_seconds = 0.5;
  config.image.base = BASE;
  const proxy = await deployTo(config, target);
  config.deploy.retire.keep = 0;
  return { ctx: await contextFor(config, 'logs'), proxy };
}

/** Predictions through the proxy until stopped, each with its own request id: the ids answered 200, and by which server. */
function traffic(proxy: string) {
  let running = true;
  let n = 0;
  const answered = new Map<string, string>();
  const failures: string[] = [];
  const worker = async () => {
    while (running) {
      const id = `req-${n++}`;
      const res = await fetch(`${proxy}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': id },
        body: penguinRequest,
      }).catch((err: Error) => err);
      if (res instanceof Error) failures.push(res.message);
      else if (res.status === 200 && res.headers.get('x-request-id') === id) answered.set(id, res.headers.get('x-mlops-backend')!);
      else failures.push(String(res.status));
      if (!(res instanceof Error)) await res.arrayBuffer();
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  return {
    answered,
    async stop() {
      running = false;
      await Promise.all(workers);
      return failures;
    },
  };
}

/** The request ids in what `mlops monitor` reads by default: the logs of the servers on deploy.target. */
async function monitored(ctx: StepContext): Promise<{ sources: string[]; ids: Set<string> }> {
  const sources = await logSources(ctx, timeWindow('1h'));
  const ids = new Set<string>();
  for (const source of sources)
    for await (const line of source.lines()) if (line.trim()) ids.add((JSON.parse(line) as { request_id: string }).request_id);
  return { sources: sources.map((s) => s.name), ids };
}

const missing = (answered: Map<string, string>, ids: Set<string>, servers: (server: string) => boolean) =>
  [...answered].filter(([id, server]) => servers(server) && !ids.has(id)).map(([id]) => id);

/**
 * v1 → v2 → v3 under traffic with `retire.keep: 0`, so v1's and v2's servers are removed as soon as
 * they stop: every prediction answered 200 must still be in what the monitor reads, and stay there
 * after undeploy removes v3's server too.
 */
async function rollThrough(ctx: StepContext, proxy: string): Promise<{ answered: Map<string, string>; servers: string[] }> {
  const first = await rollout(ctx, 'v1');
  const load = traffic(proxy);
  const servers = [first.server.id];
  const serve = () => new Promise((r) => setTimeout(r, 1500)); // each version answers for a while
  await serve();
  for (const version of ['v2', 'v3']) {
    servers.push((await rollout(ctx, version)).server.id);
    await serve();
  }
  expect(await load.stop()).toEqual([]);
  // Each version answered while it served.
  expect(servers.map((s) => [...load.answered.values()].filter((b) => b === s).length > 10)).toEqual([true, true, true]);
  const fleet = await openFleet(ctx);
  expect((await fleet.list()).map((s) => s.id)).toEqual([servers[2]]); // v1's and v2's are gone
  return { answered: load.answered, servers };
}

describe('deploy.target local: prediction logs outlive the servers', () => {
  let ctx: StepContext;
  let proxy: string;
  beforeAll(async () => ({ ctx, proxy } = await projectOn('local', 'logs-local-test')));
  afterAll(() => undeploy(ctx).catch(() => {}));

  it('keeps every answered prediction of removed servers in what mlops monitor reads', async () => {
    const { answered, servers } = await rollThrough(ctx, proxy);
    const retired = (server: string) => server !== servers[2];
    const before = await monitored(ctx);
    expect(missing(answered, before.ids, retired)).toEqual([]);

    await undeploy(ctx);
    const after = await monitored(ctx);
    expect(after.sources).toEqual(servers.map((s) => `server ${s}`));
    expect(missing(answered, after.ids, () => true)).toEqual([]);
    expect((await readdir(dirname(ctx.config.serving.log.path))).sort()).toEqual(servers.map((s) => `${s}.jsonl`).sort());
  }, 180_000);
});

describe.skipIf(!engine)('deploy.target docker: prediction logs outlive the containers (real engine)', () => {
  const PROJECT = 'logs-docker-test';
  const VOLUME = `${PROJECT}-predictions`;
  const docker = new Docker();
  let ctx: StepContext;
  let proxy: string;
  /** Containers and the volume of this project, from an earlier run too. */
  const clean = async () => {
    for (const c of await docker.listContainers({ all: true, filters: { label: [`mlops.project=${PROJECT}`] } }))
      await docker.getContainer(c.Id).remove({ force: true });
    await docker
      .getVolume(VOLUME)
      .remove()
      .catch(() => {});
  };
  beforeAll(async () => {
    await clean();
    ({ ctx, proxy } = await projectOn('docker', PROJECT));
    await buildHostBase(docker, BASE, () => {});
    for (const version of ['v1', 'v2', 'v3']) await buildImage(ctx, { version });
  }, 240_000);
  afterAll(async () => {
    await undeploy(ctx).catch(() => {});
    for (const v of ['v1', 'v2', 'v3'])
      await docker
        .getImage(`${PROJECT}-server:${v}`)
        .remove({ force: true })
        .catch(() => {});
    await clean();
  });

  it('writes every server’s log to the project’s volume, which monitor reads through the engine after the containers are gone', async () => {
    const { answered, servers } = await rollThrough(ctx, proxy);
    const retired = (server: string) => server !== servers[2];
    const before = await monitored(ctx);
    expect(missing(answered, before.ids, retired)).toEqual([]);

    await undeploy(ctx);
    expect(await docker.listContainers({ all: true, filters: { label: [`mlops.project=${PROJECT}`] } })).toEqual([]);
    const after = await monitored(ctx);
    expect(after.sources).toEqual(servers.map((s) => `server ${s}`));
    expect(missing(answered, after.ids, () => true)).toEqual([]);
    // Undeploy keeps the volume, the data, and says so; the readers it took to read it are gone.
    expect((await docker.getVolume(VOLUME).inspect()).Labels).toMatchObject({ 'mlops.project': PROJECT, 'mlops.role': 'predictions' });
    expect((ctx.log as unknown as { lines: { message: string }[] }).lines.map((l) => l.message)).toContain(
      `undeploy: the prediction logs stay in the Docker volume ${VOLUME} (\`docker volume rm ${VOLUME}\` deletes them), for \`mlops monitor\``,
    );
    expect(await docker.listContainers({ all: true, filters: { label: [`mlops.project=${PROJECT}`] } })).toEqual([]);
  }, 300_000);
});
