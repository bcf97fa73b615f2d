import type { Config } from '../config/schema.js';
import { tf } from './backend.js';

type ModelConfig = Config['model'];

/**
 * Each task's loss: its TF.js name, compiled into the network (and saved in model.json), and the
 * same function, which the training loop minimises; the validation's accuracy, for a classifier.
 */
export const taskLoss = {
  binary: { name: 'binaryCrossentropy', loss: tf.metrics.binaryCrossentropy, accuracy: tf.metrics.binaryAccuracy },
  multiclass: { name: 'categoricalCrossentropy', loss: tf.metrics.categoricalCrossentropy, accuracy: tf.metrics.categoricalAccuracy },
  regression: { name: 'meanSquaredError', loss: tf.metrics.meanSquaredError, accuracy: undefined },
} as const;

/** The network the config describes: an MLP with one output head per task. */
export function buildModel(model: ModelConfig, inputWidth: number, classes: number): tf.Sequential {
  const { seed } = model;
  const regularizer = model.l2 > 0 ? tf.regularizers.l2({ l2: model.l2 }) : undefined;
  const net = tf.sequential();
  model.hidden.forEach((units, i) => {
    net.add(
      tf.layers.dense({
        ...(i === 0 ? { inputShape: [inputWidth] } : {}),
        units,
        activation: model.activation,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + i }),
        kernelRegularizer: regularizer,
      }),
    );
    if (model.dropout > 0) net.add(tf.layers.dropout({ rate: model.dropout }));
  });
  const head =
    model.task === 'multiclass'
      ? { units: classes, activation: 'softmax' }
      : { units: 1, activation: model.task === 'binary' ? 'sigmoid' : 'linear' };
  net.add(
    tf.layers.dense({
      ...(model.hidden.length === 0 ? { inputShape: [inputWidth] } : {}),
      units: head.units,
      activation: head.activation as 'softmax' | 'sigmoid' | 'linear',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + model.hidden.length }),
    }),
  );
  const optimizers = { adam: tf.train.adam, sgd: tf.train.sgd, rmsprop: tf.train.rmsprop, adagrad: tf.train.adagrad };
  net.compile({
    optimizer: optimizers[model.optimizer](model.learning_rate),
    loss: taskLoss[model.task].name,
    metrics: model.task === 'regression' ? [] : ['accuracy'],
  });
  return net;
}
