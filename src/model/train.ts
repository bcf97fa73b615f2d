import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readArtifact, writeArtifact } from '../artifacts.js';
import { extractFile, trainFile } from '../artifact-files.js';
import { configHash } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { stepDir, type StepContext } from '../context.js';
import type { ExtractOutputs } from '../data/extract.js';
import { configError, dataError, MlopsError } from '../errors.js';
import { gitSha } from '../lineage.js';
import { preferredBackend, selectBackend, tf } from './backend.js';
import { buildModel } from './build.js';
import { readSplit, type Dataset } from './dataset.js';
import { saveModel, sha256File } from './io.js';
import { encodeLabels, fitPreprocess, transform, type FeatureKind, type PreprocessSpec } from './preprocess.js';
import { withSeed } from './random.js';
import { writeModelCard, type ModelCard } from './model-card.js';
import { referenceStats } from './reference.js';
import type { TrainOutputs } from '../step-outputs.js';

export interface EpochLog {
  epoch: number;
  loss: number;
  valLoss: number;
  /** Validation accuracy (classification) or RMSE (regression). */
  valMetric: number;
}

/** The model card, `metadata.json`: its schema and reader live in model-card.ts. */
export type { ModelCard } from './model-card.js';

const kindOf = { float: 'numeric', integer: 'numeric', boolean: 'boolean', category: 'category' } as const;

/** The extract step's outputs, read back from its folder: steps talk only through artifacts. */
export async function readExtract(ctx: StepContext): Promise<{ dir: string; outputs: ExtractOutputs }> {
  return { dir: stepDir(ctx, 'extract'), outputs: await readArtifact(ctx, extractFile) };
}

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

function labelSpec(config: Config, train: Dataset, label: string): PreprocessSpec['label'] {
  const task = config.model.task;
  if (task === 'regression') return { name: label, task };
  const classes = [...new Set(train.label.map(String))].sort();
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

/** The loss of always predicting the train split's class shares (or mean): the bar any model must clear. */
function constantLoss(spec: PreprocessSpec, train: Dataset): number {
  if (spec.label.task === 'regression') {
    const y = train.label.map(Number);
    const mean = y.reduce((a, b) => a + b, 0) / y.length;
    return y.reduce((a, b) => a + (b - mean) ** 2, 0) / y.length;
  }
  const counts = new Map<string, number>();
  for (const v of train.label) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
  return [...counts.values()].reduce((h, c) => h - (c / train.rows) * Math.log(c / train.rows), 0);
}

/** The train step: fit the transforms on the train split, then train the configured network on it. */
export async function train(ctx: StepContext): Promise<TrainOutputs> {
  const { config, log } = ctx;
  const model = config.model;
  const { dir: extractDir, outputs: extract } = await readExtract(ctx);
  const backend = await selectBackend(preferredBackend(ctx.env));
  log.info(`train: TensorFlow.js backend ${backend}`);

  const [trainSet, validation] = await Promise.all([
    readSplit(extractDir, extract, 'train', extract.features),
    readSplit(extractDir, extract, 'validation', extract.features),
  ]);
  const spec = fitPreprocess(
    trainSet,
    featureKinds(config, extract.features),
    labelSpec(config, trainSet, extract.label),
    model.max_categories,
  );
  const outputs = spec.label.classes && model.task === 'multiclass' ? spec.label.classes.length : 1;
  const tensor = (d: Dataset) => ({
    x: tf.tensor2d(transform(spec, d.columns, d.rows), [d.rows, spec.width]),
    y: tf.tensor2d(encodeLabels(spec, d.label), [d.rows, outputs]),
  });
  const trainT = tensor(trainSet);
  const validT = validation.rows > 0 ? tensor(validation) : trainT;

  const net = buildModel(model, spec.width, outputs);
  const history: EpochLog[] = [];
  let best = { valLoss: Infinity, epoch: 0, weights: [] as tf.Tensor[] };
  const task = ctx.progress.start('train', { total: model.epochs, unit: 'epochs' });
  const began = performance.now();
  try {
    await withSeed(model.seed, () =>
      net.fit(trainT.x, trainT.y, {
        epochs: model.epochs,
        batchSize: model.batch_size,
        shuffle: true,
        validationData: [validT.x, validT.y],
        verbose: 0,
        callbacks: {
          onEpochEnd: async (epoch, logs = {}) => {
            const entry = {
              epoch: epoch + 1,
              loss: logs.loss!,
              valLoss: logs.val_loss!,
              valMetric: model.task === 'regression' ? Math.sqrt(logs.val_loss!) : logs.val_acc!,
            };
            history.push(entry);
            if (!Number.isFinite(entry.loss) || !Number.isFinite(entry.valLoss)) {
              net.stopTraining = true;
              return;
            }
            if (entry.valLoss < best.valLoss) {
              best.weights.forEach((w) => w.dispose());
              best = { valLoss: entry.valLoss, epoch: entry.epoch, weights: net.getWeights().map((w) => w.clone()) };
            } else if (entry.epoch - best.epoch >= model.early_stopping_patience) {
              net.stopTraining = true;
            }
            const metric = model.task === 'regression' ? `val_rmse ${entry.valMetric.toFixed(4)}` : `val_acc ${entry.valMetric.toFixed(4)}`;
            task.update(entry.epoch, `loss ${entry.loss.toFixed(4)} val_loss ${entry.valLoss.toFixed(4)} ${metric}`);
          },
        },
      }),
    );
    const last = history.at(-1);
    const cause = `the learning rate (model.learning_rate ${model.learning_rate}) is likely too high, or a feature has extreme values`;
    if (!last || !Number.isFinite(last.loss) || !Number.isFinite(last.valLoss)) {
      throw new MlopsError('quality', `training diverged: the loss became ${last?.loss} at epoch ${last?.epoch ?? 0}`, { hint: cause });
    }
    // A loss that blew up and saturated stays finite; it is caught by losing to a constant guess.
    const constant = constantLoss(spec, trainSet);
    if (best.valLoss > constant) {
      throw new MlopsError(
        'quality',
        `training did not converge: the best validation loss ${best.valLoss.toFixed(4)} is worse than a constant prediction's ${constant.toFixed(4)}`,
        { hint: cause },
      );
    }
    net.setWeights(best.weights);
    const seconds = (performance.now() - began) / 1000;
    const samplesPerSecond = Math.round((trainSet.rows * history.length) / seconds);
    task.finish(
      `${history.length} epochs, best ${best.epoch} (val_loss ${best.valLoss.toFixed(4)}), ${samplesPerSecond.toLocaleString('en-US')} samples/s`,
    );

    const modelDir = join(stepDir(ctx, 'train'), 'model');
    await mkdir(modelDir, { recursive: true });
    await saveModel(net, modelDir);
    await writeFile(join(modelDir, 'preprocess.json'), JSON.stringify(spec, null, 2) + '\n');
    const checksums: Record<string, string> = {};
    for (const file of ['model.json', 'weights.bin', 'preprocess.json']) checksums[file] = await sha256File(join(modelDir, file));
    const card: ModelCard = {
      format: 'mlops-model-card/1',
      project: config.project,
      task: model.task,
      label: extract.label,
      classes: spec.label.classes,
      features: spec.features.map((f) => ({ name: f.name, kind: f.kind })),
      lineage: {
        runId: ctx.runId,
        dataHash: extract.dataHash,
        configHash: configHash(config),
        gitSha: gitSha(ctx.configDir, ctx.env),
        asOf: extract.window.asOf,
        windowStart: extract.window.windowStart,
      },
      backend,
      timings: { trainSeconds: seconds, samplesPerSecond },
      training: { epochs: history.length, bestEpoch: best.epoch, stoppedEarly: history.length < model.epochs, history },
      reference: referenceStats(spec, trainSet),
      checksums,
      createdAt: new Date().toISOString(),
    };
    await writeModelCard(modelDir, card);
    const result = { backend, epochs: history.length, bestEpoch: best.epoch, valLoss: best.valLoss, samplesPerSecond, modelDir };
    await writeArtifact(ctx, trainFile, result);
    return result;
  } finally {
    best.weights.forEach((w) => w.dispose());
    tf.dispose([trainT.x, trainT.y, validT.x, validT.y]);
    net.dispose();
  }
}
