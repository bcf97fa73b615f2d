import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainSummary } from '../../src/actions/summary.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createContext, type StepContext } from '../../src/context.js';
import { extract } from '../../src/data/extract.js';
import type { MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { readModelCard } from '../../src/model/model-card.js';
import { drawTrials } from '../../src/model/search.js';
import { train } from '../../src/model/train.js';
import { refusalOf } from '../helpers/config.js';
import { recordingProgress } from '../helpers/progress.js';

let root: string;
let base: Config;
let runs = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-search-'));
  base = (await loadConfig('mlops.config.yaml', process.env)).config;
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** The shipped config (3 seeds, max_std 0.05 on accuracy and macro F1) with `search`, extracted into a fresh run. */
async function prepared(search: Record<string, unknown>, change: (c: Record<string, any>) => void = () => {}) {
  const raw = structuredClone(base) as Record<string, any>;
  raw.model.search = search;
  change(raw);
  const config = parseConfig(raw, {});
  const progress = recordingProgress();
  const log = memoryLogger();
  const ctx: StepContext = createContext(
    { config, file: join(process.cwd(), 'mlops.config.yaml'), dir: process.cwd(), env: process.env },
    { runId: `search${++runs}`, log, progress },
  );
  ctx.runDir = join(root, ctx.runId);
  await extract(ctx);
  return { ctx, progress, log };
}

const space = {
  hidden: [[32], [64, 32], [128, 64]],
  dropout: { min: 0, max: 0.3 },
  learning_rate: { min: 0.0003, max: 0.01 },
  batch_size: [16, 32, 64],
};

describe('model.search', () => {
  it('runs 8 trials on the sample data, scores each on the validation split, records all of them and releases the best, stable one', async () => {
    const { ctx, progress } = await prepared({ trials: 8, space });
    const out = await train(ctx);
    const card = await readModelCard(out.modelDir);
    const search = card.search!;
    expect(search).toMatchObject({ split: 'validation', rows: 52, by: 'accuracy', seed: 42, budget: { trials: 8, minutes: 30 } });
    expect(search.stopped).toBeUndefined();
    expect(search.trials.map((t) => t.trial)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(search.trials.map((t) => t.params)).toEqual(drawTrials(ctx.config.model.search!, 42));
    for (const t of search.trials) {
      expect(Object.keys(t.metrics!)).toEqual(['accuracy', 'macro_f1', 'log_loss']);
      expect(t.failed).toBeUndefined();
      expect(t.unstable).toBeUndefined();
    }
    // The best accuracy, ties to the lower validation loss.
    const [best] = [...search.trials].sort((a, b) => b.metrics!.accuracy! - a.metrics!.accuracy! || a.valLoss! - b.valLoss!);
    expect(search.released).toBe(best!.trial);

    // Progress for every trial, then the winner on the three seeds of model.stability.
    const trials = progress.lines.filter((l) => l.startsWith('start search trial')).map((l) => l.slice('start '.length));
    expect(trials).toHaveLength(11);
    expect(trials[0]).toMatch(/^search trial 1\/8 \(hidden \[[\d, ]+\], dropout [\d.]+, learning_rate [\d.e-]+, batch_size \d+\): train$/);
    expect(trials.slice(8)).toEqual([1, 2, 3].map((i) => `search trial ${best!.trial}: train seed ${42 + 1000 * (i - 1)} (${i}/3)`));

    // The winner's spread is judged, and its run on model.seed is the one the search scored.
    expect(card.stability!.spread.accuracy!.std).toBeLessThanOrEqual(0.05);
    expect(card.stability!.runs[0]!.metrics).toEqual(best!.metrics);

    const summary = trainSummary(out, card.training.history, search);
    expect(summary).toContain(`ranked by accuracy, then validation loss: released trial ${best!.trial}.`);
    expect(summary).toContain(
      '| trial | hidden | dropout | learning_rate | batch_size | accuracy | val_loss | epochs | seconds | outcome |',
    );
    expect(summary.match(/^\| \d \| \[/gm)).toHaveLength(8);
    expect(summary).toMatch(new RegExp(`^\\| ${best!.trial} \\| .* \\| \\*\\*released\\*\\* \\|$`, 'm'));
    expect(summary).toContain('title "accuracy on the validation split per trial"');
    expect(summary).toContain(`"${best!.trial} released"`);

    // Reproducible: the winner's settings trained alone give the very weights released.
    const { params } = best!;
    const { ctx: alone } = await prepared({ trials: 1, space: {} }, (c) => (delete c.model.search, Object.assign(c.model, params)));
    const again = await readModelCard((await train(alone)).modelDir);
    expect(again.checksums['weights.bin']).toBe(card.checksums['weights.bin']);
    expect(again.search).toBeUndefined();
  });

  it('never releases a learning rate too high to train stably: the trial that ranks first is passed over, and the card says why', async () => {
    // On 200 days (85 train rows), a learning rate of 0.1 is right on model.seed and far off on another seed.
    const { ctx, log } = await prepared({ trials: 8, space: { learning_rate: [0.0005, 0.001, 0.002, 0.1], batch_size: [16, 32] } }, (c) => {
      c.data.window.days = 200;
    });
    const out = await train(ctx);
    const search = (await readModelCard(out.modelDir)).search!;
    expect(search.trials).toHaveLength(8);
    const released = search.trials.find((t) => t.trial === search.released)!;
    expect(released.params.learning_rate).toBeLessThan(0.1);
    const passedOver = search.trials.filter((t) => t.unstable);
    expect(passedOver.length).toBeGreaterThan(0);
    for (const t of passedOver) {
      expect(t.params.learning_rate).toBe(0.1);
      // It scored better on the validation split than the trial released: only its spread kept it out.
      expect(t.metrics!.accuracy).toBeGreaterThan(released.metrics!.accuracy!);
      expect(t.unstable).toMatch(/^training is unstable: accuracy has a standard deviation of 0\.0\d+ across seeds 42, 1042, 2042/);
    }
    const lines = log.lines.map((l) => l.message).join('\n');
    expect(lines).toMatch(new RegExp(`search: trial ${passedOver[0]!.trial}, ranked 1 of 8, is passed over: training is unstable`));
    expect(trainSummary(out, [], search)).toMatch(
      new RegExp(`after passing over trial ${passedOver.map((t) => t.trial).join(', ')} as unstable`),
    );
  });

  it('fails as a quality error naming every trial when none trains stably', async () => {
    const { ctx, log } = await prepared({ trials: 8, space: { learning_rate: [0.1], batch_size: [32] } }, (c) => {
      c.data.window.days = 200;
    });
    const err = (await train(ctx).catch((e: unknown) => e)) as MlopsError;
    expect(err).toMatchObject({ errorClass: 'quality' });
    expect(err.message).toMatch(
      /^no trial of the search trains stably: trial 1 \(learning_rate 0\.1, batch_size 32\): training is unstable: accuracy has a standard deviation/,
    );
    expect(err.hint).toContain('narrow model.search.space toward lower learning rates');
    // A space of one setting runs one trial, however many the budget allows.
    const lines = log.lines.map((l) => l.message);
    expect(lines.filter((l) => /^search: trial \d+:/.test(l))).toHaveLength(1);
    expect(lines).toContainEqual(expect.stringMatching(/^search: trial 1, ranked 1 of 1, is passed over: training is unstable/));
  });

  it('records a trial that trains no model as failed, and ranks the rest', async () => {
    const { ctx } = await prepared({ trials: 2, space: { learning_rate: [0.001, 1000] } }, (c) => {
      delete c.model.stability;
      delete c.gates.stability;
    });
    const search = (await readModelCard((await train(ctx)).modelDir)).search!;
    const failed = search.trials.find((t) => t.params.learning_rate === 1000)!;
    expect(failed.failed).toMatch(/^training did not converge: the best validation loss [\d.]+ is worse than a constant prediction's/);
    expect(failed.metrics).toBeUndefined();
    expect(search.trials.find((t) => t.trial === search.released)!.params.learning_rate).toBe(0.001);
  });

  it('starts no trial once its minutes are spent, and says so', async () => {
    const { ctx } = await prepared({ trials: 8, minutes: 0.0001, space });
    const search = (await readModelCard((await train(ctx)).modelDir)).search!;
    expect(search.trials).toHaveLength(1);
    expect(search.released).toBe(1);
    expect(search.stopped).toBe('the budget of 0.0001 minutes was spent after 1 of 8 trials');
  });
});

describe('drawing the trials', () => {
  const config = (search: Record<string, unknown>) =>
    parseConfig({ ...structuredClone(base), model: { ...base.model, search } }, {}).model.search!;

  it('draws the same trials from the same seed, other trials from another, within the space', () => {
    const search = config({ trials: 20, space });
    const drawn = drawTrials(search, 42);
    expect(drawTrials(search, 42)).toEqual(drawn);
    expect(drawTrials({ ...search, seed: 7 }, 42)).not.toEqual(drawn);
    expect(new Set(drawn.map((d) => JSON.stringify(d))).size).toBe(20);
    for (const d of drawn) {
      expect(space.hidden).toContainEqual(d.hidden);
      expect(d.dropout).toBeGreaterThanOrEqual(0);
      expect(d.dropout).toBeLessThanOrEqual(0.3);
      expect(d.learning_rate).toBeGreaterThanOrEqual(0.0003);
      expect(d.learning_rate).toBeLessThanOrEqual(0.01);
      expect(space.batch_size).toContain(d.batch_size);
    }
    // Log-uniform: as many learning rates below the range's geometric middle as above it, roughly.
    const below = drawn.filter((d) => d.learning_rate! < Math.sqrt(0.0003 * 0.01)).length;
    expect(below).toBeGreaterThan(4);
    expect(below).toBeLessThan(16);
  });

  it('draws batch sizes of a range among its powers of two, and stops at the distinct settings a small space holds', () => {
    const sizes = drawTrials(config({ trials: 3, space: { batch_size: { min: 10, max: 100 } } }), 42).map((d) => d.batch_size);
    expect(sizes.sort((a, b) => a! - b!)).toEqual([16, 32, 64]);
    expect(drawTrials(config({ trials: 8, space: { batch_size: { min: 10, max: 100 } } }), 42)).toHaveLength(3);
  });
});

describe('search config', () => {
  const refusal = async (search: Record<string, unknown>) => {
    const raw = parse(await readFile('mlops.config.yaml', 'utf8')) as Record<string, any>;
    raw.model.search = search;
    return refusalOf(raw);
  };

  it('refuses an inverted range, naming the key and the range the other way round', async () => {
    expect(await refusal({ space: { learning_rate: { min: 0.01, max: 0.0001 } } })).toContain(
      'model.search.space.learning_rate: the range is inverted (min 0.01 > max 0.0001): expected min <= max, e.g. { min: 0.0001, max: 0.01 }',
    );
  });

  it('refuses an empty list, an empty range of batch sizes and an empty space', async () => {
    expect(await refusal({ space: { hidden: [] } })).toContain(
      'model.search.space.hidden: an empty list has nothing to choose from: list values, e.g. [[32], [64, 32], [128, 64]], or leave hidden out to keep model.hidden',
    );
    expect(await refusal({ space: { batch_size: { min: 33, max: 60 } } })).toContain(
      'model.search.space.batch_size: the range { min: 33, max: 60 } is empty: batch sizes are drawn among its powers of two and it holds none',
    );
    expect(await refusal({ space: {} })).toContain(
      'model.search.space: expected at least one of hidden, dropout, learning_rate, batch_size to search',
    );
  });

  it('refuses values a model could not take, and unknown keys', async () => {
    expect(await refusal({ space: { dropout: { min: 0, max: 1 } } })).toMatch(
      /model\.search\.space\.dropout\.max: expected number to be <1, got 1/,
    );
    expect(await refusal({ space: { learning_rate: [0.001, -1] } })).toMatch(
      /model\.search\.space\.learning_rate\.1: expected number to be >0, got -1/,
    );
    expect(await refusal({ trials: 0, space })).toMatch(/model\.search\.trials: expected number to be >0, got 0/);
    expect(await refusal({ space: { epochs: [10, 20] } })).toMatch(/model\.search\.space\.epochs: unknown key/);
  });
});
