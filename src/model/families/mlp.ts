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

const asModel = (net: tf.LayersModel, fast?: DenseForward): Model => ({
  engine: fast ? 'dense' : 'tfjs',
  predict: fast ?? ((x, rows) => predictRows(net, x, rows)),
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
