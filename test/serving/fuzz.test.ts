import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../serving/server.js';
import { championServer, isolatedConfig, trainedRun } from '../helpers/model.js';
import { fuzzPayloads } from './fuzz-corpus.js';

let root: string;
let server: RunningServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-fuzz-'));
  const config = await isolatedConfig(root);
  await trainedRun(config, 'fuzz');
  server = await championServer(config);
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe('fuzzing /predict', () => {
  it('answers 2,500 random and malformed payloads without a single 5xx, and keeps answering', async () => {
    const statuses = new Map<number, number>();
    const payloads = fuzzPayloads(2500);
    for (let batch = 0; batch < 125; batch++) {
      await Promise.all(
        payloads.slice(batch * 20, batch * 20 + 20).map(async ({ body, type }) => {
          const res = await fetch(`${server.url}/predict`, { method: 'POST', headers: type ? { 'content-type': type } : {}, body });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }),
      );
    }
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(2500);
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect(statuses.get(422)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(415)).toBeGreaterThan(0);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});
