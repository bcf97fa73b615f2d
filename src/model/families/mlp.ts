import { tf } from '../backend.js';
import { buildModel } from '../build.js';
import { denseForward, type DenseForward } from '../dense.js';
import type { Model, ModelFamily } from '../family.js';
import { fitLoop, predictRows } from '../fit-loop.js';
import { loadModel, saveModel } from '../io.js';
import { withSeed } from '../random.js';

/**
 * The multilayer perceptron `model` describes (`hidden: []` is a linear model), on TensorFlow.js,
 * saved in the TF.js layers format. A loaded network predicts on the lean dense path where its
 * layers allow, as serving and evaluation always have; a freshly trained one on TF.js.
 */

/**
 * TF.js's own gradient of each row's picked output through the network in inference mode (dropout
 * off). The layers are called in turn, as the sequential network runs them: `apply` would add its
 * symbolic bookkeeping to every call, twice the cost of a lone record's gradients.
 */
function gradients(net: tf.LayersModel, x: Float32Array, rows: number, pick: Int32Array): Float32Array {
  const outputs = net.outputs[0]!.shape[1]!;
  const layers = net.layers.filter((l) => l.getClassName() !== 'InputLayer');
  return tf.tidy(() => {
    // One output (a sigmoid head, regression) is always the one picked; oneHot needs two.
    const mask = outputs > 1 ? tf.oneHot(tf.tensor1d(pick, 'int32'), outputs) : tf.scalar(1);
    const run = (input: tf.Tensor) => layers.reduce((h, layer) => layer.call(h, { training: false }) as tf.Tensor, input);
    return tf
      .grad((input: tf.Tensor) => tf.sum(tf.mul(run(input), mask)))(tf.tensor2d(x, [rows, x.length / rows]))
      .dataSync() as Float32Array;
  });
}

const asModel = (net: tf.LayersModel, fast?: DenseForward): Model => ({
  engine: fast ? 'dense' : 'tfjs',
  predict: fast ?? ((x, rows) => predictRows(net, x, rows)),
  gradients: (x, rows, pick) => gradients(net, x, rows, pick),
  save: (dir) => saveModel(net, dir),
  dispose: () => net.dispose(),
});

export const mlp: ModelFamily = {
  async fit(config, data, seed, onEpoch) {
    const net = buildModel({ ...config, seed }, data.width, data.outputs);
    try {
      const options = {
        epochs: config.epochs,
        batchSize: config.batch_size,
        patience: config.early_stopping_patience,
        seed,
        task: config.task,
        ...(data.classWeights ? { classWeights: data.classWeights } : {}),
      };
      // Dropout draws its masks from Math.random: seeded too, so a run repeats exactly.
      const { best } = await withSeed(seed, () => fitLoop(net, data.train, data.valid, { ...options, onEpoch }));
      return { model: asModel(net), best };
    } catch (err) {
      net.dispose();
      throw err;
    }
  },
  async load(dir, backend) {
    const net = await loadModel(dir, backend);
    return asModel(net, denseForward(net));
  },
};
