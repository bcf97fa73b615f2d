import { stabilityMetrics, type Config, type MetricName } from '../config/schema.js';
import { evaluationOf, testRows } from '../evaluate/test-predictions.js';
import { MlopsError } from '../errors.js';
import type { Spread, StabilitySummary } from '../step-outputs.js';
import type { Dataset } from './dataset.js';
import type { ModelCard } from './model-card.js';
import type { PreprocessSpec } from './preprocess.js';

/**
 * model.stability: the same training on several seeds, each scored on the validation split. The
 * test split stays the gate's: picking a seed by its test score would select on the very rows the
 * release is judged on. The validation rows are the same for every seed, so the spread is the
 * training's own variance, not sampling noise.
 */

export type StabilityRecord = NonNullable<ModelCard['stability']>;
export type SeedRun = StabilityRecord['runs'][number];

/**
 * The seeds to train: model.seed first (so its model is the one training without stability gives),
 * then spaced by 1000, because build.ts seeds layer i with seed + i and neighbouring seeds would share
 * initialisers.
 */
export const stabilitySeeds = (model: Config['model']): number[] =>
  Array.from({ length: model.stability?.seeds ?? 1 }, (_, i) => model.seed + 1000 * i);

/** Mean, sample standard deviation (n - 1: a handful of seeds), min and max. */
export function spreadOf(values: number[]): Spread {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance), min: Math.min(...values), max: Math.max(...values) };
}

/** The gated metrics of one seed's outputs (`decodeOutputs` form) on labelled rows, scored as the evaluation scores. */
export function seedMetrics(config: Config, spec: PreprocessSpec, outputs: Float32Array, rows: Dataset): Record<string, number> {
  const { metrics } = evaluationOf({ ...testRows(spec, rows), candidate: Array.from(outputs) }, 'candidate');
  return Object.fromEntries(stabilityMetrics(config).map((m) => [m, (metrics as unknown as Record<string, number>)[m]!]));
}

/** The index of the value closest to the median; ties (and undefined values) go to the earliest. */
function closestToMedian(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  let best = 0;
  values.forEach((v, i) => {
    if (Math.abs(v - median) < Math.abs(values[best]! - median)) best = i;
  });
  return best;
}

/**
 * The spread of every gated metric over the seeds' runs, checked against gates.stability.max_std
 * (a quality error, before anything is released), and the seed to release: the one closest to the
 * median of the first gated metric defined on every seed.
 */
export function judgeStability(
  config: Config,
  runs: SeedRun[],
  scoredOn: { split: StabilityRecord['split']; rows: number; trainRows: number },
): StabilityRecord {
  const metrics = stabilityMetrics(config);
  const spread = Object.fromEntries(metrics.map((m) => [m, spreadOf(runs.map((r) => r.metrics[m]!))])) as Record<MetricName, Spread>;
  const values = (m: MetricName) => runs.map((r) => r.metrics[m]!.toPrecision(4)).join(', ');
  const over = Object.entries(config.gates?.stability?.max_std ?? {})
    .filter(([m, max]) => spread[m as MetricName].std > max!)
    .map(
      ([m, max]) =>
        `${m} has a standard deviation of ${spread[m as MetricName].std.toPrecision(3)} across seeds ${runs.map((r) => r.seed).join(', ')} (${values(m as MetricName)}), above gates.stability.max_std.${m} ${max}`,
    );
  if (over.length) {
    throw new MlopsError('quality', `training is unstable: ${over.join('; ')} (on ${scoredOn.rows} ${scoredOn.split} rows)`, {
      hint: `the learning rate (model.learning_rate ${config.model.learning_rate}) is likely too high, or the data too little (${scoredOn.trainRows} train rows): lower the learning rate, add rows or regularisation (model.l2, model.dropout)`,
    });
  }
  const by = metrics.find((m) => runs.every((r) => Number.isFinite(r.metrics[m]))) ?? metrics[0]!;
  const chosen = runs[closestToMedian(runs.map((r) => r.metrics[by]!))]!;
  return { split: scoredOn.split, rows: scoredOn.rows, seeds: runs.map((r) => r.seed), seed: chosen.seed, by, spread, runs };
}

/** What train.json carries of it: the job summary's table. */
export const stabilitySummary = ({ seeds, seed, by, spread }: StabilityRecord): StabilitySummary => ({
  seeds,
  seed,
  by: by as MetricName,
  spread,
});
