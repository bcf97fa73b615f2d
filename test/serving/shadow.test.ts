import { serve } from '@hono/node-server';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/log.js';
import { pollUntil } from '../../src/poll.js';
import { openRegistry } from '../../src/registry/registry.js';
import type { ReleaseComparison } from '../../src/step-outputs.js';
import { startProxy } from '../../serving/proxy.js';
import { startServer, type RunningServer } from '../../serving/server.js';
import { isolatedConfig, trainedRun } from '../helpers/model.js';
import { penguinRecords } from './penguin-records.js';
import { registerRotatedVersion } from './rotated-model.js';

/** A shadow release in the proxy, in front of real prediction servers on 127.0.0.1. */
const TOKEN = 'shadow-test-token';
const JSON_BODY = { 'content-type': 'application/json' };
const records = penguinRecords();

let root: string;
let config: Config;
let champion: RunningServer;
let retrained: RunningServer;
let rotated: RunningServer;
let proxy: { url: string; close(): Promise<void> };

const serveVersion = (version: string) =>
  startServer({
    serving: { ...config.serving, log: { ...config.serving.log, path: join(root, `${version}.jsonl`) } },
    configDir: process.cwd(),
    logger: memoryLogger(),
    port: 0,
    source: { kind: 'registry', registry: openRegistry({ config, configDir: process.cwd(), env: process.env }), alias: version },
  });

const admin = (method: string, path: string, body?: object) =>
  fetch(`${proxy.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` }, body: body && JSON.stringify(body) });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-shadow-'));
  config = await isolatedConfig(root);
  await trainedRun(config, 'champion');
  const second = await trainedRun(config, 'retrained', 7);
  const rotatedVersion = await registerRotatedVersion(config);
  expect(second.result.record?.version).toBe('v2');
  [champion, retrained, rotated] = await Promise.all([serveVersion('v1'), serveVersion('v2'), serveVersion(rotatedVersion)]);
  proxy = await startProxy({ logger: memoryLogger(), port: 0, adminToken: TOKEN, healthIntervalMs: 100 });
  await admin('PUT', '/backends/champion', { url: champion.url, version: 'v1' });
}, 240_000);
afterAll(async () => {
  await proxy.close();
  await Promise.all([champion, retrained, rotated].map((s) => s.close()));
  await rm(root, { recursive: true, force: true });
});

/** Every sample penguin, a request each from 8 clients at once; what the clients got back. */
async function sendAll(): Promise<{ statuses: number[]; versions: Set<string>; backends: Set<string> }> {
  const queue = [...records];
  const statuses: number[] = [];
  const versions = new Set<string>();
  const backends = new Set<string>();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let r = queue.pop(); r; r = queue.pop()) {
        const res = await fetch(`${proxy.url}/predict`, { method: 'POST', headers: JSON_BODY, body: JSON.stringify(r) });
        statuses.push(res.status);
        if (res.status !== 200) throw new Error(`${res.status}: ${await res.text()}`);
        versions.add(((await res.json()) as { model_version: string }).model_version);
        backends.add(res.headers.get('x-mlops-backend')!);
      }
    }),
  );
  return { statuses, versions, backends };
}

/** Runs a shadow of `url` over every sample penguin; what clients saw, and the comparison once every copy is answered. */
async function shadowOf(url: string) {
  expect((await admin('PUT', '/release', { mode: 'shadow', url, share: 1 })).status).toBe(200);
  await admin('PUT', '/backends/candidate', { url, version: 'candidate' });
  const seen = await sendAll();
  let report!: ReleaseComparison;
  await pollUntil(
    10_000,
    async () => {
      report = (await (await fetch(`${proxy.url}/release`)).json()) as ReleaseComparison;
      return report.candidate.requests === records.length;
    },
    () => {
      throw new Error(`the shadow answered ${report.candidate.requests} of ${records.length} copies`);
    },
  );
  expect((await admin('DELETE', '/release')).status).toBe(200);
  await admin('DELETE', '/backends/candidate');
  return { seen, report };
}

/** A server that fails every prediction, and is ready. */
async function failingServer() {
  const app = new Hono();
  app.get('/ready', (c) => c.json({ status: 'ready' }));
  app.post('/predict', (c) => c.json({ error: 'broken' }, 500));
  const server = await new Promise<Server>((up) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => up(s as Server));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

describe('a shadow release', () => {
  it('finds a retrained copy of the champion in agreement, while clients see only the champion', async () => {
    const { seen, report } = await shadowOf(retrained.url);
    expect(seen.statuses.every((s) => s === 200)).toBe(true);
    expect([...seen.versions]).toEqual(['v1']);
    expect([...seen.backends]).toEqual(['champion']);
    expect(report.pairs).toBe(records.length);
    expect(report.candidate.errors).toBe(0);
    expect(report.agreement).toBeGreaterThan(0.9);
    expect(report.champion.p99_ms).toBeGreaterThan(0);
    expect(report.candidate.p99_ms).toBeGreaterThan(0);
  });

  it('finds a model with rotated labels in disagreement', async () => {
    const { seen, report } = await shadowOf(rotated.url);
    expect([...seen.versions]).toEqual(['v1']);
    expect(report.pairs).toBe(records.length);
    expect(report.agreement).toBeLessThan(0.1);
  });

  it("counts a failing shadow's errors, and no client sees one", async () => {
    const failing = await failingServer();
    try {
      const { seen, report } = await shadowOf(failing.url);
      expect(seen.statuses.every((s) => s === 200)).toBe(true);
      expect([...seen.versions]).toEqual(['v1']);
      expect(report.candidate.errors).toBe(records.length);
      expect(report.pairs).toBe(0);
    } finally {
      failing.close();
    }
  });

  it('mirrors only the configured share, and refuses a share outside (0, 1] naming the field', async () => {
    const bad = await admin('PUT', '/release', { mode: 'shadow', url: retrained.url, share: 1.5 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/share: expected a number in \(0, 1\]/);
    await admin('PUT', '/release', { mode: 'shadow', url: retrained.url, share: 0.25 });
    await admin('PUT', '/backends/candidate', { url: retrained.url, version: 'v2' });
    for (let i = 0; i < 40; i++)
      await (await fetch(`${proxy.url}/predict`, { method: 'POST', headers: JSON_BODY, body: JSON.stringify(records[i]) })).text();
    await new Promise((r) => setTimeout(r, 300));
    const report = (await (await admin('DELETE', '/release')).json()) as ReleaseComparison;
    await admin('DELETE', '/backends/candidate');
    expect(report.champion.requests).toBe(40);
    expect(report.candidate.requests).toBe(10);
  });
});
