import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { judge } from '../../src/deploy/release/verdict.js';
import { memoryLogger } from '../../src/log.js';
import type { ReleaseComparison } from '../../src/step-outputs.js';
import { startProxy } from '../../serving/proxy.js';

/**
 * A canary in the proxy under load, with stand-in servers: what is under test is the proxy's
 * routing and retries, and what deploy.verdict makes of the numbers it measured.
 */
const TOKEN = 'canary-test-token';
const REQUESTS = 1000;
const PREDICTION = JSON.stringify({ label: 'Adelie', probabilities: { Adelie: 0.9, Chinstrap: 0.05, Gentoo: 0.05 }, model_version: 'v1' });

const closing: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

/** A prediction server stand-in: answers after `delayMs`, with a 500 for every `failEvery`-th request. */
async function stub(delayMs: number, failEvery = 0) {
  let n = 0;
  const app = new Hono();
  app.get('/ready', (c) => c.json({ status: 'ready' }));
  app.post('/predict', async (c) => {
    await new Promise((r) => setTimeout(r, delayMs));
    if (failEvery && ++n % failEvery === 0) return c.json({ error: 'boom' }, 500);
    return c.body(PREDICTION, 200, { 'content-type': 'application/json' });
  });
  const server = await new Promise<Server>((up) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => up(s as Server));
  });
  closing.push(() => {
    server.close();
    server.closeAllConnections();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A canary of `candidate` at weight 0.2 beside `champion`, under REQUESTS predictions from 10 connections. */
async function canaryUnderLoad(champion: string, candidate: string) {
  const proxy = await startProxy({ logger: memoryLogger(), port: 0, adminToken: TOKEN, healthIntervalMs: 100 });
  closing.push(() => proxy.close());
  const admin = (method: string, path: string, body?: object) =>
    fetch(`${proxy.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` }, body: body && JSON.stringify(body) });
  await admin('PUT', '/release', { mode: 'canary', url: candidate, share: 0.2 });
  await admin('PUT', '/backends/champion', { url: champion, version: 'v1' });
  await admin('PUT', '/backends/candidate', { url: candidate, version: 'v2' });
  const load = await autocannon({
    url: `${proxy.url}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
    connections: 10,
    amount: REQUESTS,
  });
  const comparison = (await (await admin('DELETE', '/release')).json()) as ReleaseComparison;
  const { config } = await loadConfig('mlops.config.yaml', process.env);
  const verdict = judge(comparison, { ...config.deploy, canary: { weight: 0.2, min_requests: 100 } }, { version: 'v2', champion: 'v1' });
  return { clients: { errors: load.errors, timeouts: load.timeouts, ok: load['2xx'], other: load.non2xx }, comparison, verdict };
}

const noFailures = { errors: 0, timeouts: 0, ok: REQUESTS, other: 0 };

describe('a canary release under load', () => {
  it('passes a healthy candidate, which answered its share', async () => {
    const { clients, comparison, verdict } = await canaryUnderLoad(await stub(15), await stub(15));
    expect(clients).toEqual(noFailures);
    expect(comparison.candidate.requests).toBe(REQUESTS * 0.2);
    expect(comparison.champion.requests).toBe(REQUESTS * 0.8);
    expect(verdict.failures).toEqual([]);
    expect(verdict.passed).toBe(true);
  });

  it('fails a candidate answering 500 to a share of requests, retrying each on the champion', async () => {
    const { clients, comparison, verdict } = await canaryUnderLoad(await stub(2), await stub(2, 4));
    expect(clients).toEqual(noFailures);
    expect(comparison.candidate.errors).toBe(REQUESTS * 0.2 * 0.25);
    expect(verdict.passed).toBe(false);
    expect(verdict.failures.join()).toMatch(/error rate 25\.0% \(50 of 200\) is over deploy\.verdict\.max_error_rate 1\.0%/);
  });

  it('fails a candidate ten times slower than the champion', async () => {
    const { clients, comparison, verdict } = await canaryUnderLoad(await stub(15), await stub(150));
    expect(clients).toEqual(noFailures);
    expect(comparison.candidate.errors).toBe(0);
    expect(verdict.passed).toBe(false);
    expect(verdict.p99_ratio).toBeGreaterThan(2);
    expect(verdict.failures.join()).toMatch(/p99 latency .* over deploy\.verdict\.max_p99_latency_ratio 2/);
  });
});
