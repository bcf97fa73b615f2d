import { tf } from './backend.js';
import { taskLoss } from './build.js';
import { seededRandom } from './random.js';

/**
 * The training loop over a compiled TF.js network, in place of `model.fit`, which slices every
 * batch's indices out of a tensor of all of them: on the wasm backend each slice copies that whole
 * tensor, O(rows) per batch and O(rows²) per epoch. Here each batch is gathered from the data's
 * own memory into a buffer of batch size, so an epoch costs time linear in the rows and the data is
 * held once. The step is fit's own: the compiled loss plus the layers' regularisers, minimised by
 * the compiled optimizer over the trainable weights; the shuffle is fit's Fisher-Yates, drawn from
 * a generator seeded per run. Losses are averaged as fit averages them, so the curves compare.
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

/** The compiled loss (and accuracy, for a classifier) on `data`, without regularisers, as fit's validation reports it. */
function evaluateRows(net: tf.LayersModel, data: Rows, task: LoopOptions['task']): Pick<EpochStats, 'valLoss' | 'valAccuracy'> {
  const { loss, accuracy } = taskLoss[task];
  let [lossSum, right] = [0, 0];
  inSlices(data, PREDICT_BATCH, (x, y, n) => {
    const out = net.apply(x) as tf.Tensor;
    lossSum += tf.mean(loss(y, out)).dataSync()[0]! * n;
    if (accuracy) right += tf.sum(accuracy(y, out)).dataSync()[0]!;
  });
  return { valLoss: lossSum / data.rows, ...(accuracy ? { valAccuracy: right / data.rows } : {}) };
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
  const [w, k] = [widthOf(train, 'x'), widthOf(train, 'y')];
  const { loss } = taskLoss[o.task];
  const optimizer = net.optimizer;
  const variables = net.trainableWeights.map((v) => v.read() as tf.Variable);
  const random = seededRandom(o.seed);
  const order = Int32Array.from({ length: train.rows }, (_, i) => i);
  const xs = new Float32Array(o.batchSize * w);
  const ys = new Float32Array(o.batchSize * k);
  const history: EpochStats[] = [];
  let best = { epoch: 0, valLoss: Infinity, weights: [] as tf.Tensor[] };
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
        for (let b = 0; b < n; b++) {
          const r = order[start + b]!;
          xs.set(train.x.subarray(r * w, r * w + w), b * w);
          ys.set(train.y.subarray(r * k, r * k + k), b * k);
        }
        lossSum +=
          tf.tidy(() => {
            const x = tf.tensor2d(xs.subarray(0, n * w), [n, w]);
            const y = tf.tensor2d(ys.subarray(0, n * k), [n, k]);
            const total = () => {
              const out = net.apply(x, { training: true }) as tf.Tensor;
              return penalties(net).reduce((sum, penalty) => sum.add(penalty), tf.mean(loss(y, out)));
            };
            const cost = optimizer.minimize(total, true, variables)!;
            return cost.dataSync()[0]!;
          }) * n;
      }
      const stats: EpochStats = { epoch, loss: lossSum / train.rows, ...evaluateRows(net, valid, o.task) };
      history.push(stats);
      o.onEpoch(stats);
      if (!Number.isFinite(stats.loss) || !Number.isFinite(stats.valLoss)) break;
      if (stats.valLoss < best.valLoss) {
        tf.dispose(best.weights);
        best = { epoch, valLoss: stats.valLoss, weights: net.getWeights().map((t) => t.clone()) };
      } else if (epoch - best.epoch >= o.patience) break;
      await new Promise(setImmediate); // let signals and I/O in between epochs
    }
    if (best.weights.length) net.setWeights(best.weights);
    return { history, best: { epoch: best.epoch, valLoss: best.valLoss } };
  } finally {
    tf.dispose(best.weights);
  }
}
