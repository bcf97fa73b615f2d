import { featureOffsets, type PreprocessSpec } from './preprocess.js';

/** Standard deviations from the train mean beyond which a value, squared, swamps every other row's loss or gradient. */
const EXTREME = 50;

/** The rows a network was trained and validated on, as it saw them: standardised features and targets. */
export interface SeenRows {
  split: 'train' | 'validation';
  x: Float32Array;
  /** The encoded targets: for regression, standardised. */
  y: Float32Array;
}

const farthest = (values: Float32Array, at: number, stride: number) => {
  let max = 0;
  for (let i = at; i < values.length; i += stride) max = Math.max(max, Math.abs(values[i]!));
  return max;
};

/**
 * The cause a failed training's numbers point to, one only, as a hint: a regression target with
 * extreme values, else a numeric feature with extreme values (standardised on the train split, a
 * validation value can land far out), else the learning rate.
 */
export function divergenceCause(spec: PreprocessSpec, seen: SeenRows[], learningRate: number): string {
  const sd = (k: number) => `${k.toPrecision(3)} standard deviations from its train mean`;
  if (spec.label.task === 'regression') {
    const [worst] = seen.map((s) => ({ split: s.split, k: farthest(s.y, 0, 1) })).sort((a, b) => b.k - a.k);
    if (worst && worst.k > EXTREME)
      return `the target's scale: "${spec.label.name}" has ${worst.split} values ${sd(worst.k)}, which swamp the loss; clip it, or predict its logarithm, in the query`;
  }
  const offsets = featureOffsets(spec);
  for (const [i, t] of spec.features.entries()) {
    if (t.kind !== 'numeric') continue;
    for (const s of seen) {
      const k = farthest(s.x, offsets[i]!, spec.width);
      if (k > EXTREME)
        return `a feature's extreme values: "${t.name}" has ${s.split} values ${sd(k)}; check its units and outliers, or clip it in the query`;
    }
  }
  return `the learning rate (model.learning_rate ${learningRate}) is likely too high: lower it`;
}
