import { tf, type BackendName } from './backend.js';
import type { Value } from './dataset.js';
import { denseForward } from './dense.js';
import { loadModel } from './io.js';
import { readPreprocess, targetScale, transform, type PreprocessSpec } from './preprocess.js';
import { readModelCard, type ModelCard } from './model-card.js';

/** A saved model with its preprocessing: raw feature columns in, predictions out. */
export interface Predictor {
  spec: PreprocessSpec;
  card: ModelCard;
  model: tf.LayersModel;
  /** `dense`: the lean typed-array path; `tfjs`: models with layers it does not cover. */
  engine: 'dense' | 'tfjs';
  /** Class probabilities (row-major, rows x classes) or regression values (rows) in the target's own units. */
  predict(columns: Record<string, Value[]>, rows: number): Float32Array;
  /** The same, from already transformed rows (`rows x spec.width`). */
  forward(x: Float32Array, rows: number): Float32Array;
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

export async function loadPredictor(dir: string, backend?: BackendName): Promise<Predictor> {
  const [spec, card, model] = await Promise.all([readPreprocess(dir), readModelCard(dir), loadModel(dir, backend)]);
  const dense = denseForward(model);
  const raw =
    dense ??
    ((x: Float32Array, rows: number) =>
      tf.tidy(() => Float32Array.from((model.predict(tf.tensor2d(x, [rows, spec.width])) as tf.Tensor).dataSync())));
  const forward = (x: Float32Array, rows: number) => (rows === 0 ? new Float32Array(0) : decodeOutputs(spec, raw(x, rows)));
  return {
    spec,
    card,
    model,
    engine: dense ? 'dense' : 'tfjs',
    forward,
    predict: (columns, rows) => forward(transform(spec, columns, rows), rows),
  };
}
