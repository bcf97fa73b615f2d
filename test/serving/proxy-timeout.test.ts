import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../serving/server.js';
import { penguinRequest } from '../helpers/load.js';
import { championServer, isolatedConfig, trainedRun } from '../helpers/model.js';

/**
 * The proxy's upstream timeout, with the proxy as `mlops proxy` runs it (its own process, reading
 * deploy.proxy from its config file) in front of real servers on 127.0.0.1.
 */
const TIMEOUT_MS = 2000;
/** The promise: every client has its answer within the timeout, and 10% for the way there and back. */
const PROMISE_MS = TIMEOUT_MS * 1.1;
const TOKEN = 'timeout-test-token';

let root: string;
let configFile: string;
/** A prediction server serving the trained champion. */
let healthy: RunningServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-proxy-timeout-'));
  const config = await isolatedConfig(root);
  config.deploy.proxy.upstream_timeout_ms = TIMEOUT_MS;
  config.deploy.proxy.health_interval_seconds = 0.2;
  await trainedRun(config, 'timeout');
  healthy = await championServer(config);
  configFile = join(root, 'mlops.config.yaml');
  await writeFile(configFile, stringify(config));
});
afterAll(async () => {
  await healthy.close();
  await rm(root, { recursive: true, force: true });
});

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((stop) => stop()));
});

/** `mlops proxy` with the test's config, stopped after the test. */
async function proxyProcess(): Promise<string> {
  const child = spawn(process.execPath, ['bin/mlops.js', '--config', configFile, 'proxy', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MLOPS_ADMIN_TOKEN: TOKEN },
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  cleanup.push(async () => {
    child.kill('SIGTERM');
    // It finishes the requests in flight first; one still hanging (a failed test) must not keep it running.
    const killed = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killed);
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(String(d));
      if (m) resolve(m[0]);
    });
    void exited.then(() => reject(new Error(`mlops proxy exited: ${stderr}`)));
  });
}

/**
 * A server that answers, until it hangs: then it takes every connection and request and never
 * answers, /ready included, as a server stuck on a deadlock does.
 */
async function hangingServer() {
  let hung = false;
  const server = createServer((_req, res) => {
    if (!hung) res.setHeader('content-type', 'application/json').end('{"status":"ready"}');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  cleanup.push(async () => {
    server.closeAllConnections();
    await new Promise((closed) => server.close(closed));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hang: () => (hung = true),
    recover: () => (hung = false),
  };
}

const register = async (proxyUrl: string, id: string, url: string) => {
  const res = await fetch(`${proxyUrl}/backends/${id}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ url, version: 'v1' }),
  });
  expect(await res.json()).toMatchObject({ id, healthy: true });
};

const backend = async (proxyUrl: string, id: string) =>
  ((await (await fetch(`${proxyUrl}/backends`)).json()) as { id: string; healthy: boolean; requests: number }[]).find((b) => b.id === id);

/** One prediction through the proxy: its status, body and how long the client waited for it. */
async function timedPrediction(proxyUrl: string) {
  const began = performance.now();
  const res = await fetch(`${proxyUrl}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: penguinRequest });
  const body: unknown = await res.json();
  return { status: res.status, type: res.headers.get('content-type'), body, waitedMs: performance.now() - began };
}

describe('the proxy with a server that hangs', () => {
  it('answers every client within the timeout under load: a prediction the hung server swallowed is retried on the healthy one, and the hung one leaves rotation', async () => {
    const proxy = await proxyProcess();
    const stuck = await hangingServer();
    await register(proxy, 'stuck', stuck.url);
    await register(proxy, 'fine', healthy.url);
    stuck.hang(); // it passed its health check; now it takes requests and never answers

    const requests = 1000;
    const load = await autocannon({
      url: `${proxy}/predict`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: penguinRequest,
      connections: 20,
      amount: requests,
      timeout: 30, // seconds: the client waits for the proxy's answer, however long it takes
    });

    expect({ errors: load.errors, timeouts: load.timeouts, ok: load['2xx'], other: load.non2xx }).toEqual({
      errors: 0,
      timeouts: 0,
      ok: requests,
      other: 0,
    });
    // Some clients did wait on the hung server, half the timeout, before their retry answered; none longer than promised.
    expect(load.latency.max).toBeGreaterThanOrEqual(TIMEOUT_MS / 2);
    expect(load.latency.max).toBeLessThanOrEqual(PROMISE_MS);
    const metrics = await (await fetch(`${proxy}/metrics`)).text();
    expect(metrics).toMatch(/mlops_proxy_retries_total\{backend="stuck",reason="timeout"\} [1-9]/);
    expect(await backend(proxy, 'fine')).toMatchObject({ healthy: true, requests });
    expect(await backend(proxy, 'stuck')).toMatchObject({ healthy: false, requests: 0 });

    // Out of rotation until a health check finds it answering again.
    stuck.recover();
    await expect.poll(async () => (await backend(proxy, 'stuck'))?.healthy, { timeout: 5000 }).toBe(true);
  });

  it('answers 504 naming the server and the timeout when the only server hangs, within the timeout', async () => {
    const proxy = await proxyProcess();
    const stuck = await hangingServer();
    await register(proxy, 'stuck', stuck.url);
    stuck.hang();

    const answers = await Promise.all(Array.from({ length: 5 }, () => timedPrediction(proxy)));
    for (const { status, type, body, waitedMs } of answers) {
      expect({ status, type, body }).toEqual({
        status: 504,
        type: 'application/json',
        body: { error: 'prediction server stuck did not answer within deploy.proxy.upstream_timeout_ms (2000 ms)', timeout_ms: 2000 },
      });
      // With no other server to retry on it had the whole timeout.
      expect(waitedMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
      expect(waitedMs).toBeLessThanOrEqual(PROMISE_MS);
    }
    // It left rotation: the next client is told at once.
    const next = await timedPrediction(proxy);
    expect(next).toMatchObject({ status: 503, body: { error: 'no healthy prediction server' } });
    expect(next.waitedMs).toBeLessThan(TIMEOUT_MS / 2);
  });

  it('answers 504 naming both when the retry hangs too, still within the timeout', async () => {
    const proxy = await proxyProcess();
    const [one, two] = await Promise.all([hangingServer(), hangingServer()]);
    await register(proxy, 'one', one.url);
    await register(proxy, 'two', two.url);
    one.hang();
    two.hang();

    const { status, body, waitedMs } = await timedPrediction(proxy);
    expect({ status, body }).toEqual({
      status: 504,
      body: { error: 'prediction servers one and two did not answer within deploy.proxy.upstream_timeout_ms (2000 ms)', timeout_ms: 2000 },
    });
    expect(waitedMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(waitedMs).toBeLessThanOrEqual(PROMISE_MS);
  });
});
