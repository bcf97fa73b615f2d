import type { Head } from './dense-train-plan.js';

/**
 * The head and its loss on a batch, as TF.js computes them (softmax with categorical
 * cross-entropy, sigmoid with binary cross-entropy, linear with mean squared error; predictions
 * clipped to [1e-7, 1 - 1e-7] inside the logarithms): the head's activation applied to the
 * pre-activations `z` in place, each row's loss, and, for training, the gradient of the batch's
 * mean loss with respect to `z`, which for each of these pairs is (p - y) scaled.
 */

const EPSILON = 1e-7; // TF.js's float32 epsilon
const clip = (p: number) => Math.min(Math.max(p, EPSILON), 1 - EPSILON);

export interface Batch {
  /** Pre-activations in, predictions out: `rows` rows of `stride` floats, the first `outputs` used. */
  z: Float32Array;
  stride: number;
  outputs: number;
  rows: number;
  /** Targets, `rows x outputs`. */
  y: Float32Array;
  /** Where the gradient goes (laid out like z), or undefined when only evaluating. */
  grad?: Float32Array;
  /** Each row's loss is divided by this in the gradient: the rows of the batch. */
  mean: number;
  /** model.class_weight: each row's loss and gradient multiplied by its class's weight, read from its target. */
  classWeights?: number[];
}

/** A row's class weight, read from its target `y[t..]`: 0/1 for a sigmoid head, one-hot for softmax. */
function weightOf(head: Head, cw: number[] | undefined, y: Float32Array, t: number, k: number): number {
  if (!cw) return 1;
  if (head === 'sigmoid') return cw[0]! + y[t]! * (cw[1]! - cw[0]!);
  let weight = 0;
  for (let j = 0; j < k; j++) weight += y[t + j]! * cw[j]!;
  return weight;
}

/** Applies the head; returns the sum of the rows' (weighted) losses and the count of rows predicted right (classifiers). */
export function headLoss(head: Head, b: Batch): { loss: number; right: number } {
  const { z, stride, outputs: k, rows, y, grad } = b;
  let [loss, right] = [0, 0];
  for (let r = 0; r < rows; r++) {
    const [o, t] = [r * stride, r * k];
    const weight = weightOf(head, b.classWeights, y, t, k);
    // The gradient of the batch's mean weighted loss: each row's (p - y) times its weight, over the rows.
    const scale = weight / b.mean;
    if (head === 'softmax') {
      let max = -Infinity;
      for (let j = 0; j < k; j++) max = Math.max(max, z[o + j]!);
      let sum = 0;
      for (let j = 0; j < k; j++) sum += z[o + j] = Math.exp(z[o + j]! - max);
      let [best, label, rowLoss] = [0, 0, 0];
      for (let j = 0; j < k; j++) {
        const p = (z[o + j]! /= sum);
        rowLoss -= y[t + j]! * Math.log(clip(p));
        if (p > z[o + best]!) best = j;
        if (y[t + j]! > y[t + label]!) label = j;
        if (grad) grad[o + j] = (p - y[t + j]!) * scale;
      }
      loss += weight * rowLoss;
      if (best === label) right++;
    } else if (head === 'sigmoid') {
      const p = (z[o] = 1 / (1 + Math.exp(-z[o]!)));
      const [q, target] = [clip(p), y[t]!];
      loss -= weight * (target * Math.log(q) + (1 - target) * Math.log(1 - q));
      if ((p > 0.5 ? 1 : 0) === target) right++;
      if (grad) grad[o] = (p - target) * scale;
    } else {
      for (let j = 0; j < k; j++) {
        const d = z[o + j]! - y[t + j]!;
        loss += (d * d) / k;
        if (grad) grad[o + j] = (2 * d) / (k * b.mean);
      }
    }
  }
  return { loss, right };
}
