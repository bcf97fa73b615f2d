import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { rekick } from '../../src/pipeline.js';
import { openRegistry } from '../../src/registry/registry.js';
import { readRun } from '../../src/runs/ledger.js';
import type { RunRecord } from '../../src/step-outputs.js';
import { isolatedConfig, trainedRun } from '../helpers/model.js';

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
});
