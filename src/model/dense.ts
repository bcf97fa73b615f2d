import type { tf } from './backend.js';
import { denseWasm } from './dense-wasm.js';

/**
 * A lean inference path for the dense networks the pipeline trains: no tensors, no backend
 * dispatch, the matrix products in a WebAssembly SIMD kernel (dense.wat) over float32 like TF.js.
 * One row through a small MLP is a few microseconds, while a TF.js `predict` call costs hundreds;
 * serving and evaluation use this path, and a test keeps it equal to TF.js within 1e-5. Models with
 * other layers return undefined and stay on TF.js.
 */

/** Applies in place to `rows` rows of `width` values, laid out `stride` floats apart. */
export type Activation = (v: Float32Array, rows: number, width: number, stride: number) => void;

export const SELU_ALPHA = 1.6732632423543772;
export const SELU_SCALE = 1.0507009873554805;

// Each activation is its own loop: one shared loop calling a function per element runs about 8x
// slower once V8 has seen it called with several.
export const activations: Record<string, Activation | 'in the kernel'> = {
  relu: 'in the kernel', // fused with the product, while the rows are in cache
  linear: () => {},
  elu: (v) => {
    for (let i = 0; i < v.length; i++) if (!(v[i]! > 0)) v[i] = Math.expm1(v[i]!);
  },
  selu: (v) => {
    for (let i = 0; i < v.length; i++) v[i] = SELU_SCALE * (v[i]! > 0 ? v[i]! : SELU_ALPHA * Math.expm1(v[i]!));
  },
  tanh: (v) => {
    for (let i = 0; i < v.length; i++) v[i] = Math.tanh(v[i]!);
  },
  sigmoid: (v) => {
    for (let i = 0; i < v.length; i++) v[i] = 1 / (1 + Math.exp(-v[i]!));
  },
  softmax: (v, rows, width, stride) => {
    for (let o = 0; o < rows * stride; o += stride) {
      let max = -Infinity;
      for (let j = 0; j < width; j++) max = Math.max(max, v[o + j]!);
      let sum = 0;
      for (let j = 0; j < width; j++) sum += v[o + j] = Math.exp(v[o + j]! - max);
      for (let j = 0; j < width; j++) v[o + j]! /= sum;
    }
  },
};

interface Kernel {
  memory: WebAssembly.Memory;
  dense(x: number, xStride: number, rows: number, inputs: number, w: number, bias: number, width: number, out: number, relu: number): void;
}

let compiled: WebAssembly.Module | undefined;
/** One kernel instance per model: its memory holds that model's weights, and goes with it. */
const instantiate = () =>
  new WebAssembly.Instance((compiled ??= new WebAssembly.Module(Buffer.from(denseWasm, 'base64')))).exports as unknown as Kernel;

interface DenseLayer {
  inputs: number;
  outputs: number;
  /** `outputs` rounded up to whole 4-lane vectors: the row length of weights, bias and output. */
  width: number;
  /** Byte offsets of the [inputs x width] kernel and the bias in the kernel's memory. */
  w: number;
  bias: number;
  relu: boolean;
  /** Any other activation, applied to the kernel's output. */
  activation?: Activation;
}

export type DenseForward = (x: Float32Array, rows: number) => Float32Array;

/** The lean forward pass of a model made of Dense (and inference-time no-op Dropout) layers. */
export function denseForward(model: tf.LayersModel): DenseForward | undefined {
  const found: { kernel: tf.Tensor; bias?: tf.Tensor; activation: Activation | 'in the kernel' }[] = [];
  for (const layer of model.layers) {
    const kind = layer.getClassName();
    if (kind === 'Dropout' || kind === 'InputLayer') continue;
    const activation = activations[(layer.getConfig() as { activation?: string }).activation ?? 'linear'];
    if (kind !== 'Dense' || !activation) return undefined;
    const [kernel, bias] = layer.getWeights();
    found.push({ kernel: kernel!, bias, activation });
  }
  if (found.length === 0) return undefined;

  const kernel = instantiate();
  let top = 0; // bytes of weights laid out so far
  const floats = (n: number) => {
    const at = top;
    top += n * 4;
    return at;
  };
  const layers: DenseLayer[] = found.map(({ kernel: k, activation }) => {
    const [inputs, outputs] = k.shape as [number, number];
    const width = Math.ceil(outputs / 4) * 4;
    const relu = activation === 'in the kernel';
    return { inputs, outputs, width, w: floats(inputs * width), bias: floats(width), relu, activation: relu ? undefined : activation };
  });
  const reserve = (bytes: number) => {
    const short = bytes - kernel.memory.buffer.byteLength;
    if (short > 0) kernel.memory.grow(Math.ceil(short / 65536));
  };
  reserve(top);
  // Rows of `cols` values into rows of `width`: the padding lanes stay zero, so they add nothing
  // and the next layer never reads them.
  const place = (at: number, values: Float32Array, rows: number, cols: number, width: number) => {
    const into = new Float32Array(kernel.memory.buffer, at, rows * width);
    for (let r = 0; r < rows; r++) into.set(values.subarray(r * cols, (r + 1) * cols), r * width);
  };
  found.forEach(({ kernel: k, bias }, i) => {
    const { inputs, outputs, width, w, bias: at } = layers[i]!;
    place(w, k.dataSync() as Float32Array, inputs, outputs, width);
    if (bias) place(at, bias.dataSync() as Float32Array, 1, outputs, width);
  });
  const widest = Math.max(layers[0]!.inputs, ...layers.map((l) => l.width));
  const last = layers.at(-1)!;

  return (x, rows) => {
    // Two scratch areas after the weights; each layer reads one and writes the other. The kernel
    // works on blocks of four rows, so up to three rows of padding are computed and ignored.
    const blocks = Math.ceil(rows / 4) * 4;
    const scratch = blocks * widest * 4;
    reserve(top + 2 * scratch);
    let from = top;
    let to = top + scratch;
    let stride = layers[0]!.inputs;
    new Float32Array(kernel.memory.buffer, from, rows * stride).set(x.subarray(0, rows * stride));
    for (const layer of layers) {
      kernel.dense(from, stride, blocks, layer.inputs, layer.w, layer.bias, layer.width, to, layer.relu ? 1 : 0);
      layer.activation?.(new Float32Array(kernel.memory.buffer, to, rows * layer.width), rows, layer.outputs, layer.width);
      [from, to, stride] = [to, from, layer.width];
    }
    const result = new Float32Array(kernel.memory.buffer, from, rows * stride);
    if (last.width === last.outputs) return result.slice();
    const out = new Float32Array(rows * last.outputs);
    for (let r = 0; r < rows; r++) out.set(result.subarray(r * stride, r * stride + last.outputs), r * last.outputs);
    return out;
  };
}
