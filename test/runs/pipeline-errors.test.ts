import { spawnSync } from 'node:child_process';
import { stat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { createContext } from '../../src/context.js';
import { dataError, MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { runPipeline, steps, type Step } from '../../src/pipeline.js';
import { silentProgress } from '../../src/progress.js';
import { readRun } from '../../src/runs/ledger.js';
import { backoffMs } from '../../src/runs/retry.js';
import { isolatedConfig, trained } from '../helpers/model.js';

let root: string;
let config: Config;
let server: Server;
const alerts: Record<string, unknown>[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-errors-'));
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      alerts.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  config = await isolatedConfig(root);
  config.workdir = root;
  config.slo.retry = { attempts: 3, backoff_seconds: 0.01, max_backoff_seconds: 0.05 };
  config.notify.webhook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  server.close();
  await rm(root, { recursive: true, force: true });
});

const context = (runId: string) => {
  const log = memoryLogger();
  const ctx = createContext(
    { config, file: join(process.cwd(), 'mlops.config.yaml'), dir: process.cwd(), env: process.env },
    { runId, log, progress: silentProgress },
  );
  return { ctx, log };
};

/** The real steps, with one replaced by a step that fails its first `times` attempts. */
function failing(name: keyof typeof steps, error: () => Error, times = Infinity) {
  let calls = 0;
  const step: Step = async (ctx, o) => {
    if (++calls <= times) throw error();
    return steps[name](ctx, o);
  };
  return { ...steps, [name]: step };
}

const transient = () => new MlopsError('transient', 'connection reset by the warehouse');

describe('retries, alerts and rekick', () => {
  it('retries an injected transient failure, which then succeeds', async () => {
    const { ctx, log } = context('flaky');
    const result = trained(await runPipeline(ctx, { steps: failing('extract', transient, 2) }));
    expect(result.decision.blessed).toBe(true);
    const run = await readRun(ctx.runDir);
    expect(run!.status).toBe('succeeded');
    expect(run!.steps.find((s) => s.name === 'extract')).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      expect.stringContaining('extract: attempt 1 of 3 failed (connection reset by the warehouse); retrying in'),
      expect.stringContaining('extract: attempt 2 of 3 failed'),
    ]);
  });

  it("gives up after the policy's attempts and alerts once", async () => {
    alerts.length = 0;
    const { ctx } = context('down');
    await expect(runPipeline(ctx, { steps: failing('extract', transient) })).rejects.toThrow('connection reset');
    const run = await readRun(ctx.runDir);
    expect(run!.steps[0]).toMatchObject({ name: 'extract', status: 'failed', attempts: 3, errorClass: 'transient' });
    expect(alerts).toHaveLength(1);
  });

  it('fails a permanent error at once, alerts the webhook, and rekick --from resumes and completes', async () => {
    alerts.length = 0;
    const { ctx } = context('broken');
    const bad = () => dataError('the test split has a label the model never saw');
    await expect(runPipeline(ctx, { steps: failing('evaluate', bad), retrain: true })).rejects.toThrow('never saw');

    let run = await readRun(ctx.runDir);
    expect(run!.status).toBe('failed');
    expect(run!.steps.find((s) => s.name === 'evaluate')).toMatchObject({ status: 'failed', attempts: 1, errorClass: 'data' });
    expect(alerts).toEqual([
      expect.objectContaining({
        text: expect.stringContaining('step *evaluate* of run `broken` failed (data)'),
        mlops: {
          runId: 'broken',
          step: 'evaluate',
          errorClass: 'data',
          message: 'the test split has a label the model never saw',
          rekick: 'mlops rekick broken --from evaluate',
        },
      }),
    ]);

    const trainedAt = (await stat(join(ctx.runDir, 'train/model/weights.bin'))).mtimeMs;
    const result = trained(await runPipeline(ctx, { from: 'evaluate' }));
    expect(result.decision.blessed).toBe(true);
    run = await readRun(ctx.runDir);
    expect(run!.status).toBe('succeeded');
    expect(run!.steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ['extract', 'succeeded', 1],
      ['train', 'succeeded', 1],
      ['evaluate', 'succeeded', 1],
      ['gate', 'succeeded', 1],
      ['record', 'succeeded', 1],
      ['build', 'skipped', 1],
      ['push', 'skipped', 1],
      ['deploy', 'skipped', 1],
    ]);
    // The earlier steps' artifacts were reused, not rebuilt.
    expect((await stat(join(ctx.runDir, 'train/model/weights.bin'))).mtimeMs).toBe(trainedAt);
  });

  it('resumes from the failed step with the CLI, and status shows the runs', async () => {
    const { ctx } = context('cli-rekick');
    await expect(runPipeline(ctx, { steps: failing('gate', () => dataError('injected')), retrain: true })).rejects.toThrow('injected');
    const file = join(root, 'mlops.config.yaml');
    const text = (await readFile('mlops.config.yaml', 'utf8')).replace(
      "'data/penguins_raw.csv'",
      `'${join(process.cwd(), 'data/penguins_raw.csv')}'`,
    );
    await writeFile(
      file,
      `${text}\nworkdir: ${root}\n`
        .replace('path: .mlops/registry', `path: ${join(root, 'registry')}`)
        .replace('target: local', 'target: none'),
    );
    const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/mlops.js', '--config', file, ...args], { encoding: 'utf8' });
    const rekick = cli('rekick', 'cli-rekick');
    expect(rekick.stderr).toContain('rekick cli-rekick from gate');
    expect(rekick.status).toBe(0);
    const status = cli('status');
    expect(status.stdout).toMatch(/cli-rekick\s+\S+ \S+\s+train\s+succeeded/);
    expect(status.stdout).toMatch(/down\s+\S+ \S+\s+train\s+failed .*extract: transient: connection reset/);
  });

  it('backs off exponentially, capped, with jitter', () => {
    const policy = { attempts: 5, backoff_seconds: 1, max_backoff_seconds: 3 };
    expect([1, 2, 3, 4].map((n) => backoffMs(policy, n, () => 0))).toEqual([1000, 2000, 3000, 3000]);
    expect(backoffMs(policy, 1, () => 1)).toBe(500);
  });
});
