import type { tf } from './backend.js';

/**
 * A lean inference path for the dense networks the pipeline trains: plain typed-array matrix
 * products, no tensors, no backend dispatch. One row through a small MLP is a few microseconds of
 * arithmetic, while a TF.js `predict` call costs hundreds; serving uses this path, and a test keeps
 * it equal to TF.js within 1e-5. Models with other layers return undefined and stay on TF.js.
 */

type Activation = (v: Float64Array, rows: number, width: number) => void;

const elementwise =
  (f: (x: number) => number): Activation =>
  (v) => {
    for (let i = 0; i < v.length; i++) v[i] = f(v[i]!);
  };

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

const activations: Record<string, Activation> = {
  linear: () => {},
  relu: elementwise((x) => (x > 0 ? x : 0)),
  elu: elementwise((x) => (x > 0 ? x : Math.expm1(x))),
  selu: elementwise((x) => SELU_SCALE * (x > 0 ? x : SELU_ALPHA * Math.expm1(x))),
  tanh: elementwise(Math.tanh),
  sigmoid: elementwise((x) => 1 / (1 + Math.exp(-x))),
  softmax: (v, rows, width) => {
    for (let r = 0; r < rows; r++) {
      const o = r * width;
      let max = -Infinity;
      for (let j = 0; j < width; j++) max = Math.max(max, v[o + j]!);
      let sum = 0;
      for (let j = 0; j < width; j++) sum += v[o + j] = Math.exp(v[o + j]! - max);
      for (let j = 0; j < width; j++) v[o + j]! /= sum;
    }
  },
};

interface DenseLayer {
  inputs: number;
  outputs: number;
  /** Transposed to [outputs x inputs], so each output is a dot product over contiguous memory. */
  kernel: Float64Array;
  bias: Float64Array;
  activation: Activation;
}

export type DenseForward = (x: Float32Array, rows: number) => Float32Array;

/** The lean forward pass of a model made of Dense (and inference-time no-op Dropout) layers. */
export function denseForward(model: tf.LayersModel): DenseForward | undefined {
  const layers: DenseLayer[] = [];
  for (const layer of model.layers) {
    const kind = layer.getClassName();
    if (kind === 'Dropout' || kind === 'InputLayer') continue;
    const config = layer.getConfig() as { activation?: string; useBias?: boolean };
    if (kind !== 'Dense' || !activations[config.activation ?? 'linear']) return undefined;
    const [kernel, bias] = layer.getWeights();
    const [inputs, outputs] = kernel!.shape as [number, number];
    const weights = kernel!.dataSync() as Float32Array;
    const transposed = new Float64Array(inputs * outputs);
    for (let k = 0; k < inputs; k++) for (let j = 0; j < outputs; j++) transposed[j * inputs + k] = weights[k * outputs + j]!;
    layers.push({
      inputs,
      outputs,
      kernel: transposed,
      bias: bias ? Float64Array.from(bias.dataSync()) : new Float64Array(outputs),
      activation: activations[config.activation ?? 'linear']!,
    });
  }
  if (layers.length === 0) return undefined;
  return (x, rows) => {
    let input: Float64Array = Float64Array.from(x);
    for (const layer of layers) {
      input = dense(layer, input, rows);
      layer.activation(input, rows, layer.outputs);
    }
    return Float32Array.from(input);
  };
}

/**
 * `input x kernel + bias` for a block of four rows at a time: each weight is loaded once for four
 * dot products, kept in registers as doubles. About 2.5x a row-at-a-time loop.
 */
function dense({ inputs, outputs, kernel, bias }: DenseLayer, input: Float64Array, rows: number): Float64Array {
  const out = new Float64Array(rows * outputs);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const a0 = r * inputs;
    const a1 = a0 + inputs;
    const a2 = a1 + inputs;
    const a3 = a2 + inputs;
    for (let j = 0; j < outputs; j++) {
      let s0 = bias[j]!;
      let s1 = s0;
      let s2 = s0;
      let s3 = s0;
      const w = j * inputs;
      for (let k = 0; k < inputs; k++) {
        const kv = kernel[w + k]!;
        s0 += input[a0 + k]! * kv;
        s1 += input[a1 + k]! * kv;
        s2 += input[a2 + k]! * kv;
        s3 += input[a3 + k]! * kv;
      }
      out[r * outputs + j] = s0;
      out[(r + 1) * outputs + j] = s1;
      out[(r + 2) * outputs + j] = s2;
      out[(r + 3) * outputs + j] = s3;
    }
  }
  for (; r < rows; r++) {
    const a = r * inputs;
    for (let j = 0; j < outputs; j++) {
      let s = bias[j]!;
      const w = j * inputs;
      for (let k = 0; k < inputs; k++) s += input[a + k]! * kernel[w + k]!;
      out[r * outputs + j] = s;
    }
  }
  return out;
}
