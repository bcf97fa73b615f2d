import { higherIsBetter, stabilityMetrics, type Config, type MetricName } from '../config/schema.js';
import type { Dataset } from '../model/dataset.js';
import type { Importance } from '../model/card-fields.js';
import type { Predictor } from '../model/predictor.js';
import { featureOffsets, transform } from '../model/preprocess.js';
import { seededRandom } from '../model/random.js';
import { classificationScorer, regressionScorer } from './metrics.js';

/**
 * Permutation importance: how much worse the model scores on the test rows when one input column's
 * values are shuffled across the rows, breaking its link to the label and leaving its distribution
 * as it was. A column the model ignores drops nothing; one it relies on drops the metric.
 */

export interface ImportanceOptions {
  metric: MetricName;
  higherIsBetter: boolean;
  /** Shuffles per column; the spread over them is reported. */
  repeats: number;
  seed: number;
  /** Past this many test rows a seeded sample of them is used: the cost is columns x repeats predictions of every row. */
  maxRows: number;
}

/** Rows predicted per call: bounds the memory of the transformed copies the predictor works on. */
const BATCH = 4096;

/** The metric importance is measured on: the first gated one (latencies aside), else accuracy or rmse; and its better direction. */
export function importanceOptions(config: Config): ImportanceOptions {
  const metric = stabilityMetrics(config)[0] ?? (config.model.task === 'regression' ? 'rmse' : 'accuracy');
  return {
    metric,
    higherIsBetter: higherIsBetter(metric, config.gates?.thresholds[metric]?.direction),
    repeats: 5,
    seed: 1,
    maxRows: 10_000,
  };
}

/** `n` row indices in a seeded random order (Fisher-Yates). */
function shuffled(n: number, random: () => number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The test rows' labels as the metrics take them: the class index, or the regression target. */
function encodedLabels(predictor: Predictor, test: Dataset, rows: ArrayLike<number>): Float64Array {
  const { task, classes = [] } = predictor.spec.label;
  const index = new Map(classes.map((c, i) => [c, i]));
  return Float64Array.from(rows, (r) => (task === 'regression' ? Number(test.label[r]) : index.get(String(test.label[r]))!));
}

/** Each column's permutation importance on `test`, most important first. */
export function permutationImportance(predictor: Predictor, test: Dataset, options: ImportanceOptions): Importance {
  const { spec } = predictor;
  const { metric, repeats, seed } = options;
  const random = seededRandom(seed);
  // The sample (or every row) in source order; transformed once, then each column's slots are moved between rows.
  const picked = test.rows > options.maxRows ? shuffled(test.rows, random).subarray(0, options.maxRows).sort() : undefined;
  const rows = picked?.length ?? test.rows;
  const columns = picked
    ? Object.fromEntries(Object.entries(test.columns).map(([k, v]) => [k, Array.from(picked, (r) => v[r]!)]))
    : test.columns;
  const truth = encodedLabels(predictor, test, picked ?? Array.from({ length: rows }, (_, r) => r));
  const width = spec.width;
  const x = transform(spec, columns, rows);

  const k = spec.label.task === 'regression' ? 1 : spec.label.classes!.length;
  const out = new Float32Array(rows * k);
  const ones = new Float64Array(rows).fill(1);
  const score = (input: Float32Array): number => {
    for (let at = 0; at < rows; at += BATCH) {
      const n = Math.min(BATCH, rows - at);
      out.set(predictor.forward(input.subarray(at * width, (at + n) * width), n), at * k);
    }
    const metrics = spec.label.task === 'regression' ? regressionScorer(truth, out)(ones) : classificationScorer(truth, out, k)(ones);
    return (metrics as unknown as Record<string, number>)[metric]!;
  };

  const base = score(x);
  const sign = options.higherIsBetter ? 1 : -1;
  const offsets = featureOffsets(spec);
  const work = x.slice();
  const result = spec.features.map((feature, f) => {
    const from = offsets[f]!;
    const to = offsets[f + 1] ?? width;
    const drops: number[] = [];
    for (let repeat = 0; repeat < repeats; repeat++) {
      const order = shuffled(rows, random);
      for (let r = 0; r < rows; r++) work.set(x.subarray(order[r]! * width + from, order[r]! * width + to), r * width + from);
      drops.push(sign * (base - score(work)));
    }
    for (let r = 0; r < rows; r++) work.set(x.subarray(r * width + from, r * width + to), r * width + from);
    const drop = drops.reduce((a, b) => a + b, 0) / repeats;
    const std = repeats > 1 ? Math.sqrt(drops.reduce((s, d) => s + (d - drop) ** 2, 0) / (repeats - 1)) : 0;
    return { column: feature.name, drop, std };
  });
  const key = (d: number) => (Number.isNaN(d) ? -Infinity : d);
  result.sort((a, b) => key(b.drop) - key(a.drop));
  return { metric, score: base, rows, repeats, seed, columns: result };
}
