import { tf } from './backend.js';
import { taskLoss } from './build.js';
import { denseTrainer } from './dense-train.js';
import { seededRandom } from './random.js';

/**
 * The training loop over a compiled TF.js network, in place of `model.fit`, which slices every
 * batch's indices out of a tensor of all of them: on the wasm backend each slice copies that whole
 * tensor, O(rows) per batch and O(rows²) per epoch. Here each batch is gathered from the data's
 * own memory into a buffer of batch size, so an epoch costs time linear in the rows and the data is
 * held once. The step is fit's (the compiled loss plus the layers' regularisers, minimised by the
 * compiled optimizer), taken by the WebAssembly step of dense-train.ts when it covers the network,
 * by TF.js otherwise; the shuffle is fit's Fisher-Yates, drawn from a generator seeded per run.
 * Losses are averaged as fit averages them, so the curves compare.
 */

/** Rows for a network, held once: row-major inputs (`rows x width`) and targets (`rows x outputs`). */
export interface Rows {
  x: Float32Array;
  y: Float32Array;
  rows: number;
}

/** One epoch, in the units the network learns: the mean training loss over its batches, and on the validation rows. */
export interface EpochStats {
  epoch: number;
  loss: number;
  valLoss: number;
  /** Classification: the share of validation rows predicted right. */
  valAccuracy?: number;
}

export interface LoopOptions {
  epochs: number;
  batchSize: number;
  /** Stop when the validation loss has not improved for this many epochs. */
  patience: number;
  /** Seeds the shuffle of every epoch. */
  seed: number;
  /** The loss minimised, and the validation's accuracy for a classifier. */
  task: 'binary' | 'multiclass' | 'regression';
  /** Each row's loss, in training and validation, multiplied by its class's weight (model.class_weight). */
  classWeights?: number[];
  onEpoch(stats: EpochStats): void;
}

/** Rows per call when only predicting: big enough to amortise dispatch, small enough to stay in cache. */
const PREDICT_BATCH = 4096;

const widthOf = (rows: Rows, of: 'x' | 'y') => rows[of].length / rows.rows;

/** The layers' regulariser penalties, as fit adds them to the loss. */
const penalties = (net: tf.LayersModel) => net.layers.flatMap((l) => l.calculateLosses());

/** Calls `step` with the tensors of consecutive rows [start, end), viewed in place, and disposes them. */
function inSlices(data: Rows, batch: number, step: (x: tf.Tensor2D, y: tf.Tensor2D, n: number) => void): void {
  const [w, k] = [widthOf(data, 'x'), widthOf(data, 'y')];
  for (let start = 0; start < data.rows; start += batch) {
    const n = Math.min(batch, data.rows - start);
    tf.tidy(() =>
      step(
        tf.tensor2d(data.x.subarray(start * w, (start + n) * w), [n, w]),
        tf.tensor2d(data.y.subarray(start * k, (start + n) * k), [n, k]),
        n,
      ),
    );
  }
}

/** The network's outputs on every row of `x` (`rows x width`), in batches, as one array. */
export function predictRows(net: tf.LayersModel, x: Float32Array, rows: number): Float32Array {
  const outputs = net.outputs[0]!.shape[1]!;
  const out = new Float32Array(rows * outputs);
  const width = x.length / Math.max(rows, 1);
  for (let start = 0; start < rows; start += PREDICT_BATCH) {
    const n = Math.min(PREDICT_BATCH, rows - start);
    tf.tidy(() => {
      const batch = net.predict(tf.tensor2d(x.subarray(start * width, (start + n) * width), [n, width])) as tf.Tensor;
      out.set(batch.dataSync(), start * outputs);
    });
  }
  return out;
}

/**
 * Each row's loss under the compiled loss, times its class's weight when there are class weights
 * (the weight read from the row's target: one-hot, or 0/1 for binary), as model.fit's classWeight weighs it.
 */
function rowLosses({ task, classWeights: w }: Pick<LoopOptions, 'task' | 'classWeights'>): (y: tf.Tensor, out: tf.Tensor) => tf.Tensor {
  const { loss } = taskLoss[task];
  if (!w) return loss;
  const weightOf = (y: tf.Tensor) => (task === 'binary' ? y.mul(w[1]! - w[0]!).add(w[0]!) : y.mul(tf.tensor1d(w))).sum(-1);
  return (y, out) => loss(y, out).mul(weightOf(y));
}

/** The compiled loss (and accuracy, for a classifier) on `data`, without regularisers, as fit's validation reports it. */
function evaluateRows(net: tf.LayersModel, data: Rows, o: LoopOptions): Pick<EpochStats, 'valLoss' | 'valAccuracy'> {
  const { accuracy } = taskLoss[o.task];
  const loss = rowLosses(o);
  let [lossSum, right] = [0, 0];
  inSlices(data, PREDICT_BATCH, (x, y, n) => {
    const out = net.apply(x) as tf.Tensor;
    lossSum += tf.mean(loss(y, out)).dataSync()[0]! * n;
    if (accuracy) right += tf.sum(accuracy(y, out)).dataSync()[0]!;
  });
  return { valLoss: lossSum / data.rows, ...(accuracy ? { valAccuracy: right / data.rows } : {}) };
}

/** How a batch is taken and the validation scored: the WebAssembly step (dense-train.ts), or TF.js's own kernels. */
interface Steps {
  /** One optimizer step on the rows `order[start, start + n)`; the batch's loss. */
  step(order: Int32Array, start: number, n: number): number;
  evaluate(): Pick<EpochStats, 'valLoss' | 'valAccuracy'>;
  /** The weights now, and writing them back into the network. */
  weights(): unknown;
  restore(weights: unknown): void;
  dispose(weights: unknown): void;
}

/** fit's own step on TF.js: the compiled loss plus the layers' regularisers, minimised by the compiled optimizer. */
function tfjsSteps(net: tf.LayersModel, train: Rows, valid: Rows, o: LoopOptions): Steps {
  const [w, k] = [widthOf(train, 'x'), widthOf(train, 'y')];
  const loss = rowLosses(o);
  const optimizer = net.optimizer;
  const variables = net.trainableWeights.map((v) => v.read() as tf.Variable);
  const xs = new Float32Array(o.batchSize * w);
  const ys = new Float32Array(o.batchSize * k);
  return {
    step(order, start, n) {
      for (let b = 0; b < n; b++) {
        const r = order[start + b]!;
        xs.set(train.x.subarray(r * w, r * w + w), b * w);
        ys.set(train.y.subarray(r * k, r * k + k), b * k);
      }
      return tf.tidy(() => {
        const x = tf.tensor2d(xs.subarray(0, n * w), [n, w]);
        const y = tf.tensor2d(ys.subarray(0, n * k), [n, k]);
        const total = () => {
          const out = net.apply(x, { training: true }) as tf.Tensor;
          return penalties(net).reduce((sum, penalty) => sum.add(penalty), tf.mean(loss(y, out)));
        };
        return optimizer.minimize(total, true, variables)!.dataSync()[0]!;
      });
    },
    evaluate: () => evaluateRows(net, valid, o),
    weights: () => net.getWeights().map((t) => t.clone()),
    restore: (weights) => net.setWeights(weights as tf.Tensor[]),
    dispose: (weights) => tf.dispose(weights as tf.Tensor[]),
  };
}

/**
 * The WebAssembly step when it covers the network, except on native TensorFlow (tfjs-node), whose
 * own kernels are left in charge where it loads.
 */
function fastSteps(net: tf.LayersModel, train: Rows, valid: Rows, o: LoopOptions, random: () => number): Steps | undefined {
  if (tf.getBackend() === 'tensorflow') return undefined;
  const trainer = denseTrainer(net, o.task, o.batchSize, random, o.classWeights);
  if (!trainer) return undefined;
  return {
    step: (order, start, n) => trainer.step(train.x, train.y, order, start, n),
    evaluate() {
      const { loss, right } = trainer.evaluate(valid.x, valid.y, valid.rows);
      return { valLoss: loss / valid.rows, ...(taskLoss[o.task].accuracy ? { valAccuracy: right / valid.rows } : {}) };
    },
    weights: () => trainer.weights(),
    restore: (weights) => trainer.writeBack(weights as Float32Array[]),
    dispose: () => {},
  };
}

/**
 * Trains `net` (compiled) on `train`, validated on `valid` after every epoch, with early stopping;
 * the network ends with its best epoch's weights. Stops at once when a loss is not finite.
 */
export async function fitLoop(
  net: tf.LayersModel,
  train: Rows,
  valid: Rows,
  o: LoopOptions,
): Promise<{ history: EpochStats[]; best: { epoch: number; valLoss: number } }> {
  const random = seededRandom(o.seed);
  // Dropout's masks on the WebAssembly step come from a stream of their own, so the shuffles match TF.js's.
  const steps = fastSteps(net, train, valid, o, seededRandom(o.seed + 1)) ?? tfjsSteps(net, train, valid, o);
  const order = Int32Array.from({ length: train.rows }, (_, i) => i);
  const history: EpochStats[] = [];
  let best: { epoch: number; valLoss: number; weights?: unknown } = { epoch: 0, valLoss: Infinity };
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      for (let i = train.rows; i > 0;) {
        const j = (random() * i) | 0; // fit's Fisher-Yates (tf.util.shuffle)
        i--;
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let lossSum = 0;
      for (let start = 0; start < train.rows; start += o.batchSize) {
        const n = Math.min(o.batchSize, train.rows - start);
        lossSum += steps.step(order, start, n) * n;
      }
      const stats: EpochStats = { epoch, loss: lossSum / train.rows, ...steps.evaluate() };
      history.push(stats);
      o.onEpoch(stats);
      if (!Number.isFinite(stats.loss) || !Number.isFinite(stats.valLoss)) break;
      if (stats.valLoss < best.valLoss) {
        steps.dispose(best.weights);
        best = { epoch, valLoss: stats.valLoss, weights: steps.weights() };
      } else if (epoch - best.epoch >= o.patience) break;
      await new Promise(setImmediate); // let signals and I/O in between epochs
    }
    if (best.weights) steps.restore(best.weights);
    return { history, best: { epoch: best.epoch, valLoss: best.valLoss } };
  } finally {
    steps.dispose(best.weights);
  }
}
