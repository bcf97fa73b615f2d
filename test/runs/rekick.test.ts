import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import type { memoryLogger } from '../../src/log.js';
import { rekick, runPipeline, steps } from '../../src/pipeline.js';
import { openRegistry } from '../../src/registry/registry.js';
import { readRun } from '../../src/runs/ledger.js';
import type { RunRecord } from '../../src/step-outputs.js';
import { mlops } from '../helpers/cli.js';
import { contextFor, isolatedConfig, trainedRun } from '../helpers/model.js';

let root: string;
let config: Config;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-rekick-'));
  config = await isolatedConfig(root);
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** The ledger as a kill -9 would leave it: the run still "running", and only the steps before `step` ended, `step` itself begun. */
async function killedAt(ctx: StepContext, step: string, begun = true): Promise<void> {
  const file = join(ctx.runDir, 'run.json');
  const run = JSON.parse(await readFile(file, 'utf8')) as RunRecord;
  const at = run.steps.findIndex((s) => s.name === step);
  run.steps = run.steps.slice(0, begun ? at + 1 : at);
  if (begun) run.steps[at]!.status = 'running';
  run.status = 'running';
  delete run.finishedAt;
  await writeFile(file, JSON.stringify(run));
}

const said = (level: string) => (ctx: StepContext) =>
  (ctx.log as ReturnType<typeof memoryLogger>).lines.filter((l) => l.level === level).map((l) => l.message);
const info = said('info');
const warnings = said('warn');
const versions = () => openRegistry({ config, configDir: process.cwd(), env: process.env }).versions();

describe('rekick after a kill', () => {
  it('of a run killed after its version was registered, before its ledger said so, goes on with that version', async () => {
    const { ctx } = await trainedRun(config, 'crashed-at-record');
    await killedAt(ctx, 'record');
    const result = await rekick(ctx);
    expect(result && 'record' in result && result.record?.version).toBe('v1');
    expect(await versions()).toEqual(['v1']);
    expect((await readRun(ctx.runDir))?.status).toBe('succeeded');
  });

  it('of a run killed between two steps starts at the step after the last that succeeded', async () => {
    const ctx = await contextFor(config, 'killed-between');
    const killed = { ...steps, evaluate: () => Promise.reject(new Error('killed')) };
    await expect(runPipeline(ctx, { steps: killed, retrain: true })).rejects.toThrow('killed');
    await killedAt(ctx, 'evaluate', false);
    const before = (await readRun(ctx.runDir))!.steps;
    // A write the kill cut short leaves its temporary file; one of a live writer is not touched.
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const abandoned = join(ctx.runDir, 'train', `train.json.${dead}-0a1b2c3d.tmp`);
    const live = join(ctx.runDir, 'train', `train.json.${process.pid}-0a1b2c3d.tmp`);
    await Promise.all([writeFile(abandoned, '{"trunc'), writeFile(live, '{')]);

    const result = await rekick(ctx);
    expect(info(ctx)).toContain('rekick killed-between from evaluate');
    expect(warnings(ctx)).toEqual([`removed the temporary files killed writers left: ${abandoned}`]);
    expect(existsSync(abandoned)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(result && 'record' in result && result.record?.version).toBe('v2');
    const after = (await readRun(ctx.runDir))!;
    expect(after.status).toBe('succeeded');
    expect(after.steps.slice(0, 2)).toEqual(before); // extract and train were not run again
  });

  it('of a finished run has nothing to do, exit 0, unless told where to start', async () => {
    const ctx = await contextFor(config, 'crashed-at-record');
    expect(await rekick(ctx)).toBeUndefined();
    expect(info(ctx)).toEqual(['rekick crashed-at-record: nothing to do (run status: succeeded); rekick --from <step> runs steps again']);
    const cli = mlops('rekick', 'crashed-at-record', '--config', ctx.configFile);
    expect(cli.code).toBe(0);
    expect(cli.stderr).toContain('nothing to do (run status: succeeded)');

    const again = await rekick(ctx, 'record');
    expect(again && 'record' in again && again.record?.version).toBe('v1'); // its version, registered once
    expect(await versions()).toEqual(['v1', 'v2']);
  });

  it('of a run killed after its last step, before its ledger said how it ended, concludes it without running a step again', async () => {
    const ctx = await contextFor(config, 'crashed-at-record');
    const file = join(ctx.runDir, 'run.json');
    const run = JSON.parse(await readFile(file, 'utf8')) as RunRecord;
    await writeFile(file, JSON.stringify({ ...run, status: 'running', finishedAt: undefined }));

    const result = await rekick(ctx);
    expect(info(ctx)).toEqual(['rekick crashed-at-record: every step ended; concluding the run']);
    expect(result && 'record' in result && result.record?.version).toBe('v1');
    expect(await readRun(ctx.runDir)).toMatchObject({ status: 'succeeded', steps: run.steps });
    expect(await versions()).toEqual(['v1', 'v2']);
  });
});
