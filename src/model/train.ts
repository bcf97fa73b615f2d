import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readArtifact, writeArtifact } from '../artifacts.js';
import { extractFile, trainFile } from '../artifact-files.js';
import { configHash } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { stepDir, type StepContext } from '../context.js';
import type { ExtractOutputs } from '../step-outputs.js';
import { MlopsError } from '../errors.js';
import { gitSha } from '../lineage.js';
import { preferredBackend, selectBackend } from './backend.js';
import type { Dataset } from './dataset.js';
import { divergenceCause } from './divergence.js';
import { families } from './families.js';
import type { Model, ModelFamily } from './family.js';
import type { EpochStats } from './fit-loop.js';
import { sha256File } from '../registry/model-files.js';
import { writeModelCard, type ModelCard } from './model-card.js';
import { decodeOutputs } from './predictor.js';
import { targetScale, writePreprocess, type PreprocessSpec } from './preprocess.js';
import { searchModel, type SearchRecord } from './search.js';
import { judgeStability, seedMetrics, stabilitySeeds, stabilitySummary, type SeedRun, type StabilityRecord } from './stability.js';
import { chooseThreshold, thresholdText, type ThresholdRecord } from './threshold.js';
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

/** What training takes besides the config and the data: where it shows progress and logs. */
type Hooks = Pick<StepContext, 'progress' | 'log'>;

/** One seed's training: the model with its best epoch's weights, and its curve in the target's units. */
interface Fitted {
  seed: number;
  model: Model;
  history: EpochLog[];
  best: { valLoss: number; epoch: number };
  seconds: number;
}

/**
 * One training run of `family` on `seed`, shown as the progress task `label`. A run that diverges,
 * or ends worse than the constant guess, is a quality error (`which` names the seed when there are
 * several).
 */
async function fit(
  family: ModelFamily,
  model: Config['model'],
  data: TrainingData,
  seed: number,
  progress: Hooks['progress'],
  { label, which }: { label: string; which: string },
): Promise<Fitted> {
  const outputs = data.spec.label.classes && model.task === 'multiclass' ? data.spec.label.classes.length : 1;
  // The model learns a standardised regression target; its losses are reported in the target's units.
  const unit = targetScale(data.spec).std ** 2;
  const history: EpochLog[] = [];
  const task = progress.start(label, { total: model.epochs, unit: 'epochs' });
  const began = performance.now();
  const onEpoch = ({ epoch, loss, valLoss, valAccuracy }: EpochStats) => {
    const entry = { epoch, loss: loss * unit, valLoss: valLoss * unit, valMetric: valAccuracy ?? Math.sqrt(valLoss * unit) };
    history.push(entry);
    const metric = model.task === 'regression' ? `val_rmse ${entry.valMetric.toFixed(4)}` : `val_acc ${entry.valMetric.toFixed(4)}`;
    task.update(epoch, `loss ${entry.loss.toFixed(4)} val_loss ${entry.valLoss.toFixed(4)} ${metric}`);
  };
  const fitted = await family.fit(
    model,
    { train: data.train, valid: data.valid, width: data.spec.width, outputs, classWeights: data.classWeights },
    seed,
    onEpoch,
  );
  try {
    const last = history.at(-1);
    const cause = () => divergenceCause(data.spec, [data.train, data.valid], model.learning_rate);
    if (!last || !Number.isFinite(last.loss) || !Number.isFinite(last.valLoss)) {
      throw new MlopsError('quality', `training diverged${which}: the loss became ${last?.loss} at epoch ${last?.epoch ?? 0}`, {
        hint: cause(),
      });
    }
    const bestLoss = fitted.best.valLoss * unit;
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
      `${history.length} epochs, best ${fitted.best.epoch} (val_loss ${bestLoss.toFixed(4)}), ${Math.round((data.train.rows * history.length) / seconds).toLocaleString('en-US')} samples/s`,
    );
    return { seed, model: fitted.model, history, best: { valLoss: bestLoss, epoch: fitted.best.epoch }, seconds };
  } catch (err) {
    fitted.model.dispose();
    throw err;
  }
}

/** model.stability: every seed scored on the validation split, the spread judged, and the seed to release. */
function judgeSeeds(config: Config, log: Hooks['log'], fitted: Fitted[], data: TrainingData): StabilityRecord {
  const { spec, valid } = data;
  const labelled: Dataset = { rows: valid.rows, columns: {}, label: data.validLabels, sourceRows: [] };
  const runs: SeedRun[] = fitted.map((f) => ({
    seed: f.seed,
    epochs: f.history.length,
    bestEpoch: f.best.epoch,
    valLoss: f.best.valLoss,
    metrics: seedMetrics(config, spec, decodeOutputs(spec, f.model.predict(valid.x, valid.rows)), labelled),
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

/** A trained model and how it trained: what the train step records, and what a caller comparing trainings needs. */
export interface Trained {
  /** The released seed's model; the caller disposes it. */
  model: Model;
  history: EpochLog[];
  best: { valLoss: number; epoch: number };
  /** Over every seed trained. */
  seconds: number;
  samplesPerSecond: number;
  stability?: StabilityRecord;
  /** With model.search: every trial, and the one released. */
  search?: SearchRecord;
  /** model.threshold, set on the released model's validation outputs. */
  threshold?: ThresholdRecord;
}

/** model.threshold for `model`, on the validation rows (the train rows when there are none). */
function thresholdOf(config: Config, data: TrainingData, model: Model): ThresholdRecord | undefined {
  const { spec, valid } = data;
  const rule = config.model.threshold;
  if (rule === undefined || spec.label.task !== 'binary') return undefined;
  const classes = spec.label.classes!;
  const truth = data.validLabels.map((v) => (String(v) === classes[1] ? 1 : 0));
  const outputs = decodeOutputs(spec, model.predict(valid.x, valid.rows));
  return chooseThreshold(rule, outputs, truth, { split: valid.split, classes });
}

/** The spec a model is saved with: the preprocessing, and its decision threshold if it has one. */
const withThreshold = (spec: PreprocessSpec, trained: Trained): PreprocessSpec =>
  trained.threshold ? { ...spec, label: { ...spec.label, threshold: trained.threshold.value } } : spec;

/**
 * The training core: the model family `config.model` names, trained on prepared data (on each seed
 * of model.stability, the median one kept; with model.search, the best stable trial, search.ts).
 * It reads and writes no files, so one preparation of the data serves several trainings. TF.js
 * runs on the backend selected before (`selectBackend`).
 */
export async function trainModel(config: Config, data: TrainingData, hooks: Hooks): Promise<Trained> {
  if (!config.model.search) return trainSeeds(config, data, hooks);
  return searchModel(config, data, hooks, (trial, trialHooks) => trainSeeds(trial, data, trialHooks));
}

/** The configured model trained on model.seed, or on every seed of model.stability with the median one kept. */
async function trainSeeds(config: Config, data: TrainingData, { progress, log }: Hooks): Promise<Trained> {
  const { model } = config;
  const family = families[model.family];
  const seeds = stabilitySeeds(model);
  const fitted: Fitted[] = [];
  let kept: Fitted | undefined;
  try {
    for (const [i, seed] of seeds.entries()) {
      const several = seeds.length > 1;
      const label = several ? `train seed ${seed} (${i + 1}/${seeds.length})` : 'train';
      fitted.push(await fit(family, model, data, seed, progress, { label, which: several ? ` (seed ${seed})` : '' }));
    }
    // Without validation rows the seeds are scored where they were early-stopped: on the train split.
    const stability = seeds.length > 1 ? judgeSeeds(config, log, fitted, data) : undefined;
    const released = fitted.find((f) => f.seed === (stability?.seed ?? model.seed))!;
    const threshold = thresholdOf(config, data, released.model);
    kept = released;
    const seconds = fitted.reduce((t, f) => t + f.seconds, 0);
    const samplesPerSecond = Math.round((data.train.rows * fitted.reduce((n, f) => n + f.history.length, 0)) / seconds);
    return {
      model: kept.model,
      history: kept.history,
      best: kept.best,
      seconds,
      samplesPerSecond,
      ...(stability ? { stability } : {}),
      ...(threshold ? { threshold } : {}),
    };
  } finally {
    fitted.filter((f) => f !== kept).forEach((f) => f.model.dispose());
  }
}

type LinearBaseline = { trained: Trained; outputs: { modelDir: string } } | { outputs: { skipped: string } };

/** The sha256 of a model folder's files, for its card. */
async function checksumsOf(dir: string): Promise<Record<string, string>> {
  const checksums: Record<string, string> = {};
  for (const file of ['model.json', 'weights.bin', 'preprocess.json']) checksums[file] = await sha256File(join(dir, file));
  return checksums;
}

/** How a model trained, as its card records it. */
const trainingOf = ({ history, best }: Trained, epochs: number): ModelCard['training'] => ({
  epochs: history.length,
  bestEpoch: best.epoch,
  stoppedEarly: history.length < epochs,
  history,
});

/**
 * The linear baseline: the configured training with no hidden layers, one seed, on the same prepared
 * data, saved with the same preprocessing into `modelDir` for evaluate to score. One that does not
 * converge is recorded as skipped: a gate rule against it then fails, and nothing else does.
 */
async function trainLinear(config: Config, data: TrainingData, { progress, log }: Hooks, modelDir: string): Promise<LinearBaseline> {
  const linear = { ...config, model: { ...config.model, family: 'mlp' as const, hidden: [], stability: undefined, search: undefined } };
  const labelled = {
    ...progress,
    start: (_: string, options?: { total?: number; unit?: string }) => progress.start('train linear baseline', options),
  };
  try {
    const trained = await trainModel(linear, data, { progress: labelled, log });
    await mkdir(modelDir, { recursive: true });
    await trained.model.save(modelDir);
    await writePreprocess(modelDir, withThreshold(data.spec, trained));
    return { trained, outputs: { modelDir } };
  } catch (err) {
    if (!(err instanceof MlopsError) || err.errorClass !== 'quality') throw err;
    log.warn(`train: the linear baseline was not trained: ${err.message}`);
    return { outputs: { skipped: err.message } };
  }
}

/** The candidate and the baselines' gated metrics on the validation split (each at its threshold), for the model card. */
function baselineCard(config: Config, data: TrainingData, candidate: Trained, linear: LinearBaseline): NonNullable<ModelCard['baselines']> {
  const { spec, valid } = data;
  const labelled: Dataset = { rows: valid.rows, columns: {}, label: data.validLabels, sourceRows: [] };
  const scored = (t: Trained) =>
    seedMetrics(config, withThreshold(spec, t), decodeOutputs(spec, t.model.predict(valid.x, valid.rows)), labelled);
  const constant = Float32Array.from({ length: valid.rows * data.prior.length }, (_, i) => data.prior[i % data.prior.length]!);
  return {
    split: valid.split,
    rows: valid.rows,
    metrics: {
      candidate: scored(candidate),
      constant: seedMetrics(config, spec, constant, labelled),
      ...('trained' in linear ? { linear: scored(linear.trained) } : {}),
    },
    ...('skipped' in linear.outputs ? { skipped: { linear: linear.outputs.skipped } } : {}),
  };
}

/** The train step: fit the transforms on the train split, train the configured model on it, and write the model folder. */
export async function train(ctx: StepContext): Promise<TrainOutputs> {
  const { config, log } = ctx;
  const model = config.model;
  const { dir: extractDir, outputs: extract } = await readExtract(ctx);
  const backend = await selectBackend(preferredBackend(ctx.env));
  log.info(`train: TensorFlow.js backend ${backend}`);

  const data = await trainingData(config, extractDir, extract);
  const { spec } = data;
  const trained = await trainModel(config, data, ctx);
  let linear: LinearBaseline | undefined;
  try {
    linear = await trainLinear(config, data, ctx, join(stepDir(ctx, 'train'), 'baselines', 'linear'));
    const { history, best, seconds, samplesPerSecond, stability, search, threshold } = trained;
    if (threshold) log.info(`train: ${thresholdText(threshold)}`);
    const modelDir = join(stepDir(ctx, 'train'), 'model');
    await mkdir(modelDir, { recursive: true });
    await trained.model.save(modelDir);
    await writePreprocess(modelDir, withThreshold(spec, trained));
    const card: ModelCard = {
      format: 'mlops-model-card/1',
      project: config.project,
      task: model.task,
      family: model.family,
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
      training: trainingOf(trained, model.epochs),
      reference: data.reference,
      ...(stability ? { stability } : {}),
      ...(search ? { search } : {}),
      baselines: baselineCard(config, data, trained, linear),
      ...(threshold ? { threshold } : {}),
      ...(data.classWeights ? { classWeights: Object.fromEntries(spec.label.classes!.map((c, i) => [c, data.classWeights![i]!])) } : {}),
      checksums: await checksumsOf(modelDir),
      createdAt: new Date().toISOString(),
    };
    await writeModelCard(modelDir, card);
    // The linear baseline's own card, so it loads as any model folder does.
    if ('trained' in linear) {
      const { modelDir: dir } = linear.outputs;
      const { seconds, samplesPerSecond } = linear.trained;
      const { stability: _, baselines: __, search: ___, threshold: ____, ...shared } = card;
      await writeModelCard(dir, {
        ...shared,
        family: 'mlp',
        timings: { trainSeconds: seconds, samplesPerSecond },
        training: trainingOf(linear.trained, model.epochs),
        ...(linear.trained.threshold ? { threshold: linear.trained.threshold } : {}),
        checksums: await checksumsOf(dir),
      });
    }
    const result: TrainOutputs = {
      backend,
      epochs: history.length,
      bestEpoch: best.epoch,
      valLoss: best.valLoss,
      samplesPerSecond,
      modelDir,
      ...(stability ? { stability: stabilitySummary(stability) } : {}),
      ...(threshold ? { threshold } : {}),
      baselines: { constant: data.prior, linear: linear.outputs },
    };
    await writeArtifact(ctx, trainFile, result);
    return result;
  } finally {
    trained.model.dispose();
    if (linear && 'trained' in linear) linear.trained.model.dispose();
  }
}
