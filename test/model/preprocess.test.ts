import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createContext, stepDir } from '../../src/context.js';
import { extract } from '../../src/data/extract.js';
import type { ExtractOutputs } from '../../src/step-outputs.js';
import { memoryLogger } from '../../src/log.js';
import { readSplit, type Dataset, type Value } from '../../src/model/dataset.js';
import { summarise } from '../../src/model/column-summary.js';
import { fitFeature, fitPreprocess, transform, type FeatureKind, type PreprocessSpec } from '../../src/model/preprocess.js';
import { silentProgress } from '../../src/progress.js';

const label = { name: 'y', task: 'multiclass' as const, classes: ['a', 'b'] };

/** A feature fitted on whole train values, as the train step fits it on their summary. */
const fit = (name: string, kind: FeatureKind, values: Value[], maxCategories: number) =>
  fitFeature(name, kind, summarise(kind, values), maxCategories);

describe('fitting the transforms', () => {
  it('standardises numbers with the train mean and standard deviation, and fills a missing one with the mean', () => {
    const t = fit('x', 'numeric', [1, 2, 3, null], 10);
    expect(t).toEqual({ name: 'x', kind: 'numeric', mean: 2, std: Math.sqrt(2 / 3) });
  });

  it('keeps a constant column finite', () => {
    expect(fit('x', 'numeric', [5, 5, 5], 10)).toMatchObject({ mean: 5, std: 1 });
  });

  it('builds a vocabulary of the most frequent categories, and fills a missing one with the mode', () => {
    const t = fit('c', 'category', ['b', 'a', 'b', 'c', null, 'a', 'b'], 2);
    expect(t).toEqual({ name: 'c', kind: 'category', vocabulary: ['b', 'a'], fill: 'b' });
  });

  it('fills a missing boolean with the mode', () => {
    expect(fit('f', 'boolean', [true, false, true, null], 10)).toEqual({ name: 'f', kind: 'boolean', fill: true });
  });
});

describe('transforming', () => {
  const spec = fitPreprocess(
    { rows: 4, columns: { x: [0, 2, 4, 6], c: ['red', 'blue', 'red', 'red'], f: [true, false, true, true] }, label: [], sourceRows: [] },
    { x: 'numeric', c: 'category', f: 'boolean' },
    label,
    10,
  );

  it('lays each row out as numbers, one-hot categories (last slot out of vocabulary) and 0/1 booleans', () => {
    expect(spec.width).toBe(1 + 3 + 1);
    const row = transform(spec, { x: [3], c: ['blue'], f: [false] }, 1);
    expect(Array.from(row)).toEqual([0, 0, 1, 0, 0]);
  });

  it('sends an unknown category to the out-of-vocabulary slot', () => {
    expect(Array.from(transform(spec, { x: [3], c: ['green'], f: [true] }, 1))).toEqual([0, 0, 0, 1, 1]);
  });

  it('imputes missing values with what it learned from the train split', () => {
    expect(Array.from(transform(spec, { x: [null], c: [null], f: [null] }, 1))).toEqual([0, 1, 0, 0, 1]);
  });
});

describe('no training/serving skew', () => {
  let root: string;
  let out: ExtractOutputs;
  let dir: string;
  let train: Dataset;
  let test: Dataset;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-pre-'));
    const loaded = await loadConfig('mlops.config.yaml', process.env);
    const ctx = createContext(loaded, { runId: 'pre', log: memoryLogger(), progress: silentProgress });
    ctx.runDir = join(root, 'run');
    out = await extract(ctx);
    dir = stepDir(ctx, 'extract');
    train = await readSplit(dir, out, 'train', out.features);
    test = await readSplit(dir, out, 'test', out.features);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('gives identical tensors in the pipeline and through the saved preprocess.json, row by row', async () => {
    const kinds = { island: 'category', clutch_completion: 'boolean', sex: 'category' } as const;
    const spec = fitPreprocess(
      train,
      Object.fromEntries(out.features.map((f) => [f, kinds[f as keyof typeof kinds] ?? 'numeric'])),
      { name: out.label, task: 'multiclass' },
      50,
    );
    const batch = transform(spec, test.columns, test.rows);

    await writeFile(join(root, 'preprocess.json'), JSON.stringify(spec));
    const saved = JSON.parse(await readFile(join(root, 'preprocess.json'), 'utf8')) as PreprocessSpec;
    for (let r = 0; r < test.rows; r++) {
      // A serving request: one record of raw values.
      const record = Object.fromEntries(out.features.map((f) => [f, [test.columns[f]![r]!]]));
      expect(transform(saved, record, 1)).toEqual(batch.subarray(r * spec.width, (r + 1) * spec.width));
    }
  });

  it('reads splits in source order', () => {
    expect(train.sourceRows).toEqual([...train.sourceRows].sort((a, b) => a - b));
    expect(train.rows).toBe(out.split.train);
  });
});
