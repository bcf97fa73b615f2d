import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/log.js';
import { openRegistry } from '../../src/registry/registry.js';
import { startServer } from '../../serving/server.js';
import { answeredUntilKilled } from '../helpers/load.js';
import { isolatedConfig, trainedRun } from '../helpers/model.js';

let root: string;
let config: Config;
let configFile: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-serve-cli-'));
  config = await isolatedConfig(root);
  config.data.source.query = config.data.source.query.replace(
    "'data/penguins_raw.csv'",
    `'${join(process.cwd(), 'data/penguins_raw.csv')}'`,
  );
  await trainedRun(config, 'one');
  configFile = join(root, 'mlops.config.yaml');
  await writeFile(configFile, stringify(config));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const record = {
  island: 'Dream',
  clutch_completion: true,
  culmen_length_mm: 49,
  culmen_depth_mm: 18.5,
  flipper_length_mm: 195,
  body_mass_g: 3700,
  sex: 'MALE',
  delta_15_n: 9.5,
  delta_13_c: -24.5,
};

/** Starts `mlops serve` with the config `file` as a user would and waits for its URL. */
async function serveWith(file: string, ...args: string[]) {
  const child = spawn(process.execPath, ['bin/mlops.js', '--config', file, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(String(d));
      if (m) resolve(m[0]);
    });
    child.on('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, url, exited, stderr: () => stderr };
}
const serve = (...args: string[]) => serveWith(configFile, ...args);

/** The shared config with `serving.log` changed, written to a file of its own. */
async function configWithLog(name: string, log: Partial<Config['serving']['log']>): Promise<string> {
  const file = join(root, `${name}.yaml`);
  await writeFile(file, stringify({ ...config, serving: { ...config.serving, log: { ...config.serving.log, ...log } } }));
  return file;
}

const predict = (url: string) =>
  fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(record) });

describe('mlops serve', () => {
  it('on SIGTERM stops accepting, finishes in-flight requests, flushes the prediction log and exits 0', async () => {
    const server = await serve();
    const responses = await Promise.all(Array.from({ length: 200 }, () => predict(server.url).then((r) => r.status)));
    expect(new Set(responses)).toEqual(new Set([200]));
    const inFlight = Array.from({ length: 20 }, () => predict(server.url).then((r) => r.status));
    server.child.kill('SIGTERM');
    expect(new Set(await Promise.all(inFlight))).toEqual(new Set([200]));
    expect(await server.exited).toBe(0);
    const lines = (await readFile(config.serving.log.path, 'utf8')).trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(220);
  });

  it('serves a fixed model folder as is (model-in-image)', async () => {
    const { dir } = await openRegistry({ config, configDir: process.cwd(), env: process.env }).open('v1');
    const server = await serve('--model-dir', dir);
    expect(await (await fetch(`${server.url}/ready`)).json()).toEqual({ status: 'ready', model_version: 'v1' });
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});

describe('serving.log.ack: write', () => {
  it('answers a prediction only once it is in the log: after kill -9 under load, every answered one is there', async () => {
    const path = join(root, 'ack-write', 'predictions.jsonl');
    const server = await serveWith(await configWithLog('ack-write', { path, ack: 'write' }));
    const answered = await answeredUntilKilled(server.url, 20_000, () => (server.child.kill('SIGKILL'), server.exited));
    const lines = (await readFile(path, 'utf8')).trim().split('\n').length;
    expect(lines).toBeGreaterThanOrEqual(answered);
  });

  it('answers 503 with the reason when the log cannot be written, where the default answers and counts the loss', async () => {
    const blocked = join(root, 'not-a-folder');
    await writeFile(blocked, '');
    const path = join(blocked, 'predictions.jsonl');
    for (const [ack, status] of [
      ['write', 503],
      ['queue', 200],
    ] as const) {
      const server = await serveWith(await configWithLog(`unwritable-${ack}`, { path, ack }));
      const res = await predict(server.url);
      expect(res.status).toBe(status);
      if (ack === 'write') {
        expect(res.headers.get('retry-after')).toBe('1');
        expect((await res.json()).error).toContain('serving.log.ack is write');
      }
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

describe('model-load mode', () => {
  it('picks up a new champion by polling, while serving', async () => {
    const polling = structuredClone(config);
    polling.serving.poll_seconds = 0.2;
    const server = await startServer({
      serving: polling.serving,
      configDir: process.cwd(),
      logger: memoryLogger(),
      port: 0,
      poll: true,
      source: {
        kind: 'registry',
        registry: openRegistry({ config: polling, configDir: process.cwd(), env: process.env }),
        alias: 'champion',
      },
    });
    try {
      const before = (await (await fetch(`${server.url}/ready`)).json()).model_version;
      await trainedRun(config, 'newer', 11);
      const after = (await openRegistry({ config, configDir: process.cwd(), env: process.env }).aliases()).champion;
      expect(after).not.toBe(before);
      for (let i = 0; i < 50 && (await (await fetch(`${server.url}/ready`)).json()).model_version !== after; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect((await (await fetch(`${server.url}/ready`)).json()).model_version).toBe(after);
    } finally {
      await server.close();
    }
  });
});
