import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateSummary } from '../../src/actions/summary.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { stepDir, type StepContext } from '../../src/context.js';
import { extract } from '../../src/data/extract.js';
import { evaluate } from '../../src/evaluate/evaluate.js';
import { gate, rejection } from '../../src/gate/gate.js';
import { train } from '../../src/model/train.js';
import type { PreprocessSpec } from '../../src/model/preprocess.js';
import { record } from '../../src/registry/record.js';
import { openRegistry } from '../../src/registry/registry.js';
import { decisionLines } from '../../src/report.js';
import type { TestPredictions } from '../../src/step-outputs.js';
import { contextFor, isolatedConfig } from '../helpers/model.js';

/**
 * The gate on real runs: extract, evaluate, gate and record on a data set whose test rows are the
 * newest days, with logistic models on one feature whose decision threshold is set by hand, so that
 * which test rows each model gets wrong is known exactly. Label: pos where x > 0.
 */

let root: string;
let base: Config;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-release-gate-'));
  base = await isolatedConfig(root);
});
afterAll(() => rm(root, { recursive: true, force: true }));

const day = (i: number) => new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);

/** `rows` rows over as many days; the last quarter (the test split) has x = `testX(i)`. */
async function project(name: string, rows: number, testX: (i: number) => number): Promise<StepContext> {
  const csv = join(root, `${name}.csv`);
  const test = rows / 4;
  const lines = Array.from({ length: rows }, (_, i) => {
    const x = i >= rows - test ? testX(i - (rows - test)) : ((i * 37) % 101) / 2 - 25.25;
    return `${day(i)},${x},${x > 0 ? 'pos' : 'neg'},${i % 2 ? 'A' : 'B'}`;
  });
  await writeFile(csv, ['day,x,y,grp', ...lines].join('\n'));
  // Through the schema, as a config file would be read: the contract's defaults filled in.
  const config = parseConfig(
    {
      ...structuredClone(base),
      workdir: join(root, name, 'work'),
      registry: { ...base.registry, path: join(root, name, 'registry') },
      data: {
        source: { kind: 'duckdb', query: `SELECT * FROM read_csv('${csv}') WHERE day >= $window_start AND day < $as_of` },
        window: { as_of: day(rows), days: rows + 1 },
        contract: {
          max_quarantine_ratio: 0,
          columns: {
            day: { type: 'timestamp' },
            x: { type: 'float' },
            y: { type: 'label', values: ['neg', 'pos'] },
            grp: { type: 'category', values: ['A', 'B'] },
          },
        },
        features: ['x'],
        split: { train: 0.5, validation: 0.25, test: 0.25, time_column: 'day' },
      },
      model: { task: 'binary', hidden: [], epochs: 5, learning_rate: 0.1 },
      gates: { thresholds: { accuracy: { lower: 0.9, change: { absolute: 0 } } }, slice_column: 'grp', min_slice_rows: 30 },
    },
    process.env,
  );
  const ctx = await contextFor(config, name);
  await extract(ctx);
  await train(ctx);
  return ctx;
}

/** Makes the model in `dir` say pos exactly where x > `threshold` (a steep logistic on the standardised x). */
async function setThreshold(dir: string, threshold: number): Promise<void> {
  const spec = JSON.parse(await readFile(join(dir, 'preprocess.json'), 'utf8')) as PreprocessSpec;
  const t = spec.features[0] as { mean: number; std: number };
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as {
    weightsManifest: { weights: { name: string }[] }[];
  };
  const w = 200;
  const values = json.weightsManifest[0]!.weights.map((s) => (s.name.endsWith('bias') ? (-w * (threshold - t.mean)) / t.std : w));
  await writeFile(join(dir, 'weights.bin'), Buffer.from(Float32Array.from(values).buffer));
}

/** Registers the run's trained model, with its threshold moved, as the champion. */
async function championAt(ctx: StepContext, threshold: number): Promise<void> {
  const dir = join(root, `${ctx.runId}-champion`);
  await cp(join(stepDir(ctx, 'train'), 'model'), dir, { recursive: true });
  await setThreshold(dir, threshold);
  const registry = openRegistry(ctx);
  const files = ['model.json', 'weights.bin', 'preprocess.json', 'metadata.json'].map((f) => join(dir, f));
  const { version } = await registry.register(files, { runId: 'champion', summary: {} });
  await registry.promote(version);
}

const changeRule = (rules: Awaited<ReturnType<typeof gate>>['rules'], scope = 'all') =>
  rules.find((r) => r.rule === 'change.absolute' && r.scope === scope)!;

describe('the gate judges change thresholds on a paired bootstrap interval', () => {
  it('keeps the champion when the candidate is better by one test row: the point estimate says better, the interval cannot tell', async () => {
    // 50 test rows at x = -24.5 .. 24.5. The champion says pos above 2, the candidate above -1:
    // they disagree on x = -0.5 (the champion is right), 0.5 and 1.5 (the candidate is right).
    const ctx = await project('one-row', 200, (i) => i - 24.5);
    await championAt(ctx, 2);
    await setThreshold(join(stepDir(ctx, 'train'), 'model'), -1);

    const evaluation = await evaluate(ctx);
    expect(evaluation.rows).toBe(50);
    expect(evaluation.metrics).toMatchObject({ accuracy: 0.98 });
    expect(evaluation.champion?.metrics).toMatchObject({ accuracy: 0.96 });

    // The per-row predictions the gate resamples sit beside evaluation.json, which stays small.
    const stored = JSON.parse(await readFile(join(stepDir(ctx, 'evaluate'), 'predictions.json'), 'utf8')) as TestPredictions;
    expect(stored).toMatchObject({ task: 'binary', width: 2, slices: { keys: ['A', 'B'] } });
    expect([stored.labels.length, stored.candidate.length, stored.champion?.length]).toEqual([50, 100, 100]);

    const decision = await gate(ctx);
    const rule = changeRule(decision.rules);
    expect(rule.value).toBeCloseTo(0.02, 10); // the point estimate clears the bound of 0 ...
    expect(rule.interval!.low).toBeLessThan(0); // ... the interval reaches below it
    expect(rule.interval!.high).toBeGreaterThan(0.02);
    expect(rule).toMatchObject({ passed: false, rows: 50, bound: 0, champion: 0.96 });
    expect(rule.undecided).toMatch(
      /^cannot tell the models apart on 50 test rows: the point difference clears the bound, the 95% interval \[-0\.\d{4}, 0\.\d{4}\] does not$/,
    );
    expect(decision).toMatchObject({
      passed: false,
      blessed: false,
      bootstrap: { confidence: 0.95, resamples: 1000, seed: 1, valueOn: 'point' },
    });
    // Slices of 25 rows are below min_slice_rows: reported, not judged.
    expect(changeRule(decision.rules, 'grp=A').notJudged).toBe('25 test rows, fewer than gates.min_slice_rows (30)');

    expect(rejection(decision).message).toContain('cannot tell the models apart on 50 test rows');
    expect(decisionLines(decision)).toContain(
      `  FAIL  accuracy (all) change.absolute: 0.0200, 95% interval [${rule.interval!.low.toFixed(4)}, ${rule.interval!.high.toFixed(4)}] on 50 test rows: ${rule.interval!.low.toFixed(4)} vs bound 0 (champion 0.9600); ${rule.undecided}`,
    );
    expect(gateSummary(decision)).toContain(`| 50 | **${rule.undecided}** |`);

    expect(await record(ctx)).toBeUndefined();
    expect((await openRegistry(ctx).aliases()).champion).toBe('v1');
    // Seeded: the same run judged again gives the same interval.
    expect(changeRule((await gate(ctx)).rules).interval).toEqual(rule.interval);
  });

  it('promotes a clearly better model on a larger split, slices included', async () => {
    // 1,000 test rows over x in (-25, 25): the champion is wrong on the ~60 rows in (0, 1.5].
    const ctx = await project('clearly-better', 4000, (i) => (((i * 7919) % 1000) + 0.5) / 20 - 25);
    await championAt(ctx, 1.5);
    await setThreshold(join(stepDir(ctx, 'train'), 'model'), 0);

    const evaluation = await evaluate(ctx);
    expect(evaluation.rows).toBe(1000);
    expect(evaluation.metrics).toMatchObject({ accuracy: 1 });
    const decision = await gate(ctx);
    for (const scope of ['all', 'grp=A', 'grp=B']) {
      const rule = changeRule(decision.rules, scope);
      expect(rule.passed).toBe(true);
      expect(rule.interval!.low).toBeGreaterThan(0);
      expect(rule.interval!.low).toBeLessThanOrEqual(rule.value!);
      expect(rule.interval!.high).toBeGreaterThanOrEqual(rule.value!);
      expect(rule.undecided).toBeUndefined();
    }
    expect(changeRule(decision.rules, 'grp=A').rows).toBe(500);
    expect(decision).toMatchObject({ passed: true, blessed: true });
    expect((await record(ctx))?.promoted).toBe(true);
    expect((await openRegistry(ctx).aliases()).champion).toBe('v2');
  });
});
