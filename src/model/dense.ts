import type { tf } from './backend.js';

/**
 * A lean inference path for the dense networks the pipeline trains: plain typed-array matrix
 * products, no tensors, no backend dispatch. One row through a small MLP is a few microseconds of
 * arithmetic, while a TF.js `predict` call costs hundreds; serving uses this path, and a test keeps
 * it equal to TF.js within 1e-5. Models with other layers return undefined and stay on TF.js.
 */

type Activation = (v: Float32Array, rows: number, width: number) => void;

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
  /** Row-major [inputs x outputs], as TF.js stores a Dense kernel. */
  kernel: Float32Array;
  bias: Float32Array;
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
    layers.push({
      inputs,
      outputs,
      kernel: kernel!.dataSync() as Float32Array,
      bias: bias ? (bias.dataSync() as Float32Array) : new Float32Array(outputs),
      activation: activations[config.activation ?? 'linear']!,
    });
  }
  if (layers.length === 0) return undefined;
  return (x, rows) => {
    let input = x;
    for (const { inputs, outputs, kernel, bias, activation } of layers) {
      const out = new Float32Array(rows * outputs);
      for (let r = 0; r < rows; r++) {
        const o = r * outputs;
        out.set(bias, o);
        const i0 = r * inputs;
        for (let k = 0; k < inputs; k++) {
          const xv = input[i0 + k]!;
          if (xv === 0) continue; // one-hot inputs are mostly zeros
          const w = k * outputs;
          for (let j = 0; j < outputs; j++) out[o + j]! += xv * kernel[w + j]!;
        }
      }
      activation(out, rows, outputs);
      input = out;
    }
    return input;
  };
}
