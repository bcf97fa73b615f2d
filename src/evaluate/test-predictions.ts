import type { BaselineName } from '../config/schema.js';
import type { Dataset } from '../model/dataset.js';
import type { Predictor } from '../model/predictor.js';
import type { PreprocessSpec } from '../model/preprocess.js';
import type { ModelEvaluation, TestPredictions } from '../step-outputs.js';
import { classificationScorer, regressionScorer, type Metrics, type Scorer } from './metrics.js';

/**
 * The test rows as the metrics see them: labels, slices and a model's predictions, made once. The
 * evaluation's metrics, overall and per slice, and the gate's resamples all score these same numbers.
 */

/** The labels (class index, or target) and slices of labelled rows, as `spec` encodes them, and its threshold; no predictions yet. */
export function testRows(spec: PreprocessSpec, test: Dataset, sliceColumn?: string): Omit<TestPredictions, 'candidate'> {
  const { task, classes } = spec.label;
  const index = new Map((classes ?? []).map((c, i) => [c, i]));
  const labels = test.label.map((v) => (task === 'regression' ? Number(v) : index.get(String(v))!));
  const rows: Omit<TestPredictions, 'candidate'> = { task, width: task === 'regression' ? 1 : classes!.length, labels };
  if (spec.label.threshold !== undefined) rows.thresholds = { candidate: spec.label.threshold };
  if (sliceColumn) {
    const values = test.columns[sliceColumn]!.map((v) => String(v ?? '(missing)'));
    const keys = [...new Set(values)].sort((a, b) => (a < b ? -1 : 1));
    const at = new Map(keys.map((k, i) => [k, i]));
    rows.slices = { keys, of: values.map((v) => at.get(v)!) };
  }
  return rows;
}

/** A model's predictions on every test row, as plain numbers for the file. */
export const predictAll = (predictor: Predictor, test: Dataset): number[] => Array.from(predictor.predict(test.columns, test.rows));

/** The row indices of each slice, in the order of its keys. */
export function sliceRows(p: Pick<TestPredictions, 'slices' | 'labels'>): Map<string, number[]> {
  const groups = new Map<string, number[]>((p.slices?.keys ?? []).map((k) => [k, []]));
  p.slices?.of.forEach((s, r) => groups.get(p.slices!.keys[s]!)!.push(r));
  return groups;
}

/** A model whose predictions on the test rows are stored. */
export type Scored = 'candidate' | 'champion' | BaselineName;

/** The scorer of one model's predictions on `rows` of the test split (every row by default). */
export function scorerOf(p: TestPredictions, model: Scored, rows?: readonly number[]): Scorer {
  const outputs = model === 'candidate' || model === 'champion' ? p[model]! : p.baselines![model]!;
  const k = p.width;
  const picked = rows ?? p.labels.map((_, r) => r);
  const truth = Float64Array.from(picked, (r) => p.labels[r]!);
  const out = new Float64Array(picked.length * k);
  picked.forEach((r, i) => {
    for (let c = 0; c < k; c++) out[i * k + c] = outputs[r * k + c]!;
  });
  return p.task === 'regression' ? regressionScorer(truth, out) : classificationScorer(truth, out, k, p.thresholds?.[model]);
}

/** A model's metrics on the whole test split and per slice, from its stored predictions. */
export function evaluationOf(p: TestPredictions, model: Scored): ModelEvaluation {
  const unweighted = (rows?: number[]): Metrics => scorerOf(p, model, rows)(new Float64Array(rows?.length ?? p.labels.length).fill(1));
  const slices: ModelEvaluation['slices'] = {};
  for (const [key, rows] of sliceRows(p)) slices[key] = { rows: rows.length, metrics: unweighted(rows) };
  return { metrics: unweighted(), slices };
}
