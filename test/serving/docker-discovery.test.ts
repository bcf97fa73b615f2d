import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Docker from 'dockerode';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildHostBase } from '../../src/image/base.js';
import { openDocker } from '../../src/image/docker.js';
import { memoryLogger } from '../../src/log.js';
import { backendFromLabels, discoverContainers } from '../../serving/docker-discovery.js';
import { startProxy } from '../../serving/proxy.js';
import { freePort } from '../helpers/ports.js';
import { dockerEngine } from '../helpers/services.js';

const engine = await dockerEngine();
const BASE = 'mlops-proxy-test-base:host';
const PROJECT = `proxy-test-${process.pid}`;

// A prediction server in miniature: ready at once, and answers every prediction with its version.
const SERVER = `
const port = Number(process.env.PORT);
require('node:http').createServer((req, res) => {
  req.resume();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(req.url === '/ready' ? { status: 'ready' } : { label: 'Gentoo', model_version: process.env.VERSION }));
}).listen(port, '127.0.0.1');
`;

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((p) => p.close()));
});

const predict = (url: string) => fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });

describe('labels of a prediction server container', () => {
  it('name its port, model version and weight', () => {
    expect(backendFromLabels({ 'mlops.port': '8101', 'mlops.model.version': 'v4', 'mlops.weight': '9' }, 'docker')).toEqual({
      url: 'http://127.0.0.1:8101',
      version: 'v4',
      weight: 9,
      source: 'docker',
    });
    expect(backendFromLabels({ 'mlops.port': '8101' }, 'docker')).toMatchObject({ version: 'unknown', weight: 1 });
    expect(backendFromLabels({}, 'docker')).toBe('label mlops.port is "", expected the port the server listens on');
    expect(backendFromLabels({ 'mlops.port': '8101', 'mlops.weight': '-1' }, 'docker')).toContain('label mlops.weight is "-1"');
  });
});

describe('a proxy whose Docker engine does not answer', () => {
  it('still starts and serves registered servers, and says once where it looked for the engine', async () => {
    const app = new Hono();
    app.get('/ready', (c) => c.json({ status: 'ready' }));
    app.post('/predict', (c) => c.json({ label: 'Adelie' }));
    const server = await new Promise<Server>((listening) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => listening(s as Server));
    });
    const logger = memoryLogger();
    const proxy = await startProxy({
      logger,
      port: 0,
      adminToken: 'dead-daemon-token',
      discover: (pool, logger) =>
        discoverContainers(pool, { docker: new Docker({ socketPath: '/nonexistent/docker.sock' }), project: PROJECT, logger }),
    });
    opened.push(proxy, { close: async () => void server.close() });
    const reg = await fetch(`${proxy.url}/backends/local`, {
      method: 'PUT',
      headers: { authorization: 'Bearer dead-daemon-token' },
      body: JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, version: 'v1' }),
    });
    expect(reg.status).toBe(201);
    expect((await predict(proxy.url)).status).toBe(200);
    // Reconnects keep failing meanwhile: still one line.
    await new Promise((r) => setTimeout(r, 2500));
    const errors = logger.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^Docker discovery paused: the Docker engine at .* did not answer .*DOCKER_HOST/);
    expect((await predict(proxy.url)).status).toBe(200);
  });
});

describe.skipIf(!engine)('Docker label discovery (real Docker engine)', () => {
  const docker = openDocker(process.env);
  const containers: Docker.Container[] = [];

  beforeAll(async () => {
    await buildHostBase(docker, BASE, () => {});
  }, 120_000);
  afterAll(async () => {
    await Promise.all(containers.map((c) => c.remove({ force: true }).catch(() => {})));
    await docker
      .getImage(BASE)
      .remove({ force: true })
      .catch(() => {});
  });

  /** Runs the miniature server on the host network with the labels `mlops build` and the deployer set. */
  async function serverContainer(version: string, labels: Record<string, string> = {}) {
    const port = await freePort();
    const container = await docker.createContainer({
      Image: BASE,
      Cmd: ['node', '-e', SERVER],
      Env: [`PORT=${port}`, `VERSION=${version}`],
      HostConfig: { NetworkMode: 'host' },
      Labels: { 'mlops.project': PROJECT, 'mlops.role': 'server', 'mlops.port': String(port), 'mlops.model.version': version, ...labels },
    });
    containers.push(container);
    await container.start();
    const name = (await container.inspect()).Name.slice(1);
    return { container, name, port };
  }

  it('finds running servers at start and new ones within a second or two, forwards to them, and drops a killed one at once', async () => {
    const first = await serverContainer('v1');
    const other = await serverContainer('v1', { 'mlops.project': `${PROJECT}-other` });
    const proxy = await startProxy({
      logger: memoryLogger(),
      port: 0,
      healthIntervalMs: 200,
      discover: (pool, logger) => discoverContainers(pool, { docker, project: PROJECT, logger }),
    });
    opened.push(proxy);
    const listed = async () => (await (await fetch(`${proxy.url}/backends`)).json()) as { id: string; healthy: boolean }[];

    await expect.poll(listed, { timeout: 5000 }).toEqual([
      {
        id: first.name,
        url: `http://127.0.0.1:${first.port}`,
        version: 'v1',
        weight: 1,
        healthy: true,
        source: 'docker',
        requests: 0,
        last_error: null,
      },
    ]);
    const res = await predict(proxy.url);
    expect(res.headers.get('x-mlops-backend')).toBe(first.name);
    expect(await res.json()).toEqual({ label: 'Gentoo', model_version: 'v1' });

    const second = await serverContainer('v2');
    const started = performance.now();
    await expect.poll(async () => (await listed()).find((b) => b.id === second.name)?.healthy, { timeout: 3000, interval: 50 }).toBe(true);
    expect(performance.now() - started).toBeLessThan(2500);
    expect((await listed()).map((b) => b.id)).not.toContain(other.name);

    await first.container.kill();
    await expect.poll(async () => (await listed()).map((b) => b.id), { timeout: 2000, interval: 50 }).toEqual([second.name]);
    for (let i = 0; i < 4; i++) expect((await predict(proxy.url)).headers.get('x-mlops-backend')).toBe(second.name);
    await Promise.all([second.container.kill(), other.container.kill()]);
  }, 60_000);

  it('keeps a discovered container out of reach of PUT and DELETE: its labels decide', async () => {
    const server = await serverContainer('v1');
    const proxy = await startProxy({
      logger: memoryLogger(),
      port: 0,
      adminToken: 'docker-test-token',
      discover: (pool, logger) => discoverContainers(pool, { docker, project: PROJECT, logger }),
    });
    opened.push(proxy);
    await expect.poll(() => proxy.pool.get(server.name)?.healthy, { timeout: 5000 }).toBe(true);
    const res = await fetch(`${proxy.url}/backends/${server.name}`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer docker-test-token' },
    });
    expect(res.status).toBe(409);
    expect((await res.json()).error).toContain('found by docker discovery');
    await server.container.kill();
  }, 60_000);
});
