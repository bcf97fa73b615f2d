import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { StepContext } from '../../src/context.js';
import { pollUntil } from '../../src/poll.js';
import { asItStands, interruption } from '../../src/runs/interrupted.js';
import { readRun } from '../../src/runs/ledger.js';
import type { RunRecord } from '../../src/step-outputs.js';
import { mlopsFromSources } from '../helpers/cli.js';
import { contextFor, isolatedConfig } from '../helpers/model.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-interrupted-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** A process that opens a run's ledger, finishes extract, starts train and waits there, as a run does. */
const inTrain = (ctx: StepContext) => {
  const script = `
    import { Ledger } from './src/runs/ledger.ts';
    const ledger = await Ledger.open({ runId: 'killed', runDir: process.argv[1], config: { project: 'p' } }, {});
    await ledger.attempt('extract', 1);
    await ledger.end('extract', 'succeeded');
    await ledger.attempt('train', 1);
    setInterval(() => {}, 1000);`;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ctx.runDir], { stdio: 'ignore' });
};

it('shows a run whose process was killed as interrupted, with the step it was in and the rekick command', async () => {
  const ctx = await contextFor(await isolatedConfig(root), 'killed');
  const child = inTrain(ctx);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const training = async () => (await readRun(ctx.runDir).catch(() => undefined))?.steps.at(-1)?.status === 'running';
  await pollUntil(20_000, training, () => expect.fail('the child never started train'), 50);
  const run = (await readRun(ctx.runDir))!;
  expect(run.process).toMatchObject({ pid: child.pid });
  expect(asItStands(run).status).toBe('running'); // alive

  child.kill('SIGKILL');
  await exited;
  expect(asItStands((await readRun(ctx.runDir))!).status).toBe('interrupted');
  const status = mlopsFromSources('status', '--config', ctx.configFile);
  expect(status.stdout).toMatch(
    new RegExp(
      `killed\\s+\\S+ \\S+\\s+train\\s+interrupted\\s+-\\s+in train \\(its process, pid ${child.pid}, is gone\\): resume with mlops rekick killed`,
    ),
  );
}, 30_000);

it("tells a reused pid from the run's process, and leaves running a run on another host or from before processes were recorded", () => {
  const run = (process: RunRecord['process'], steps: RunRecord['steps'] = []): RunRecord => ({
    runId: 'r',
    project: 'p',
    status: 'running',
    startedAt: '2026-01-01T00:00:00Z',
    options: {},
    steps,
    process,
  });
  const me = { pid: globalThis.process.pid, host: hostname() };
  const between = [{ name: 'extract', status: 'succeeded' as const, attempts: 1, startedAt: '2026-01-01T00:00:00Z', artifacts: '' }];
  const reused = asItStands(run({ ...me, started: 'another start' }, between));
  expect(reused.status).toBe('interrupted');
  expect(interruption(reused)).toBe(`after extract (its process, pid ${me.pid}, is gone): resume with mlops rekick r`);
  expect(asItStands(run({ pid: 2 ** 22 + 1, host: me.host })).status).toBe('interrupted'); // no such pid
  expect(asItStands(run({ ...me, pid: 2 ** 22 + 1, host: 'runner-2' })).status).toBe('running');
  expect(asItStands(run(undefined)).status).toBe('running');
});
