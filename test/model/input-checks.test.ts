import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createContext, stepDir, type StepContext } from '../../src/context.js';
import { extract } from '../../src/data/extract.js';
import { MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import type { Value } from '../../src/model/dataset.js';
import { checkTarget } from '../../src/model/input-checks.js';
import { train } from '../../src/model/train.js';
import { silentProgress } from '../../src/progress.js';
import { bodyMassRun } from './body-mass.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-checks-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** The train step's refusal, checked to come before any training: no model folder is written. */
async function refusal(ctx: StepContext): Promise<MlopsError> {
  const err = (await train(ctx).catch((e: unknown) => e)) as MlopsError;
  expect(err).toBeInstanceOf(MlopsError);
  expect(err.errorClass).toBe('data');
  await expect(access(join(stepDir(ctx, 'train'), 'model'))).rejects.toThrow();
  return err;
}

/** The sample data's classifier with one column of the query replaced by `expression`. */
async function penguins(runId: string, column: string, expression: string): Promise<StepContext> {
  const loaded = await loadConfig('mlops.config.yaml', process.env);
  const { config } = loaded;
  config.model.stability = undefined;
  config.gates!.stability = undefined;
  config.data.source.query = config.data.source.query.replace(new RegExp(`"[^"]+"\\s+AS ${column}\\b`), `${expression} AS ${column}`);
  const ctx = createContext(loaded, { runId, log: memoryLogger(), progress: silentProgress });
  ctx.runDir = join(root, runId);
  await extract(ctx);
  return ctx;
}

describe('data no network can learn from, refused before training', () => {
  it('a regression target with a single value', async () => {
    const err = await refusal(await bodyMassRun(root, 'single', '4200.0'));
    expect(err.message).toBe('the target "body_mass_g" has a single value (4200) in the train split');
  });

  it('a regression target with an infinity, naming its source row', () => {
    // Extract's contract quarantines non-finite numbers, so this is the train step's own guard, shown on a split as it reads one.
    const check = (label: Value[]) => () => checkTarget('price', 'validation', { label, sourceRows: label.map((_, i) => 100 + i) });
    expect(check([4, -Infinity])).toThrow('the target "price" is -Infinity at source row 101 of the validation split');
    expect(check([4, 5])).not.toThrow();
  });

  it('a constant feature', async () => {
    const err = await refusal(await penguins('constant', 'culmen_depth_mm', '17.5'));
    expect(err.message).toMatch(/^the feature "culmen_depth_mm" is constant \(17\.5\) in the train split \(\d+ rows\)$/);
    expect(err.hint).toContain('data.features');
  });

  it('a feature missing on every row', async () => {
    const err = await refusal(await penguins('missing', 'delta_15_n', 'NULL::DOUBLE'));
    expect(err.message).toMatch(/^the feature "delta_15_n" is missing on every row in the train split/);
  });
});
