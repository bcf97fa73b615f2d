import type { Config } from '../config/schema.js';
import { configError } from '../errors.js';
import type { Value } from './dataset.js';
import type { PreprocessSpec } from './preprocess.js';

/**
 * model.class_weight: each training row's loss (and so its gradient) is multiplied by its class's
 * weight, in the TF.js step and the WebAssembly one alike, and the validation loss early stopping
 * watches is weighted the same way, so the curve is of the loss being minimised. `balanced` is
 * scikit-learn's: rows / (classes × the class's rows), which makes every class weigh as much in
 * total and keeps the mean weight 1, so the learning rate means what it did.
 */

/** The weight of each class of `spec` (in its order), from the train split's labels; undefined without model.class_weight. */
export function classWeightsOf(model: Config['model'], spec: PreprocessSpec, trainLabels: Value[]): number[] | undefined {
  const setting = model.class_weight;
  const classes = spec.label.classes;
  if (setting === undefined || !classes) return undefined;
  if (setting === 'balanced') {
    const counts = new Map<string, number>();
    for (const v of trainLabels) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
    return classes.map((c) => trainLabels.length / (classes.length * counts.get(c)!));
  }
  const unknown = Object.keys(setting).filter((c) => !classes.includes(c));
  if (unknown.length)
    throw configError(
      `model.class_weight names ${unknown.map((c) => `"${c}"`).join(', ')}, which the label "${spec.label.name}" does not have in the train split (its classes: ${classes.join(', ')})`,
      'name classes the label has (a class left out weighs 1), or use model.class_weight: balanced',
    );
  return classes.map((c) => setting[c] ?? 1);
}

/**
 * The loss of the best constant prediction under `weights` (per class), rows weighted as training
 * weighs them: with class shares p and weights w, predicting q ∝ p·w gives −Σ p·w·log q. Without
 * weights it is the entropy of the shares.
 */
export function weightedConstantLoss(shares: number[], weights: number[] = shares.map(() => 1)): number {
  const mass = shares.map((p, c) => p * weights[c]!);
  const total = mass.reduce((a, b) => a + b, 0);
  return mass.reduce((loss, m) => loss - (m > 0 ? m * Math.log(m / total) : 0), 0);
}
