import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainSummary } from '../../src/actions/summary.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createContext, stepDir, type StepContext } from '../../src/context.js';
import { extract } from '../../src/data/extract.js';
import { MlopsError } from '../../src/errors.js';
import { measure } from '../../src/format.js';
import { memoryLogger } from '../../src/log.js';
import { readModelCard } from '../../src/model/model-card.js';
import { train } from '../../src/model/train.js';
import { refusalOf } from '../helpers/config.js';
import { recordingProgress } from '../helpers/progress.js';

let root: string;
let base: Config;
let runs = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-stability-'));
  base = (await loadConfig('mlops.config.yaml', process.env)).config;
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** Extracts the sample data into a fresh run, with the config changed by `change`. */
async function prepared(change: (c: Config) => void = () => {}) {
  const config = structuredClone(base);
  change(config);
  const progress = recordingProgress();
  const log = memoryLogger();
  const ctx: StepContext = createContext(
    { config, file: join(process.cwd(), 'mlops.config.yaml'), dir: process.cwd(), env: process.env },
    { runId: `s${++runs}`, log, progress },
  );
  ctx.runDir = join(root, ctx.runId);
  await extract(ctx);
  return { ctx, progress, log };
}

describe('model.stability', () => {
  it('the shipped config trains 3 seeds, records the spread of every gated metric and releases the median seed', async () => {
    const { ctx, progress, log } = await prepared();
    const out = await train(ctx);
    expect(progress.lines.filter((l) => l.startsWith('start train'))).toEqual([
      'start train seed 42 (1/3)',
      'start train seed 1042 (2/3)',
      'start train seed 2042 (3/3)',
      // The linear baseline trains once, whatever model.stability says.
      'start train linear baseline',
    ]);
    const card = await readModelCard(out.modelDir);
    const s = card.stability!;
    expect(s).toMatchObject({ split: 'validation', rows: 52, seeds: [42, 1042, 2042], by: 'accuracy' });
    expect(Object.keys(s.spread)).toEqual(['accuracy', 'macro_f1', 'log_loss']);
    for (const [metric, spread] of Object.entries(s.spread)) {
      const values = s.runs.map((r) => r.metrics[metric]!);
      expect(spread.min).toBe(Math.min(...values));
      expect(spread.max).toBe(Math.max(...values));
      expect(spread.mean).toBeCloseTo(values.reduce((a, b) => a + b) / 3, 12);
      expect(spread.std).toBeLessThanOrEqual(0.05);
    }
    // The released seed is the one nearest the median accuracy, and the card's curve is its own.
    const accuracies = s.runs.map((r) => r.metrics.accuracy!);
    const median = [...accuracies].sort((a, b) => a - b)[1]!;
    const chosen = s.runs.find((r) => r.seed === s.seed)!;
    expect(Math.abs(chosen.metrics.accuracy! - median)).toBe(Math.min(...accuracies.map((a) => Math.abs(a - median))));
    expect(card.training).toMatchObject({ epochs: chosen.epochs, bestEpoch: chosen.bestEpoch });
    expect(out).toMatchObject({ epochs: chosen.epochs, bestEpoch: chosen.bestEpoch, stability: { seed: s.seed, seeds: s.seeds } });
    expect(log.lines.map((l) => l.message).join('\n')).toContain(`releasing seed ${s.seed}, the closest to the median accuracy`);
    const summary = trainSummary(out, card.training.history);
    expect(summary).toContain(`**Stability over 3 seeds** (42, 1042, 2042): released seed ${s.seed}`);
    expect(summary).toContain(`| accuracy | ${measure(s.spread.accuracy!.mean)} | ${measure(s.spread.accuracy!.std)} |`);

    // The weights released are that seed's: one training on it alone gives the same file.
    const { ctx: single } = await prepared(
      (c) => ((c.model.stability = undefined), (c.gates!.stability = undefined), (c.model.seed = s.seed)),
    );
    const alone = await readModelCard((await train(single)).modelDir);
    expect(alone.checksums['weights.bin']).toBe(card.checksums['weights.bin']);
    expect(alone.stability).toBeUndefined();
  });

  it('fails a very high learning rate on few rows as a quality error naming the metric and its spread, before a model is written', async () => {
    const { ctx } = await prepared((c) => ((c.model.learning_rate = 0.1), (c.data.window.days = 200)));
    const err = (await train(ctx).catch((e: unknown) => e)) as MlopsError;
    expect(err).toBeInstanceOf(MlopsError);
    expect(err.errorClass).toBe('quality');
    expect(err.message).toMatch(/training is unstable: accuracy has a standard deviation of 0\.0\d+ across seeds 42, 1042, 2042/);
    expect(err.message).toContain('above gates.stability.max_std.accuracy 0.05');
    expect(err.hint).toContain('model.learning_rate 0.1');
    expect(err.hint).toMatch(/\d+ train rows/);
    await expect(access(join(stepDir(ctx, 'train'), 'model', 'metadata.json'))).rejects.toThrow();
  });

  it('is off by default: one training, labelled as before, and no stability in the card', async () => {
    const { ctx, progress } = await prepared((c) => ((c.model.stability = undefined), (c.gates!.stability = undefined)));
    const out = await train(ctx);
    expect(progress.lines.filter((l) => l.startsWith('start train'))).toEqual(['start train', 'start train linear baseline']);
    expect(out.stability).toBeUndefined();
    expect(JSON.parse(await readFile(join(out.modelDir, 'metadata.json'), 'utf8'))).not.toHaveProperty('stability');
  });
});

describe('stability config', () => {
  const shipped = async () => parse(await readFile('mlops.config.yaml', 'utf8')) as Record<string, any>;
  const refusal = async (change: (raw: Record<string, any>) => void) => {
    const raw = await shipped();
    change(raw);
    return refusalOf(raw);
  };

  it('refuses fewer than 2 seeds', async () => {
    expect(await refusal((r) => (r.model.stability.seeds = 1))).toMatch(/model\.stability\.seeds: expected at least 2 seeds/);
  });

  it('refuses a negative max_std', async () => {
    expect(await refusal((r) => (r.gates.stability.max_std.accuracy = -0.1))).toMatch(
      /gates\.stability\.max_std\.accuracy: expected a standard deviation >= 0/,
    );
  });

  it('refuses a max_std on a metric that is not gated, and on a latency', async () => {
    expect(await refusal((r) => (r.gates.stability.max_std.roc_auc = 0.05))).toMatch(
      /gates\.stability\.max_std\.roc_auc: roc_auc is not a gated metric; expected one of accuracy, macro_f1, log_loss/,
    );
    {
      const message = await refusal(
        (r) => ((r.gates.thresholds.latency_p50_ms = { upper: 5 }), (r.gates.stability.max_std.latency_p50_ms = 1)),
      );
      expect(message).toMatch(/gates\.stability\.max_std\.latency_p50_ms: latency_p50_ms is not a gated metric/);
    }
  });

  it('refuses a max_std without seeds, and seeds without a gated metric', async () => {
    expect(await refusal((r) => delete r.model.stability)).toMatch(
      /gates\.stability\.max_std\.accuracy: a spread needs several seeds: set model\.stability\.seeds/,
    );
    expect(await refusal((r) => (r.gates = { thresholds: { latency_p95_ms: { upper: 5 } } }))).toMatch(
      /model\.stability\.seeds: the spread is measured on the gated metrics, and gates\.thresholds has none/,
    );
  });

  it('accepts the shipped config, and a config without either key', async () => {
    const config = parseConfig(await shipped(), {});
    expect(config.model.stability).toEqual({ seeds: 3 });
    expect(config.gates!.stability!.max_std).toEqual({ accuracy: 0.05, macro_f1: 0.05 });
    const raw = await shipped();
    delete raw.model.stability;
    delete raw.gates.stability;
    expect(parseConfig(raw, {}).model.stability).toBeUndefined();
  });
});
