import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateSummary as evaluateJobSummary, trainSummary as trainJobSummary } from '../../src/actions/summary.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { extract } from '../../src/data/extract.js';
import { MlopsError } from '../../src/errors.js';
import { readPreprocess } from '../../src/model/preprocess.js';
import { train, type ModelCard } from '../../src/model/train.js';
import { runPredict } from '../../src/predict/run.js';
import { runSummary, trainLines } from '../../src/report.js';
import type { PipelineResult } from '../../src/step-outputs.js';
import type { RunningServer } from '../../serving/server.js';
import { championServer, contextFor, trainedRun } from '../helpers/model.js';
import { parquetOf, query } from '../predict/batch.js';

/*
 * model.class_weight and model.threshold on a seeded synthetic binary task with one "yes" to twenty
 * "no": the label is a noisy linear score of x1 and x2 over a cut, so the classes overlap and a
 * model trained as usual rarely says "yes".
 */
const u = (k: number) => `((hash(i, 7, ${k}) % 1000003) + 0.5) / 1000003.0`;
const z = (k: number) => `(sqrt(-2 * ln(${u(k)})) * cos(2 * pi() * ${u(k + 100)}))`;
const rows = 8000;
const synthetic = `
  SELECT * FROM (
    SELECT i + 1 AS id, TIMESTAMP '2025-01-01' + to_seconds(i * 60) AS event_time, x1, x2, x3,
      CASE WHEN x1 + 0.7 * x2 + 0.8 * noise > 2.43 THEN 'yes' ELSE 'no' END AS label
    FROM (SELECT i, ${z(1)} AS x1, ${z(2)} AS x2, ${z(3)} AS x3, ${z(4)} AS noise FROM range(${rows}) t(i))
  ) WHERE event_time >= $window_start AND event_time < $as_of`;

let root: string;

/** The config for the synthetic data, with `model` over the defaults, its registry and folders under `root`/`name`. */
function configOf(name: string, model: Record<string, unknown> = {}): Config {
  const dir = join(root, name);
  return parseConfig(
    {
      version: 1,
      project: 'imbalance',
      workdir: join(dir, 'work'),
      data: {
        source: { kind: 'duckdb', query: synthetic },
        window: { as_of: '2026-01-01', days: 365 },
        contract: {
          columns: {
            id: { type: 'integer', key: true },
            event_time: { type: 'timestamp' },
            x1: { type: 'float' },
            x2: { type: 'float' },
            x3: { type: 'float' },
            label: { type: 'label', values: ['no', 'yes'] },
          },
        },
      },
      model: { task: 'binary', hidden: [16], epochs: 40, batch_size: 64, ...model },
      gates: { thresholds: { macro_f1: { lower: 0.55 } } },
      registry: { path: join(dir, 'registry') },
      deploy: { target: 'none' },
      serving: { log: { path: join(dir, 'predictions.jsonl') } },
      predict: {
        source: { kind: 'duckdb', query: synthetic.replace('$window_start', "TIMESTAMP '2025-01-01'") },
        keys: ['id'],
        sink: { kind: 'parquet', path: join(dir, 'batches') },
      },
    },
    {},
  );
}

/** The test split's recall of "yes" (the second class), from the evaluation's confusion matrix. */
const minorityRecall = (run: PipelineResult) => {
  const confusion = (run.evaluate.metrics as { confusion: number[][] }).confusion;
  return confusion[1]![1]! / (confusion[1]![0]! + confusion[1]![1]!);
};

let defaults: PipelineResult;
let weighted: PipelineResult;
let weightedConfig: Config;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-imbalance-'));
  defaults = (await trainedRun(configOf('defaults'), 'defaults')).result;
  weightedConfig = configOf('weighted', { class_weight: 'balanced', threshold: 'f1' });
  weighted = (await trainedRun(weightedConfig, 'weighted')).result;
}, 300_000);
afterAll(() => rm(root, { recursive: true, force: true }));

describe('imbalanced classes: model.class_weight and model.threshold on a 1:20 binary task', () => {
  it('finds clearly more of the minority class with balanced and f1 than with the defaults', () => {
    expect(defaults.extract.split.test).toBeGreaterThan(1000);
    const [before, after] = [minorityRecall(defaults), minorityRecall(weighted)];
    expect(after).toBeGreaterThan(before + 0.2);
    // Not by calling everything "yes": the macro F1 holds up.
    expect(weighted.evaluate.metrics).toMatchObject({ macro_f1: expect.any(Number) });
    expect((weighted.evaluate.metrics as { macro_f1: number }).macro_f1).toBeGreaterThan(
      (defaults.evaluate.metrics as { macro_f1: number }).macro_f1 - 0.03,
    );
  });

  it('chooses the threshold on the validation split and reports it with the metrics at it and at 0.5', () => {
    const t = weighted.train.threshold!;
    expect(t).toMatchObject({ rule: 'f1', positive: 'yes', split: 'validation', rows: weighted.extract.split.validation });
    expect(t.value).toBeGreaterThan(0);
    expect(t.value).toBeLessThan(1);
    expect(t.metrics.macro_f1).toBeGreaterThanOrEqual(t.atDefault.macro_f1!);
    expect(defaults.train.threshold).toBeUndefined();

    const printed = trainLines(weighted.train).join('\n');
    expect(printed).toContain(`decision threshold ${+t.value.toPrecision(4)} on P(yes) (f1, chosen on ${t.rows} validation rows)`);
    expect(printed).toContain(`recall ${t.metrics.recall!.toFixed(4)}`);
    expect(printed).toContain(`; at 0.5: accuracy ${t.atDefault.accuracy!.toFixed(4)}`);
    // The run's report: the test metrics are at the candidate's threshold, and it says so.
    expect(weighted.evaluate.threshold).toBe(t.value);
    expect(runSummary('weighted', root, weighted)).toContain(`The candidate decides at its threshold ${+t.value.toPrecision(4)}`);
    expect(runSummary('defaults', root, defaults)).not.toContain('decides at its threshold');
    // The job summaries say the same.
    expect(trainJobSummary(weighted.train, [])).toContain(`The decision threshold ${+t.value.toPrecision(4)} on P(yes)`);
    expect(evaluateJobSummary(weighted.evaluate, ['no', 'yes'])).toContain(
      `The candidate decides at its threshold ${+t.value.toPrecision(4)}`,
    );
  });

  it('saves the threshold with the model, and the class weights in its card', async () => {
    const dir = weighted.train.modelDir;
    expect((await readPreprocess(dir)).label.threshold).toBe(weighted.train.threshold!.value);
    const card = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')) as ModelCard;
    expect(card.threshold).toEqual(weighted.train.threshold);
    // balanced: rows / (2 × the class's rows), so "yes" weighs about twenty times "no".
    expect(card.classWeights!.yes! / card.classWeights!.no!).toBeGreaterThan(15);
    expect(card.classWeights!.yes! / card.classWeights!.no!).toBeLessThan(25);
  });

  describe('served and batch-scored at the threshold', () => {
    let server: RunningServer;
    beforeAll(async () => (server = await championServer(weightedConfig)));
    afterAll(() => server?.close());

    it('labels "yes" above the threshold, on /predict and in a batch alike', async () => {
      const threshold = weighted.train.threshold!.value;
      const ctx = await contextFor(weightedConfig, 'batch');
      await runPredict(ctx, { asOf: '2026-01-01' });
      const scored = await query<{ id: bigint; label: string; probabilities: string }>(
        `SELECT id, label, probabilities FROM '${parquetOf(join(root, 'weighted', 'batches'), '2026-01-01')}' ORDER BY id LIMIT 1000`,
      );
      const records = await query(
        `SELECT x1, x2, x3 FROM (${synthetic.replace('$window_start', "TIMESTAMP '2025-01-01'").replace('$as_of', "TIMESTAMP '2026-01-01'")}) ORDER BY id LIMIT 1000`,
      );
      const res = await fetch(`${server.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: records }),
      });
      const served = ((await res.json()) as { predictions: { label: string; probabilities: Record<string, number> }[] }).predictions;
      expect(scored.map((r) => ({ label: r.label, probabilities: JSON.parse(r.probabilities) as unknown }))).toEqual(served);
      for (const p of served) expect(p.label).toBe(p.probabilities.yes! > threshold ? 'yes' : 'no');
      // Rows between 0.5 and the threshold are where it decides otherwise than the most probable class.
      const between = served.filter((p) => (p.probabilities.yes! - 0.5) * (p.probabilities.yes! - threshold) < 0);
      expect(between.length).toBeGreaterThan(0);
    });
  });

  it('refuses a class_weight naming a class the label lacks, naming it and the classes there are', async () => {
    const config = configOf('unknown-class', { class_weight: { fraud: 20 } });
    const ctx = await contextFor(config, 'unknown-class');
    await extract(ctx);
    const err = (await train(ctx).catch((e: unknown) => e)) as MlopsError;
    expect(err).toBeInstanceOf(MlopsError);
    expect(err.errorClass).toBe('config');
    expect(err.message).toBe(
      'model.class_weight names "fraud", which the label "label" does not have in the train split (its classes: no, yes)',
    );
    expect(err.hint).toContain('model.class_weight: balanced');
  });
});
