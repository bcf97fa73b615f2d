import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readArtifact, writeArtifact } from '../artifacts.js';
import { extractFile, trainFile } from '../artifact-files.js';
import { configHash } from '../config/load.js';
import { stepDir, type StepContext } from '../context.js';
import type { ExtractOutputs } from '../data/extract.js';
import { MlopsError } from '../errors.js';
import { gitSha } from '../lineage.js';
import { preferredBackend, selectBackend, tf } from './backend.js';
import { buildModel } from './build.js';
import type { Dataset } from './dataset.js';
import { divergenceCause } from './divergence.js';
import { fitLoop, predictRows, type EpochStats } from './fit-loop.js';
import { saveModel, sha256File } from './io.js';
import { writeModelCard, type ModelCard } from './model-card.js';
import { decodeOutputs } from './predictor.js';
import { targetScale, writePreprocess } from './preprocess.js';
import { withSeed } from './random.js';
import { judgeStability, seedMetrics, stabilitySeeds, stabilitySummary, type SeedRun } from './stability.js';
import { trainingData, type TrainingData } from './training-data.js';
import type { TrainOutputs } from '../step-outputs.js';

/** One epoch's losses, in the target's own units (regression: MSE of the un-scaled target). */
export interface EpochLog {
  epoch: number;
  loss: number;
  valLoss: number;
  /** Validation accuracy (classification) or RMSE (regression). */
  valMetric: number;
}

/** The model card, `metadata.json`: its schema and reader live in model-card.ts. */
export type { ModelCard } from './model-card.js';

/** The extract step's outputs, read back from its folder: steps talk only through artifacts. */
export async function readExtract(ctx: StepContext): Promise<{ dir: string; outputs: ExtractOutputs }> {
  return { dir: stepDir(ctx, 'extract'), outputs: await readArtifact(ctx, extractFile) };
}

interface Fitted {
  seed: number;
  net: tf.Sequential;
  history: EpochLog[];
  best: { valLoss: number; epoch: number };
  seconds: number;
}

/**
 * One training run of the configured network on `seed`, shown as the progress task `label`. The
 * network comes back with its best epoch's weights; a run that diverges, or ends worse than the
 * constant guess, is a quality error (`which` names the seed when there are several).
 */
async function fit(
  ctx: StepContext,
  data: Pick<TrainingData, 'spec' | 'train' | 'valid' | 'constant'> & { outputs: number },
  seed: number,
  label: string,
  which: string,
): Promise<Fitted> {
  const model = ctx.config.model;
  const net = buildModel({ ...model, seed }, data.spec.width, data.outputs);
  // The network learns a standardised regression target; its losses are reported in the target's units.
  const unit = targetScale(data.spec).std ** 2;
  const history: EpochLog[] = [];
  const task = ctx.progress.start(label, { total: model.epochs, unit: 'epochs' });
  const began = performance.now();
  try {
    const options = { epochs: model.epochs, batchSize: model.batch_size, patience: model.early_stopping_patience, seed, task: model.task };
    const onEpoch = ({ epoch, loss, valLoss, valAccuracy }: EpochStats) => {
      const entry = { epoch, loss: loss * unit, valLoss: valLoss * unit, valMetric: valAccuracy ?? Math.sqrt(valLoss * unit) };
      history.push(entry);
      const metric = model.task === 'regression' ? `val_rmse ${entry.valMetric.toFixed(4)}` : `val_acc ${entry.valMetric.toFixed(4)}`;
      task.update(epoch, `loss ${entry.loss.toFixed(4)} val_loss ${entry.valLoss.toFixed(4)} ${metric}`);
    };
    // Dropout draws its masks from Math.random: seeded too, so a run repeats exactly.
    const { best } = await withSeed(seed, () => fitLoop(net, data.train, data.valid, { ...options, onEpoch }));
    const last = history.at(-1);
    const cause = () => divergenceCause(data.spec, [data.train, data.valid], model.learning_rate);
    if (!last || !Number.isFinite(last.loss) || !Number.isFinite(last.valLoss)) {
      throw new MlopsError('quality', `training diverged${which}: the loss became ${last?.loss} at epoch ${last?.epoch ?? 0}`, {
        hint: cause(),
      });
    }
    const bestLoss = best.valLoss * unit;
    // A loss that blew up and saturated stays finite; it is caught by losing to a constant guess.
    if (bestLoss > data.constant) {
      throw new MlopsError(
        'quality',
        `training did not converge${which}: the best validation loss ${bestLoss.toFixed(4)} is worse than a constant prediction's ${data.constant.toFixed(4)}`,
        { hint: cause() },
      );
    }
    const seconds = (performance.now() - began) / 1000;
    task.finish(
      `${history.length} epochs, best ${best.epoch} (val_loss ${bestLoss.toFixed(4)}), ${Math.round((data.train.rows * history.length) / seconds).toLocaleString('en-US')} samples/s`,
    );
    return { seed, net, history, best: { valLoss: bestLoss, epoch: best.epoch }, seconds };
  } catch (err) {
    net.dispose();
    throw err;
  }
}

/** model.stability: every seed scored on the validation split, the spread judged, and the seed to release. */
function judgeSeeds(ctx: StepContext, fitted: Fitted[], data: TrainingData) {
  const { config, log } = ctx;
  const { spec, valid } = data;
  const labelled: Dataset = { rows: valid.rows, columns: {}, label: data.validLabels, sourceRows: [] };
  const runs: SeedRun[] = fitted.map((f) => ({
    seed: f.seed,
    epochs: f.history.length,
    bestEpoch: f.best.epoch,
    valLoss: f.best.valLoss,
    metrics: seedMetrics(config, spec, decodeOutputs(spec, predictRows(f.net, valid.x, valid.rows)), labelled),
  }));
  const stability = judgeStability(config, runs, { split: valid.split, rows: valid.rows, trainRows: data.train.rows });
  const spreads = Object.entries(stability.spread).map(
    ([m, s]) => `${m} mean ${s.mean.toFixed(4)} std ${s.std.toFixed(4)} [${s.min.toFixed(4)}, ${s.max.toFixed(4)}]`,
  );
  log.info(
    `train: over seeds ${stability.seeds.join(', ')} on ${stability.rows} ${stability.split} rows: ${spreads.join('; ')}; releasing seed ${stability.seed}, the closest to the median ${stability.by}`,
  );
  const undefinedOn = Object.entries(stability.spread).filter(([, s]) => !Number.isFinite(s.std));
  for (const [m] of undefinedOn) log.warn(`train: ${m} is undefined on the ${stability.split} rows of some seed: its spread is not judged`);
  return stability;
}

/** The train step: fit the transforms on the train split, then train the configured network on it (on each seed of model.stability). */
export async function train(ctx: StepContext): Promise<TrainOutputs> {
  const { config, log } = ctx;
  const model = config.model;
  const { dir: extractDir, outputs: extract } = await readExtract(ctx);
  const backend = await selectBackend(preferredBackend(ctx.env));
  log.info(`train: TensorFlow.js backend ${backend}`);

  const data = await trainingData(config, extractDir, extract);
  const { spec } = data;
  const outputs = spec.label.classes && model.task === 'multiclass' ? spec.label.classes.length : 1;

  const seeds = stabilitySeeds(model);
  const fitted: Fitted[] = [];
  try {
    for (const [i, seed] of seeds.entries()) {
      const several = seeds.length > 1;
      fitted.push(
        await fit(
          ctx,
          { ...data, outputs },
          seed,
          several ? `train seed ${seed} (${i + 1}/${seeds.length})` : 'train',
          several ? ` (seed ${seed})` : '',
        ),
      );
    }
    // Without validation rows the seeds are scored where they were early-stopped: on the train split.
    const stability = seeds.length > 1 ? judgeSeeds(ctx, fitted, data) : undefined;
    const { net, history, best } = fitted.find((f) => f.seed === (stability?.seed ?? model.seed))!;
    const seconds = fitted.reduce((t, f) => t + f.seconds, 0);
    const samplesPerSecond = Math.round((data.train.rows * fitted.reduce((n, f) => n + f.history.length, 0)) / seconds);

    const modelDir = join(stepDir(ctx, 'train'), 'model');
    await mkdir(modelDir, { recursive: true });
    await saveModel(net, modelDir);
    await writePreprocess(modelDir, spec);
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
      reference: data.reference,
      ...(stability ? { stability } : {}),
      checksums,
      createdAt: new Date().toISOString(),
    };
    await writeModelCard(modelDir, card);
    const result: TrainOutputs = {
      backend,
      epochs: history.length,
      bestEpoch: best.epoch,
      valLoss: best.valLoss,
      samplesPerSecond,
      modelDir,
      ...(stability ? { stability: stabilitySummary(stability) } : {}),
    };
    await writeArtifact(ctx, trainFile, result);
    return result;
  } finally {
    fitted.forEach((f) => f.net.dispose());
  }
}
