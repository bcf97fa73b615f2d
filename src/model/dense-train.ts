import { tf } from './backend.js';
import { activations, SELU_ALPHA, SELU_SCALE } from './dense.js';
import { denseTrainWasm } from './dense-train-wasm.js';
import { headLoss } from './dense-train-loss.js';
import { planOf, type Plan, type PlannedLayer } from './dense-train-plan.js';

/**
 * The training step of a network of Dense layers (and Dropout) in WebAssembly SIMD: forward,
 * backward and the optimizer over weights that stay in the kernel's memory from the first batch to
 * the last (dense-train.wat). A TF.js step dispatches some forty kernels, and the wasm backend
 * runs the gradient products, whose operand is transposed, at a tenth of the speed of the forward
 * ones; here every product reads its operands in the layout it needs (a transposed copy of each
 * kernel is kept for the backward pass, refreshed by the update) and a step is a dozen calls. The
 * network's weights are read at the start and written back to it by `writeBack`, so the model
 * saved is the TF.js model, in its format. A test trains the same seed both ways and compares.
 */

/** Rows per call when only evaluating. */
const EVALUATE_ROWS = 1024;

interface Kernel {
  memory: WebAssembly.Memory;
  product(
    a: number,
    rowStride: number,
    colStride: number,
    rows: number,
    inner: number,
    b: number,
    width: number,
    bias: number,
    out: number,
    mask: number,
  ): void;
  columnSums(a: number, rows: number, width: number, out: number): void;
  multiply(a: number, b: number, count: number): void;
  adam(
    w: number,
    g: number,
    m: number,
    v: number,
    count: number,
    rate: number,
    beta1: number,
    beta2: number,
    unbias1: number,
    unbias2: number,
    epsilon: number,
    l2: number,
  ): void;
  sgd(w: number, g: number, count: number, rate: number, l2: number): void;
  transpose(w: number, rows: number, cols: number, stride: number, wt: number, tStride: number): void;
}

let compiled: WebAssembly.Module | undefined;
const instantiate = () =>
  new WebAssembly.Instance((compiled ??= new WebAssembly.Module(Buffer.from(denseTrainWasm, 'base64')))).exports as unknown as Kernel;

const up = (n: number, to: number) => Math.ceil(n / to) * to;

/** The derivative of each hidden activation from its output a (elu and selu are positive exactly where their input is). */
const derivatives: Record<string, (grad: Float32Array, a: Float32Array) => void> = {
  linear: () => {},
  tanh: (g, a) => {
    for (let i = 0; i < g.length; i++) g[i]! *= 1 - a[i]! * a[i]!;
  },
  sigmoid: (g, a) => {
    for (let i = 0; i < g.length; i++) g[i]! *= a[i]! * (1 - a[i]!);
  },
  elu: (g, a) => {
    for (let i = 0; i < g.length; i++) if (!(a[i]! > 0)) g[i]! *= a[i]! + 1;
  },
  selu: (g, a) => {
    for (let i = 0; i < g.length; i++) g[i]! *= a[i]! > 0 ? SELU_SCALE : a[i]! + SELU_SCALE * SELU_ALPHA;
  },
};

/**
 * A layer in the kernel's memory (byte offsets). The kernel has `rows` rows, `inputs` rounded up to
 * 4 (the gradient product works on blocks of four), of `stride` floats: `units` rounded up to 8.
 * The padding stays zero where it could reach a real output.
 */
interface Layer {
  plan: PlannedLayer;
  rows: number;
  stride: number;
  relu: boolean;
  w: number;
  /** The kernel transposed, `units` rows of the previous layer's stride: what the backward product reads. */
  wt: number;
  bias: number;
  grad: { w: number; bias: number };
  /** Adam's moments of the kernel and of the bias. */
  moments: { w: [number, number]; bias: [number, number] };
  /** The layer's output (`capacity x stride`), its output after dropout and dropout's mask, and the gradient at its pre-activation. */
  out: number;
  dropped: number;
  mask: number;
  delta: number;
}

export interface DenseTrainer {
  /** One optimizer step on the rows `order[start, start + n)` of `x` and `y`; returns the batch's loss with the penalties, as fit reports it. */
  step(x: Float32Array, y: Float32Array, order: Int32Array, start: number, n: number): number;
  /** The summed (class-weighted) loss (without penalties) and the count of rows predicted right, over every row of `x` and `y`. */
  evaluate(x: Float32Array, y: Float32Array, rows: number): { loss: number; right: number };
  /** A copy of the weights in TF.js's layout, for early stopping's best epoch. */
  weights(): Float32Array[];
  /** Writes `weights` (of `weights()`) into the network. */
  writeBack(weights: Float32Array[]): void;
}

/** The step for `net` (compiled for `task`), with batches of up to `batchSize` rows; undefined when its layers or optimizer are not covered. */
export function denseTrainer(
  net: tf.LayersModel,
  task: 'binary' | 'multiclass' | 'regression',
  batchSize: number,
  random: () => number,
  classWeights?: number[],
): DenseTrainer | undefined {
  const plan = planOf(net, task);
  return plan && trainer(net, plan, batchSize, random, classWeights);
}

function trainer(net: tf.LayersModel, plan: Plan, batchSize: number, random: () => number, classWeights?: number[]): DenseTrainer {
  const kernel = instantiate();
  const capacity = up(Math.max(batchSize, EVALUATE_ROWS), 4);
  let top = 16; // 0 means "none" to the kernel
  const floats = (n: number) => [top, (top += up(n, 4) * 4)][0]!;
  const input = { width: plan.layers[0]!.inputs, stride: up(plan.layers[0]!.inputs, 8) };
  const x = floats(capacity * input.stride);
  const layers: Layer[] = plan.layers.map((p, i) => {
    const [rows, stride] = [up(p.inputs, 4), up(p.units, 8)];
    const size = rows * stride;
    const previous = i === 0 ? input.stride : up(plan.layers[i - 1]!.units, 8);
    return {
      plan: p,
      rows,
      stride,
      relu: p.activation === 'relu',
      w: floats(size),
      wt: i === 0 ? 0 : floats(p.units * previous), // the first layer's input has no gradient to take
      bias: floats(stride),
      grad: { w: floats(size), bias: floats(stride) },
      moments: { w: [floats(size), floats(size)], bias: [floats(stride), floats(stride)] },
      out: floats(capacity * stride),
      dropped: p.dropout ? floats(capacity * stride) : 0,
      mask: p.dropout ? floats(capacity * stride) : 0,
      delta: floats(capacity * stride),
    };
  });
  kernel.memory.grow(Math.max(0, Math.ceil((top - kernel.memory.buffer.byteLength) / 65536)));
  const memory = kernel.memory.buffer;
  const view = (at: number, floats: number) => new Float32Array(memory, at, floats);
  const last = layers.at(-1)!;
  const ys = new Float32Array(capacity * last.plan.units);

  const load = (weights: Float32Array[]) =>
    layers.forEach((l, i) => {
      const { inputs, units } = l.plan;
      const w = view(l.w, l.rows * l.stride);
      for (let k = 0; k < inputs; k++) w.set(weights[2 * i]!.subarray(k * units, (k + 1) * units), k * l.stride);
      view(l.bias, units).set(weights[2 * i + 1]!);
      if (i > 0) kernel.transpose(l.w, inputs, units, l.stride, l.wt, layers[i - 1]!.stride);
    });
  load(plan.layers.flatMap((l) => [l.kernel.dataSync() as Float32Array, l.bias.dataSync() as Float32Array]));

  /** The network on the `rows` rows at `x` (`blocks` rows rounded up to 4); dropout when training. Leaves the head's pre-activations in the last layer's `out`. */
  const forward = (blocks: number, training: boolean) => {
    let [from, stride] = [x, input.stride];
    for (const l of layers) {
      kernel.product(from, stride, 1, blocks, l.plan.inputs, l.w, l.stride, l.bias, l.out, l.relu ? l.out : 0);
      if (l === last) break;
      const activation = activations[l.plan.activation];
      if (typeof activation === 'function') activation(view(l.out, blocks * l.stride), blocks, l.plan.units, l.stride);
      [from, stride] = [l.out, l.stride];
      if (training && l.plan.dropout) {
        const [count, rate] = [blocks * l.stride, l.plan.dropout];
        const mask = view(l.mask, count);
        for (let i = 0; i < count; i++) mask[i] = random() < rate ? 0 : 1 / (1 - rate);
        new Uint8Array(memory).copyWithin(l.dropped, l.out, l.out + count * 4);
        kernel.multiply(l.dropped, l.mask, count);
        from = l.dropped;
      }
    }
  };

  const gather = (data: Float32Array, order: Int32Array | undefined, start: number, n: number) => {
    const into = view(x, n * input.stride);
    const w = input.width;
    for (let b = 0; b < n; b++) {
      const from = (order ? order[start + b]! : start + b) * w;
      for (let c = 0; c < w; c++) into[b * input.stride + c] = data[from + c]!;
    }
  };

  const headOf = (y: Float32Array, rows: number, grad: boolean) => {
    const z = view(last.out, rows * last.stride);
    const gradient = grad ? view(last.delta, up(rows, 4) * last.stride).fill(0) : undefined;
    return headLoss(plan.head, { z, stride: last.stride, outputs: last.plan.units, rows, y, grad: gradient, mean: rows, classWeights });
  };

  let steps = 0;
  const update = () => {
    steps++;
    const o = plan.optimizer;
    for (const [i, l] of layers.entries()) {
      const count = l.rows * l.stride;
      if (o.kind === 'adam') {
        const [unbias1, unbias2] = [1 - o.beta1 ** steps, 1 - o.beta2 ** steps];
        const args = [o.rate, o.beta1, o.beta2, unbias1, unbias2, o.epsilon] as const;
        kernel.adam(l.w, l.grad.w, ...l.moments.w, count, ...args, l.plan.l2);
        kernel.adam(l.bias, l.grad.bias, ...l.moments.bias, l.stride, ...args, 0);
      } else {
        kernel.sgd(l.w, l.grad.w, count, o.rate, l.plan.l2);
        kernel.sgd(l.bias, l.grad.bias, l.stride, o.rate, 0);
      }
      if (i > 0) kernel.transpose(l.w, l.plan.inputs, l.plan.units, l.stride, l.wt, layers[i - 1]!.stride);
    }
  };

  const penalty = () =>
    layers.reduce((sum, l) => {
      if (!l.plan.l2) return sum;
      let squares = 0;
      const w = view(l.w, l.plan.inputs * l.stride);
      for (let k = 0; k < l.plan.inputs; k++) for (let j = 0; j < l.plan.units; j++) squares += w[k * l.stride + j]! ** 2;
      return sum + l.plan.l2 * squares;
    }, 0);

  return {
    step(data, y, order, start, n) {
      const blocks = up(n, 4);
      gather(data, order, start, n);
      const k = last.plan.units;
      for (let b = 0; b < n; b++) ys.set(y.subarray(order[start + b]! * k, (order[start + b]! + 1) * k), b * k);
      forward(blocks, true);
      const loss = headOf(ys, n, true).loss / n + penalty();
      for (let i = layers.length - 1; i >= 0; i--) {
        const l = layers[i]!;
        const below = layers[i - 1];
        const [a, aStride] = below ? [below.dropped || below.out, below.stride] : [x, input.stride];
        kernel.product(a, 1, aStride, l.rows, n, l.delta, l.stride, 0, l.grad.w, 0);
        kernel.columnSums(l.delta, n, l.stride, l.grad.bias);
        if (!below) break;
        kernel.product(l.delta, l.stride, 1, blocks, l.plan.units, l.wt, below.stride, 0, below.delta, below.relu ? below.out : 0);
        const count = blocks * below.stride;
        if (below.plan.dropout) kernel.multiply(below.delta, below.mask, count);
        derivatives[below.plan.activation]?.(view(below.delta, count), view(below.out, count));
      }
      update();
      return loss;
    },
    evaluate(data, y, rows) {
      let [loss, right] = [0, 0];
      const k = last.plan.units;
      for (let start = 0; start < rows; start += capacity) {
        const n = Math.min(capacity, rows - start);
        gather(data, undefined, start, n);
        forward(up(n, 4), false);
        const part = headOf(y.subarray(start * k, (start + n) * k), n, false);
        [loss, right] = [loss + part.loss, right + part.right];
      }
      return { loss, right };
    },
    weights: () =>
      layers.flatMap((l) => {
        const w = view(l.w, l.rows * l.stride);
        const kernelWeights = new Float32Array(l.plan.inputs * l.plan.units);
        for (let k = 0; k < l.plan.inputs; k++) kernelWeights.set(w.subarray(k * l.stride, k * l.stride + l.plan.units), k * l.plan.units);
        return [kernelWeights, view(l.bias, l.plan.units).slice()];
      }),
    writeBack(weights) {
      const shapes = layers.flatMap((l) => [[l.plan.inputs, l.plan.units], [l.plan.units]]);
      const tensors = weights.map((w, i) => tf.tensor(w, shapes[i]));
      net.setWeights(tensors);
      tf.dispose(tensors);
    },
  };
}
