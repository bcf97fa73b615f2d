import { serve } from '@hono/node-server';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/log.js';
import { openRegistry } from '../../src/registry/registry.js';
import { startProxy, type ProxyOptions } from '../../serving/proxy.js';
import { startServer, type RunningServer } from '../../serving/server.js';
import { isolatedConfig, trainedRun } from '../helpers/model.js';

const TOKEN = 'proxy-test-token';
const record = JSON.parse(readFileSync('data/penguin-request.json', 'utf8')) as Record<string, unknown>;

let root: string;
let config: Config;
/** Two real prediction servers serving the trained champion, v1. */
let a: RunningServer;
let b: RunningServer;

const predictionServer = (name: string) =>
  startServer({
    serving: { ...config.serving, log: { ...config.serving.log, path: join(root, `${name}.jsonl`) } },
    configDir: process.cwd(),
    logger: memoryLogger(),
    port: 0,
    source: { kind: 'registry', registry: openRegistry({ config, configDir: process.cwd(), env: process.env }), alias: 'champion' },
  });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-proxy-'));
  config = await isolatedConfig(root);
  config.serving.shutdown_grace_seconds = 0.5;
  await trainedRun(config, 'proxy');
  [a, b] = await Promise.all([predictionServer('a'), predictionServer('b')]);
});
afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
  await rm(root, { recursive: true, force: true });
});

const opened: { close(): Promise<void> }[] = [];
const stopped: (() => void)[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((p) => p.close()));
  stopped.splice(0).forEach((stop) => stop());
});

/** A proxy on a free port, checking health every 100 ms, closed after the test. */
async function proxy(options: Partial<ProxyOptions> = {}) {
  const logger = memoryLogger();
  const started = await startProxy({ logger, port: 0, adminToken: TOKEN, healthIntervalMs: 100, ...options });
  opened.push(started);
  return { ...started, logger };
}

const register = (proxyUrl: string, id: string, body: unknown, token: string | null = TOKEN) =>
  fetch(`${proxyUrl}/backends/${id}`, {
    method: 'PUT',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const predict = (url: string) =>
  fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(record) });

/** Which backend answered each of `n` predictions sent one after another. */
async function answeredBy(url: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await predict(url);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    ids.push(res.headers.get('x-mlops-backend')!);
  }
  return ids;
}

const tally = (ids: string[]) => ids.reduce<Record<string, number>>((n, id) => ({ ...n, [id]: (n[id] ?? 0) + 1 }), {});

/** Sends predictions from `clients` concurrent clients until `until` settles; every status, and who answered. */
async function underLoad(url: string, until: Promise<unknown>, clients = 10) {
  let done = false;
  void until.finally(() => (done = true));
  const statuses: number[] = [];
  const backends: string[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (!done) {
        const res = await predict(url);
        await res.arrayBuffer();
        statuses.push(res.status);
        backends.push(res.headers.get('x-mlops-backend') ?? 'none');
      }
    }),
  );
  await until;
  return { statuses, backends };
}

/** A stand-in server where only routing matters: it echoes the request, and its /ready, status and delay can be switched. */
async function stub(name: string) {
  const state = { ready: true, status: 200, delayMs: 0 };
  const app = new Hono();
  app.get('/ready', (c) => (state.ready ? c.json({ status: 'ready' }) : c.json({ error: 'not ready' }, 503)));
  app.all('*', async (c) => {
    await new Promise((r) => setTimeout(r, state.delayMs));
    return c.json(
      { name, method: c.req.method, path: c.req.path, query: c.req.query(), headers: c.req.header(), body: await c.req.text() },
      state.status as 200,
      { 'x-stub': name },
    );
  });
  const server = await new Promise<Server>((listening) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => listening(s as Server));
  });
  /** Gone at once, connections and all, as a crashed process. */
  const kill = () => {
    server.close();
    server.closeAllConnections();
  };
  stopped.push(kill);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state, kill };
}

const backends = async (url: string) => (await fetch(`${url}/backends`)).json();

describe('the prediction proxy', () => {
  it('forwards predictions to a registered prediction server, naming the server in x-mlops-backend', async () => {
    const p = await proxy();
    const reg = await register(p.url, 'a', { url: a.url, version: 'v1' });
    expect(reg.status).toBe(201);
    // Checked before the answer: ready to take traffic at once.
    expect(await reg.json()).toMatchObject({ id: 'a', url: a.url, version: 'v1', weight: 1, healthy: true, source: 'registered' });
    expect((await fetch(`${p.url}/ready`)).status).toBe(200);

    const res = await predict(p.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mlops-backend')).toBe('a');
    expect(await res.json()).toMatchObject({ label: 'Gentoo', model_version: 'v1' });
    expect(await backends(p.url)).toEqual([
      { id: 'a', url: a.url, version: 'v1', weight: 1, healthy: true, source: 'registered', requests: 1, last_error: null },
    ]);
  });

  it('refuses registration without a valid admin token (401), and has it off when no token is set (404)', async () => {
    const p = await proxy();
    expect((await register(p.url, 'a', { url: a.url, version: 'v1' }, null)).status).toBe(401);
    expect((await register(p.url, 'a', { url: a.url, version: 'v1' }, 'wrong')).status).toBe(401);
    const del = await fetch(`${p.url}/backends/a`, { method: 'DELETE' });
    expect(del.status).toBe(401);

    const open = await proxy({ adminToken: undefined });
    const off = await register(open.url, 'a', { url: a.url, version: 'v1' });
    expect(off.status).toBe(404);
    expect((await off.json()).error).toContain('MLOPS_ADMIN_TOKEN');
    expect(await backends(open.url)).toEqual([]);
  });

  it.each([
    ['malformed JSON', '{"url": ', 'malformed JSON'],
    ['a server on another host', { url: 'http://10.0.0.7:8080', version: 'v1' }, 'url: expected http(s)://127.0.0.1:<port>'],
    ['a url without a port', { url: 'http://127.0.0.1', version: 'v1' }, 'url: expected'],
    ['a url that is not http', { url: 'ftp://127.0.0.1:2121', version: 'v1' }, 'url: expected'],
    ['no version', { url: 'http://127.0.0.1:8101' }, 'version: expected the model version'],
    ['a negative weight', { url: 'http://127.0.0.1:8101', version: 'v1', weight: -1 }, 'weight: expected a whole number >= 0'],
    ['a misspelt key', { url: 'http://127.0.0.1:8101', version: 'v1', wieght: 2 }, '"wieght"'],
  ])('answers a registration with %s by 400 naming the field', async (_name, body, error) => {
    const p = await proxy();
    const res = await register(p.url, 'a', body);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toContain(error);
    expect(await backends(p.url)).toEqual([]);
  });

  it('balances equal weights round robin', async () => {
    const p = await proxy();
    await register(p.url, 'a', { url: a.url, version: 'v1' });
    await register(p.url, 'b', { url: b.url, version: 'v1' });
    expect(await answeredBy(p.url, 6)).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });

  it('shares by weight: at 3:1 three requests in four go to the heavier server (a canary is the lighter)', async () => {
    const p = await proxy();
    await register(p.url, 'a', { url: a.url, version: 'v1', weight: 3 });
    await register(p.url, 'b', { url: b.url, version: 'v1', weight: 1 });
    expect(tally(await answeredBy(p.url, 40))).toEqual({ a: 30, b: 10 });
  });

  it('drains a server set to weight 0: it gets no new requests but stays listed, and DELETE removes it', async () => {
    const p = await proxy();
    await register(p.url, 'a', { url: a.url, version: 'v1' });
    await register(p.url, 'b', { url: b.url, version: 'v1' });
    const drain = await register(p.url, 'b', { url: b.url, version: 'v1', weight: 0 });
    expect(drain.status).toBe(200);
    expect(await drain.json()).toMatchObject({ id: 'b', weight: 0, healthy: true });
    expect(tally(await answeredBy(p.url, 10))).toEqual({ a: 10 });

    const removed = await fetch(`${p.url}/backends/b`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(removed.status).toBe(204);
    expect((await backends(p.url)).map((x: { id: string }) => x.id)).toEqual(['a']);
    const again = await fetch(`${p.url}/backends/b`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(again.status).toBe(404);
  });

  it.each([
    ['drained to weight 0, then stopped', true],
    ['stopped without draining: its /ready turns 503 and refused connections are retried', false],
  ])('replaces a prediction server under load without a failed request: the old one %s', async (_how, drain) => {
    const p = await proxy();
    const [old, next] = await Promise.all([predictionServer('old'), predictionServer('next')]);
    await register(p.url, 'old', { url: old.url, version: 'v1' });
    const pause = () => new Promise((r) => setTimeout(r, 300));
    const rollout = (async () => {
      await pause();
      await register(p.url, 'next', { url: next.url, version: 'v1' });
      await pause();
      if (drain) await register(p.url, 'old', { url: old.url, version: 'v1', weight: 0 });
      await old.close(); // as on SIGTERM: answers for its grace period, then closes
      await pause();
    })();
    const { statuses, backends: answered } = await underLoad(p.url, rollout);
    await next.close();
    expect(statuses.length).toBeGreaterThan(100);
    expect(tally(statuses.map(String))).toEqual({ 200: statuses.length });
    expect(new Set(answered)).toEqual(new Set(['old', 'next']));
    expect(answered.at(-1)).toBe('next');
  });

  it('retries on another server when one dies mid-stream, and shows the dead one unhealthy', async () => {
    const p = await proxy();
    const [one, two] = await Promise.all([stub('one'), stub('two')]);
    await register(p.url, 'one', { url: one.url, version: 'v1' });
    await register(p.url, 'two', { url: two.url, version: 'v1' });
    const crash = new Promise((r) => setTimeout(r, 200)).then(one.kill).then(() => new Promise((r) => setTimeout(r, 200)));
    const { statuses, backends: answered } = await underLoad(p.url, crash);
    expect(tally(statuses.map(String))).toEqual({ 200: statuses.length });
    expect(answered.at(-1)).toBe('two');
    const listed = await backends(p.url);
    expect(listed.find((x: { id: string }) => x.id === 'one')).toMatchObject({ healthy: false, last_error: expect.any(String) });
    expect(await (await fetch(`${p.url}/metrics`)).text()).toMatch(/mlops_proxy_retries_total\{backend="one",reason="unreachable"\} [1-9]/);
  });

  it('retries a 503 (a server draining, or with no model yet) on another server', async () => {
    const p = await proxy();
    const [busy, fine] = await Promise.all([stub('busy'), stub('fine')]);
    busy.state.status = 503;
    await register(p.url, 'busy', { url: busy.url, version: 'v1' });
    await register(p.url, 'fine', { url: fine.url, version: 'v1' });
    const ids = await answeredBy(p.url, 6);
    expect(tally(ids)).toEqual({ fine: 6 });
    expect(await (await fetch(`${p.url}/metrics`)).text()).toMatch(/mlops_proxy_retries_total\{backend="busy",reason="503"\} [1-9]/);
  });

  it('answers 503 when no server is healthy, and 502 naming the server when the only one fails', async () => {
    const p = await proxy();
    const ready = await fetch(`${p.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ error: 'no healthy prediction server' });
    const none = await predict(p.url);
    expect(none.status).toBe(503);
    expect(await none.json()).toEqual({ error: 'no healthy prediction server', backends: 0 });

    const only = await stub('only');
    await register(p.url, 'only', { url: only.url, version: 'v1' });
    only.kill();
    const failed = await predict(p.url);
    expect(failed.status).toBe(502);
    expect((await failed.json()).error).toMatch(/^prediction server only failed: .*ECONNREFUSED/);
    expect((await predict(p.url)).status).toBe(503);
  });

  it('checks health: two failed checks in a row take a server out, one success brings it back', async () => {
    const p = await proxy({ healthIntervalMs: 60_000 }); // checks run by hand below
    const flaky = await stub('flaky');
    await register(p.url, 'flaky', { url: flaky.url, version: 'v1' });
    const healthy = () => p.pool.get('flaky')!.healthy;

    flaky.state.ready = false;
    await p.pool.checkHealth();
    expect(healthy()).toBe(true); // one failure may be a blip
    await p.pool.checkHealth();
    expect(healthy()).toBe(false);
    expect((await fetch(`${p.url}/ready`)).status).toBe(503);
    expect((await backends(p.url))[0].last_error).toBe('/ready answered 503 (not ready)');

    flaky.state.ready = true;
    await p.pool.checkHealth();
    expect(healthy()).toBe(true);
  });

  it('passes on the method, path, query, headers and body, and returns the status, headers and body', async () => {
    const p = await proxy();
    const echo = await stub('echo');
    echo.state.status = 418;
    await register(p.url, 'echo', { url: echo.url, version: 'v1' });
    const res = await fetch(`${p.url}/some/path?x=1&y=two`, { method: 'PATCH', headers: { 'x-custom': 'kept' }, body: 'hello' });
    expect(res.status).toBe(418);
    expect(res.headers.get('x-stub')).toBe('echo');
    expect(res.headers.get('x-mlops-backend')).toBe('echo');
    const seen = await res.json();
    expect(seen).toMatchObject({ method: 'PATCH', path: '/some/path', query: { x: '1', y: 'two' }, body: 'hello' });
    expect(seen.headers).toMatchObject({ 'x-custom': 'kept', host: new URL(echo.url).host, 'content-length': '5' });
  });

  it("refuses a body over the servers' limit (serving.max_body_bytes) with 413, and forwards one at the limit", async () => {
    const p = await proxy({ maxBodyBytes: 64 });
    const echo = await stub('echo');
    await register(p.url, 'echo', { url: echo.url, version: 'v1' });
    const over = await fetch(`${p.url}/predict`, { method: 'POST', body: 'x'.repeat(65) });
    expect(over.status).toBe(413);
    expect((await over.json()).error).toBe('the body is over serving.max_body_bytes (64 bytes)');
    const at = await fetch(`${p.url}/predict`, { method: 'POST', body: 'x'.repeat(64) });
    expect(at.status).toBe(200);
    expect((await at.json()).body).toBe('x'.repeat(64));
  });

  it('exports Prometheus metrics: requests by backend, version and status, retries, upstream latency, backend health', async () => {
    const p = await proxy();
    await register(p.url, 'a', { url: a.url, version: 'v1' });
    await answeredBy(p.url, 3);
    const text = await (await fetch(`${p.url}/metrics`)).text();
    for (const line of [
      'mlops_proxy_requests_total{backend="a",model_version="v1",status="200"} 3',
      'mlops_proxy_upstream_duration_seconds_count{backend="a",model_version="v1"} 3',
      'mlops_proxy_retries_total',
      'mlops_proxy_healthy_backends 1',
      'mlops_proxy_backend_up{backend="a",model_version="v1",source="registered"} 1',
    ]) {
      expect(text).toContain(line);
    }
  });

  it('closes at once while a connection that never sent a request is open, as a browser opens them ahead of need', async () => {
    const p = await proxy();
    const idle = connect(Number(new URL(p.url).port), '127.0.0.1');
    await once(idle, 'connect');
    const ended = once(idle, 'close');
    const started = Date.now();
    await opened.pop()!.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await ended;
  });

  it('answers the prediction in flight when it closes, then ends its kept-alive connection instead of waiting on it', async () => {
    const p = await proxy();
    const slow = await stub('slow');
    slow.state.delayMs = 500;
    expect((await register(p.url, 'slow', { url: slow.url, version: 'v1' })).status).toBe(201);
    const answer = predict(p.url);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const closed = opened.pop()!.close();
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBe('close');
    expect((await res.json()).name).toBe('slow');
    await closed;
    // The rest of the 500 ms, not the 65 s a kept-alive connection may otherwise idle.
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('says a taken port is a config error, and how to fix it', async () => {
    const p = await proxy();
    const port = Number(new URL(p.url).port);
    await expect(startProxy({ logger: memoryLogger(), port })).rejects.toMatchObject({
      errorClass: 'config',
      message: `port ${port} on 127.0.0.1 is taken`,
      hint: expect.stringContaining('deploy.proxy.port'),
    });
  });
});

describe('mlops proxy', () => {
  it('prints its URL, forwards to the servers registered with MLOPS_ADMIN_TOKEN, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['bin/mlops.js', 'proxy', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MLOPS_ADMIN_TOKEN: TOKEN },
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        const m = /http:\/\/127\.0\.0\.1:\d+/.exec(String(d));
        if (m) resolve(m[0]);
      });
      void exited.then(() => reject(new Error(`proxy exited: ${stderr}`)));
    });
    expect((await register(url, 'a', { url: a.url, version: 'v1' })).status).toBe(201);
    expect((await predict(url)).headers.get('x-mlops-backend')).toBe('a');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('prediction proxy stopped');
  });
});
