import type { BackendName } from './backend.js';
import type { Value } from './dataset.js';
import { explainer, type Explainer } from './explain.js';
import { savedFamily } from './families.js';
import { readPreprocess, targetScale, transform, type PreprocessSpec } from './preprocess.js';
import { readModelCard, type ModelCard } from './model-card.js';

/** A saved model with its preprocessing: raw feature columns in, predictions out. */
export interface Predictor {
  spec: PreprocessSpec;
  card: ModelCard;
  /** How the model predicts, for the log (the MLP: `dense`, the lean typed-array path, or `tfjs`). */
  engine: string;
  /** Class probabilities (row-major, rows x classes) or regression values (rows) in the target's own units. */
  predict(columns: Record<string, Value[]>, rows: number): Float32Array;
  /** The same, from already transformed rows (`rows x spec.width`). */
  forward(x: Float32Array, rows: number): Float32Array;
  /**
   * Explains transformed rows' predictions (`predicted`: each row's class index), integrating
   * gradients over `steps` points; undefined for a model family without gradients.
   */
  explain?: Explainer;
  /** Frees the model's memory; the predictor is unusable after. */
  dispose(): void;
}

/**
 * A network's raw outputs as callers want them: a sigmoid head gives P(second class), and becomes
 * one probability per class; a regression output is un-scaled into the target's own units.
 */
export function decodeOutputs(spec: PreprocessSpec, out: Float32Array): Float32Array {
  if (spec.label.task === 'binary')
    return Float32Array.from({ length: out.length * 2 }, (_, i) => (i % 2 ? out[i >> 1]! : 1 - out[i >> 1]!));
  if (spec.label.task === 'regression') {
    const { mean, std } = targetScale(spec);
    return out.map((v) => v * std + mean);
  }
  return out;
}

/** The model saved in `dir` with its preprocessing and card, on `backend` if forced. */
export async function loadPredictor(dir: string, backend?: BackendName): Promise<Predictor> {
  const [spec, card] = await Promise.all([readPreprocess(dir), readModelCard(dir)]);
  const model = await savedFamily(card.family, dir).load(dir, backend);
  const forward = (x: Float32Array, rows: number) => (rows === 0 ? new Float32Array(0) : decodeOutputs(spec, model.predict(x, rows)));
  return {
    spec,
    card,
    engine: model.engine,
    forward,
    predict: (columns, rows) => forward(transform(spec, columns, rows), rows),
    explain: model.gradients && explainer(spec, card.reference, model.gradients.bind(model), forward),
    dispose: () => model.dispose(),
  };
}
