import type { Config } from '../config/schema.js';
import type { ExtractOutputs } from '../step-outputs.js';
import { configError, dataError } from '../errors.js';
import { classWeightsOf, weightedConstantLoss } from './class-weights.js';
import { summariser } from './column-summary.js';
import { openSplit, type SplitColumns, type Value } from './dataset.js';
import type { SeenRows } from './divergence.js';
import type { Rows } from './fit-loop.js';
import { checkFeature, checkTarget } from './input-checks.js';
import { encodeLabels, featureOffsets, fitFeature, specOf, writeFeature, type FeatureKind, type PreprocessSpec } from './preprocess.js';
import { referenceOf, type FeatureReference } from './reference.js';

/**
 * The train and validation splits as the network sees them, held once as Float32Array. They are
 * read a column at a time: each feature is checked, fitted and given its reference statistics
 * on the train split, then written into its slots of both matrices, so the raw table is never in
 * memory whole, only the matrices and one column.
 */

/** A split as the network sees it: standardised features and encoded targets. */
export type Encoded = Rows & SeenRows;

export interface TrainingData {
  spec: PreprocessSpec;
  train: Encoded;
  /** The validation rows, or the train rows again when there are none: early stopping needs some. */
  valid: Encoded;
  /** The labels of `valid` as read, which the seeds are scored against. */
  validLabels: Value[];
  /** Reference statistics of every feature on the train split, for drift monitoring. */
  reference: Record<string, FeatureReference>;
  /** The loss of the best constant prediction (under the class weights), in the target's units: the bar any model must clear. */
  constant: number;
  /** That constant prediction, as a model's decoded outputs: the class shares in the order of the classes, or the mean. */
  prior: number[];
  /** model.class_weight: each class's weight, in the order of the classes. */
  classWeights?: number[];
}

const kindOf = { float: 'numeric', integer: 'numeric', boolean: 'boolean', category: 'category' } as const;

/** Feature kinds from the contract; a timestamp cannot be a model input. */
function featureKinds(config: Config, features: string[]): Record<string, FeatureKind> {
  return Object.fromEntries(
    features.map((f) => {
      const type = config.data.contract.columns[f]!.type;
      if (!(type in kindOf))
        throw configError(
          `data.features: "${f}" is a ${type} column`,
          'use float, integer, category or boolean columns as features; derive numbers in the query',
        );
      return [f, kindOf[type as keyof typeof kindOf]];
    }),
  );
}

function labelSpec(config: Config, labels: Value[], label: string): PreprocessSpec['label'] {
  const task = config.model.task;
  if (task === 'regression') return { name: label, task };
  const classes = [...new Set(labels.map(String))].sort();
  if (classes.length < 2)
    throw dataError(
      `the label "${label}" has a single class (${classes[0] ?? 'none'}) in the train split`,
      'a classifier needs at least two classes; check the window and the contract',
    );
  if (task === 'binary' && classes.length > 2) {
    throw configError(
      `model.task is binary but the label "${label}" has ${classes.length} classes (${classes.join(', ')})`,
      'set model.task: multiclass',
    );
  }
  return { name: label, task, classes };
}

/**
 * The constant prediction fitted on the train labels, and the loss of the best constant: the MSE of
 * the mean (the variance), or the class shares' (weighted) cross-entropy.
 */
function constantOf(
  model: Config['model'],
  spec: PreprocessSpec,
  labels: Value[],
): Pick<TrainingData, 'constant' | 'prior' | 'classWeights'> {
  if (spec.label.scale) return { constant: spec.label.scale.std ** 2, prior: [spec.label.scale.mean] };
  const counts = new Map<string, number>();
  for (const v of labels) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
  const prior = spec.label.classes!.map((c) => (counts.get(c) ?? 0) / labels.length);
  const classWeights = classWeightsOf(model, spec, labels);
  return { constant: weightedConstantLoss(prior, classWeights), prior, ...(classWeights ? { classWeights } : {}) };
}

/** A split's labels; a regression target is checked (a class label is text: a single class is refused by labelSpec). */
async function labelsOf(config: Config, label: string, name: 'train' | 'validation', split: SplitColumns): Promise<Value[]> {
  const labels = await split.column(label);
  if (config.model.task === 'regression')
    checkTarget(label, name, { label: labels, sourceRows: (await split.column('source_row')) as number[] });
  return labels;
}

/** Reads, checks, fits and encodes the train and validation splits of `extract` (in `extractDir`). */
export async function trainingData(config: Config, extractDir: string, extract: ExtractOutputs): Promise<TrainingData> {
  const kinds = featureKinds(config, extract.features);
  const train = await openSplit(extractDir, extract, 'train');
  const validation = await openSplit(extractDir, extract, 'validation');
  try {
    const trainLabels = await labelsOf(config, extract.label, 'train', train);
    const validLabels = validation.rows > 0 ? await labelsOf(config, extract.label, 'validation', validation) : trainLabels;
    const features = [];
    const reference: Record<string, FeatureReference> = {};
    for (const [name, kind] of Object.entries(kinds)) {
      const summary = summariser(kind, train.rows);
      await train.pieces(name, summary.add);
      const values = summary.summary();
      checkFeature(name, values);
      const t = fitFeature(name, kind, values, config.model.max_categories);
      features.push(t);
      reference[name] = referenceOf(t, values);
    }
    const spec = specOf(features, labelSpec(config, trainLabels, extract.label), trainLabels);
    const offsets = featureOffsets(spec);
    const encode = async (split: SplitColumns, name: SeenRows['split'], labels: Value[]): Promise<Encoded> => {
      const x = new Float32Array(split.rows * spec.width);
      for (const [k, t] of spec.features.entries())
        await split.pieces(t.name, (values, start) =>
          writeFeature(x.subarray(start * spec.width), spec.width, offsets[k]!, t, values, values.length),
        );
      return { split: name, rows: split.rows, x, y: encodeLabels(spec, labels) };
    };
    const trainRows = await encode(train, 'train', trainLabels);
    const valid = validation.rows > 0 ? await encode(validation, 'validation', validLabels) : trainRows;
    return { spec, train: trainRows, valid, validLabels, reference, ...constantOf(config.model, spec, trainLabels) };
  } finally {
    train.close();
    validation.close();
  }
}
