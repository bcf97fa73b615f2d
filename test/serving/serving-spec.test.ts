import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { proxySpecFor, serverSpecFor } from '../../src/serving-spec.js';
import { mlops } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';

const config = parseConfig(
  {
    version: 1,
    project: 'spec-test',
    data: {
      source: { kind: 'duckdb', query: 'SELECT 1 AS age, 2 AS label' },
      contract: { columns: { age: { type: 'float' }, label: { type: 'label' } } },
    },
  },
  {},
);
const goodServer = serverSpecFor(config, { port: 8123, model_dir: '/app/model', prediction_log: '/tmp/p.jsonl' });

/** Runs an image's entry point (serving/main.ts or proxy-main.ts) from its sources with `env`, until it exits. */
const entryPoint = (file: string, env: Record<string, string>) =>
  spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-spec-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe("a prediction server's spec", () => {
  it('with a bad key stops the server in an image at start-up, naming the key, in one line and exit code 1', () => {
    const spec = { ...goodServer, port: 'eighty' };
    const run = entryPoint('serving/main.ts', { MLOPS_SERVER_SPEC: JSON.stringify(spec) });
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).message).toContain('MLOPS_SERVER_SPEC is not a valid spec: port: expected number, got "eighty"');
  });

  it('with a key it does not know stops `mlops serve --spec` with a config error naming the file and the key', async () => {
    const file = join(root, 'server.spec.json');
    await writeFile(file, JSON.stringify({ ...goodServer, serving: { ...goodServer.serving, max_body_byte: 10 } }));
    const run = mlops('serve', '--spec', file);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${file} is not a valid spec: serving.max_body_byte: unknown key; did you mean "max_body_bytes"?`);
  });
});

describe("a proxy's spec", () => {
  it('naming a discovery the proxy does not have stops it at start-up, with the ones it has', () => {
    const spec = proxySpecFor(config, { discovery: { name: 'kubernetes' as 'docker', project: 'p' } });
    const run = entryPoint('serving/proxy-main.ts', { MLOPS_PROXY_SPEC: JSON.stringify(spec) });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      'MLOPS_PROXY_SPEC is not a valid spec: discovery.name: expected one of docker, swarm, got \\"kubernetes\\"',
    );
  });

  it('missing stops the proxy in an image at start-up, saying which variable carries it', () => {
    const run = entryPoint('serving/proxy-main.ts', { MLOPS_PROXY_SPEC: '' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('MLOPS_PROXY_SPEC is not set');
  });

  it("is what the proxy runs by: its port, and the servers' body limit", async () => {
    const port = await freePort();
    const spec = { ...proxySpecFor(config), port, max_body_bytes: 64 };
    const proxy = spawn(process.execPath, ['--import', 'tsx', 'serving/proxy-main.ts'], {
      env: { ...process.env, MLOPS_PROXY_SPEC: JSON.stringify(spec) },
      detached: true,
      stdio: 'ignore',
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      for (
        let i = 0;
        i < 300 &&
        !(await fetch(`${url}/health`).then(
          (r) => r.ok,
          () => false,
        ));
        i++
      )
        await new Promise((r) => setTimeout(r, 100));
      const over = await fetch(`${url}/predict`, { method: 'POST', body: 'x'.repeat(65) });
      expect(over.status).toBe(413);
      expect(await over.json()).toEqual({ error: 'the body is over serving.max_body_bytes (64 bytes)' });
      // At the limit it is forwarded: to no server here.
      expect((await fetch(`${url}/predict`, { method: 'POST', body: 'x'.repeat(64) })).status).toBe(503);
    } finally {
      process.kill(-proxy.pid!, 'SIGTERM');
    }
  }, 60_000);
});
