import type { tf } from './backend.js';

/**
 * What the WebAssembly training step (dense-train.ts) needs to know of a compiled TF.js network,
 * read from the network itself: its Dense layers, each with its activation, the Dropout after it
 * and its L2 penalty, the head, and the optimizer. A network with anything else (another layer,
 * regulariser, constraint or optimizer) has no plan and trains on TF.js.
 */

export type Head = 'softmax' | 'sigmoid' | 'linear';

export interface PlannedLayer {
  inputs: number;
  units: number;
  activation: string;
  /** The rate of the Dropout layer after this one; 0 without. */
  dropout: number;
  /** The L2 penalty on the kernel, added to the loss as l2 · Σw². */
  l2: number;
  kernel: tf.Tensor;
  bias: tf.Tensor;
}

export type PlannedOptimizer =
  { kind: 'adam'; rate: number; beta1: number; beta2: number; epsilon: number } | { kind: 'sgd'; rate: number };

export interface Plan {
  layers: PlannedLayer[];
  head: Head;
  optimizer: PlannedOptimizer;
}

/** The hidden activations the step computes (relu in the kernel, the others on its output). */
const hiddenActivations = new Set(['relu', 'linear', 'tanh', 'sigmoid', 'elu', 'selu']);
/** The head each task's loss is paired with: the gradient of loss and head together is p - y. */
const headOf = { multiclass: 'softmax', binary: 'sigmoid', regression: 'linear' } as const;

interface DenseConfig {
  activation: string;
  useBias: boolean;
  kernelRegularizer: { className: string; config: { l1: number; l2: number } } | null;
  biasRegularizer: unknown;
  activityRegularizer: unknown;
  kernelConstraint: unknown;
  biasConstraint: unknown;
}

function optimizerOf(optimizer: tf.Optimizer | undefined): PlannedOptimizer | undefined {
  const config = optimizer?.getConfig() as Record<string, number> | undefined;
  if (!config) return undefined;
  if (optimizer!.getClassName() === 'Adam')
    return { kind: 'adam', rate: config.learningRate!, beta1: config.beta1!, beta2: config.beta2!, epsilon: config.epsilon! };
  if (optimizer!.getClassName() === 'SGD') return { kind: 'sgd', rate: config.learningRate! };
  return undefined;
}

/** The plan of `net` trained for `task`, or undefined when the step does not cover it. */
export function planOf(net: tf.LayersModel, task: keyof typeof headOf): Plan | undefined {
  const optimizer = optimizerOf(net.optimizer);
  if (!optimizer) return undefined;
  const layers: PlannedLayer[] = [];
  for (const layer of net.layers) {
    const kind = layer.getClassName();
    if (kind === 'InputLayer') continue;
    if (kind === 'Dropout' && layers.length && !layers.at(-1)!.dropout) {
      layers.at(-1)!.dropout = (layer.getConfig() as { rate: number }).rate;
      continue;
    }
    if (kind !== 'Dense') return undefined;
    const c = layer.getConfig() as unknown as DenseConfig;
    const penalty = c.kernelRegularizer;
    const covered =
      c.useBias &&
      !c.biasRegularizer &&
      !c.activityRegularizer &&
      !c.kernelConstraint &&
      !c.biasConstraint &&
      (!penalty || (penalty.className === 'L1L2' && !penalty.config.l1));
    if (!covered) return undefined;
    const [kernel, bias] = layer.getWeights() as [tf.Tensor, tf.Tensor];
    const [inputs, units] = kernel.shape as [number, number];
    layers.push({ inputs, units, activation: c.activation, dropout: 0, l2: penalty?.config.l2 ?? 0, kernel, bias });
  }
  const head = layers.at(-1);
  if (!head || head.activation !== headOf[task] || head.dropout) return undefined;
  if (!layers.slice(0, -1).every((l) => hiddenActivations.has(l.activation))) return undefined;
  return { layers, head: headOf[task], optimizer };
}
