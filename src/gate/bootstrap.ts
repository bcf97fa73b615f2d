import type { Config, MetricName } from '../config/schema.js';
import type { Scorer } from '../evaluate/metrics.js';
import { seededRandom } from '../model/random.js';
import type { Decision } from '../step-outputs.js';

/**
 * The paired bootstrap: the test rows are drawn with replacement, and every model is scored on the
 * same draw, so the spread of a difference reflects only how the models differ row by row. A draw
 * is a vector of multiplicity counts the scorers weight the stored predictions by: nothing is
 * copied, re-sorted or re-predicted per resample.
 */

export type BootstrapSettings = NonNullable<Decision['bootstrap']>;

/** `gates.confidence`, `gates.bootstrap` and `gates.value_on`, with their defaults. */
export const bootstrapSettings = (gates: Config['gates']): BootstrapSettings => ({
  confidence: gates?.confidence ?? 0.95,
  resamples: gates?.bootstrap?.resamples ?? 1000,
  seed: gates?.bootstrap?.seed ?? 1,
  valueOn: gates?.value_on ?? 'point',
});

/** Sets `counts[i]` to how often row i comes up in `counts.length` draws with replacement. */
export function drawCounts(random: () => number, counts: Uint32Array): void {
  const n = counts.length;
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[(random() * n) | 0]!++;
}

/**
 * Each model's `metrics` on `resamples` draws of its `rows` test rows, the same draws for every
 * model: result[model].get(metric)[resample]. Seeded, so the same inputs give the same values.
 */
export function pairedResamples(
  scorers: Scorer[],
  rows: number,
  metrics: readonly MetricName[],
  { resamples, seed }: Pick<BootstrapSettings, 'resamples' | 'seed'>,
): Map<MetricName, Float64Array>[] {
  const random = seededRandom(seed);
  const counts = new Uint32Array(rows);
  const out = scorers.map(() => new Map(metrics.map((m) => [m, new Float64Array(resamples)])));
  for (let b = 0; b < resamples; b++) {
    drawCounts(random, counts);
    scorers.forEach((score, s) => {
      const values = score(counts) as unknown as Record<string, number>;
      for (const m of metrics) out[s]!.get(m)![b] = values[m] ?? NaN;
    });
  }
  return out;
}

/**
 * The central `confidence` interval of the finite values, by percentiles (linear interpolation);
 * undefined when none is finite. A resample can leave a metric undefined (a slice's ROC AUC on a
 * draw of one class): such resamples are left out.
 */
export function percentileInterval(values: ArrayLike<number>, confidence: number): { low: number; high: number } | undefined {
  const finite = Float64Array.from(values).filter(Number.isFinite).sort();
  if (finite.length === 0) return undefined;
  const at = (q: number) => {
    const i = q * (finite.length - 1);
    const lo = Math.floor(i);
    return finite[lo]! + (finite[Math.min(lo + 1, finite.length - 1)]! - finite[lo]!) * (i - lo);
  };
  return { low: at((1 - confidence) / 2), high: at((1 + confidence) / 2) };
}
