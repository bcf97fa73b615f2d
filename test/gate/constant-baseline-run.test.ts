import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateSummary, gateSummary } from '../../src/actions/summary.js';
import type { MlopsError } from '../../src/errors.js';
import { readModelCard } from '../../src/model/model-card.js';
import { runPipeline } from '../../src/pipeline.js';
import { openRegistry } from '../../src/registry/registry.js';
import { runSummary } from '../../src/report.js';
import { contextFor, isolatedConfig, trained } from '../helpers/model.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-constant-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** The shipped config's query with the species of some birds drawn from a hash of their ids: for them, the label owes nothing to the features. */
async function noisyConfig(which: string) {
  const config = await isolatedConfig(join(root, which));
  const drawn = `['Adelie', 'Chinstrap', 'Gentoo'][1 + (hash("studyName" || "Individual ID") % 3)::BIGINT]`;
  const newest = `"Date Egg" > (SELECT quantile_disc("Date Egg", 0.85) FROM read_csv('data/penguins_raw.csv', nullstr = 'NA'))`;
  const species = which === 'all' ? drawn : `CASE WHEN ${newest} THEN ${drawn} ELSE split_part("Species", ' ', 1) END`;
  config.data.source.query = config.data.source.query.replace(`split_part("Species", ' ', 1) AS species`, `${species} AS species`);
  // Thresholds anything passes.
  config.gates!.thresholds = { accuracy: { lower: 0 }, macro_f1: { lower: 0 }, log_loss: { upper: 100 } };
  return config;
}

describe('a model no better than a constant, on a first run with thresholds anything passes', () => {
  it('is not released when it is no better on the test rows, though no champion judges it; the report, summaries and card show the baselines', async () => {
    // Split by time, the newest 15% of birds are the test rows: the model learns real species, and is tested on drawn ones.
    const config = await noisyConfig('newest');
    config.data.split.time_column = 'date_egg';
    const ctx = await contextFor(config, 'newest');
    const run = trained(await runPipeline(ctx));

    const { decision, evaluate } = run;
    expect(decision.championVersion).toBeUndefined();
    expect(decision.passed).toBe(false);
    expect(decision.blessed).toBe(false);
    const failed = decision.rules.filter((r) => !r.passed);
    expect(failed.map((r) => [r.rule, r.metric, r.baseline?.name])).toEqual([['baseline', 'accuracy', 'constant']]);
    expect(decision.rules.filter((r) => r.rule === 'lower' || r.rule === 'upper').every((r) => r.passed)).toBe(true);
    expect(run.record).toBeUndefined();
    expect(await openRegistry({ config, configDir: ctx.configDir, env: process.env }).aliases()).toEqual({});

    // The baselines beside the candidate, wherever the run is read.
    const report = runSummary('newest', root, run);
    expect(report).toMatch(/metric +candidate +champion +constant +linear/);
    expect(report).toMatch(/FAIL +accuracy \(all\) baseline constant/);
    expect(evaluateSummary(evaluate, [])).toContain('| metric | candidate | champion | constant | linear |');
    expect(gateSummary(decision)).toMatch(/\| ❌ \| accuracy \| all \| baseline constant \| .* \| constant \d\.\d+ \|/);
    const card = await readModelCard(run.train.modelDir);
    expect(Object.keys(card.baselines!.metrics)).toEqual(['candidate', 'constant', 'linear']);
  });

  it('is not even trained when it is no better on the validation rows', async () => {
    const ctx = await contextFor(await noisyConfig('all'), 'all');
    const err = (await runPipeline(ctx).catch((e: unknown) => e)) as MlopsError;
    expect(err).toMatchObject({ errorClass: 'quality' });
    expect(err.message).toMatch(/^training did not converge: the best validation loss [\d.]+ is worse than a constant prediction's/);
    expect(await openRegistry({ config: ctx.config, configDir: ctx.configDir, env: process.env }).aliases()).toEqual({});
  });
});
