import type { Model } from './family.js';
import { featureOffsets, targetScale, type PreprocessSpec } from './preprocess.js';
import type { FeatureReference } from './reference.js';

/**
 * Per-record explanations by integrated gradients (Sundararajan et al., 2017): the gradient of the
 * explained output averaged along the straight line from a baseline input to the record, times the
 * record's distance from the baseline. The attributions add up to the output minus the baseline's
 * output, so each says how much of the prediction its column moved. The baseline is the train
 * split's mean input; a column's encoded inputs (a category's one-hot slots) are summed back to it.
 */

/** One record's explanation: which output, its value at the baseline, and each input column's share of the difference. */
export interface Explanation {
  /** The predicted class whose probability is explained, or `value` for regression. */
  output: string;
  baseline: number;
  /** By input column name, in the model's feature order. */
  attributions: Record<string, number>;
}

export type Explainer = (x: Float32Array, rows: number, predicted: ArrayLike<number>, steps: number) => Explanation[];

/**
 * The train split's mean of every encoded input: 0 for a standardised number, the share of true
 * for a boolean, each value's share for a category's one-hot slots; missing values count as the
 * value training imputed for them, as the model saw them.
 */
export function encodedMeans(spec: PreprocessSpec, reference: Record<string, FeatureReference>): Float32Array {
  const means = new Float32Array(spec.width);
  const offsets = featureOffsets(spec);
  spec.features.forEach((t, f) => {
    const at = offsets[f]!;
    const ref = reference[t.name];
    if (t.kind === 'numeric') return; // the train mean, standardised
    if (t.kind === 'boolean') {
      means[at] = ref?.kind === 'boolean' ? ref.shareTrue * (1 - ref.missing) + (t.fill ? ref.missing : 0) : Number(t.fill);
      return;
    }
    const known = t.vocabulary.indexOf(t.fill);
    const fill = known === -1 ? t.vocabulary.length : known; // as transform imputes it
    if (ref?.kind !== 'category') return void (means[at + fill] = 1);
    ref.shares.forEach((share, i) => (means[at + i] = share * (1 - ref.missing)));
    means[at + fill]! += ref.missing;
  });
  return means;
}

/**
 * Integrated gradients of each row's output `pick[r]` against `baseline`, by the midpoint rule over
 * `steps` points: one gradient call for all rows and points. Rows x width attributions.
 */
export function integratedGradients(
  gradients: NonNullable<Model['gradients']>,
  x: Float32Array,
  rows: number,
  baseline: Float32Array,
  pick: Int32Array,
  steps: number,
): Float32Array {
  const width = baseline.length;
  const path = new Float32Array(rows * steps * width);
  for (let r = 0; r < rows; r++)
    for (let s = 0; s < steps; s++) {
      const alpha = (s + 0.5) / steps;
      const at = (r * steps + s) * width;
      for (let j = 0; j < width; j++) path[at + j] = baseline[j]! + alpha * (x[r * width + j]! - baseline[j]!);
    }
  const grads = gradients(
    path,
    rows * steps,
    Int32Array.from({ length: rows * steps }, (_, i) => pick[Math.floor(i / steps)]!),
  );
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < width; j++) {
      let sum = 0;
      for (let s = 0; s < steps; s++) sum += grads[(r * steps + s) * width + j]!;
      out[r * width + j] = ((x[r * width + j]! - baseline[j]!) * sum) / steps;
    }
  return out;
}

/**
 * The explainer of a model with gradients: each record's predicted class probability (or
 * regression value, in the target's units) explained against the train means. `forward` is the
 * predictor's, decoded, for the baseline's own output.
 */
export function explainer(
  spec: PreprocessSpec,
  reference: Record<string, FeatureReference>,
  gradients: NonNullable<Model['gradients']>,
  forward: (x: Float32Array, rows: number) => Float32Array,
): Explainer {
  const baseline = encodedMeans(spec, reference);
  const atBaseline = forward(baseline, 1);
  const offsets = featureOffsets(spec);
  const { task, classes } = spec.label;
  return (x, rows, predicted, steps) => {
    // A sigmoid head has one output, P(second class): the first class's probability is 1 minus it.
    const pick = Int32Array.from({ length: rows }, (_, r) => (task === 'multiclass' ? predicted[r]! : 0));
    const ig = integratedGradients(gradients, x, rows, baseline, pick, steps);
    return Array.from({ length: rows }, (_, r) => {
      const c = predicted[r]!;
      const scale = task === 'regression' ? targetScale(spec).std : task === 'binary' && c === 0 ? -1 : 1;
      const attributions: Record<string, number> = {};
      spec.features.forEach((t, f) => {
        let sum = 0;
        for (let j = offsets[f]!; j < (offsets[f + 1] ?? spec.width); j++) sum += ig[r * spec.width + j]!;
        attributions[t.name] = sum * scale;
      });
      return { output: classes ? classes[c]! : 'value', baseline: atBaseline[task === 'regression' ? 0 : c]!, attributions };
    });
  };
}
