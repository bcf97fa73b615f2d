import { join } from 'node:path';
import { readArtifact, writeArtifact } from '../artifacts.js';
import { evaluationFile, testPredictionsFile, trainFile } from '../artifact-files.js';
import { stepDir, type StepContext } from '../context.js';
import { preferredBackend } from '../model/backend.js';
import type { Dataset } from '../model/dataset.js';
import { readSplit } from '../model/dataset.js';
import { writeModelCard } from '../model/model-card.js';
import { loadPredictor, type Predictor } from '../model/predictor.js';
import { readPreprocess, type PreprocessSpec } from '../model/preprocess.js';
import { readExtract } from '../model/train.js';
import { skippedText } from '../report.js';
import { importanceOptions, permutationImportance } from './importance.js';
import { evaluationOf, predictAll, testRows } from './test-predictions.js';
import type { EvaluateOutputs, ModelEvaluation, TestPredictions } from '../step-outputs.js';

/** A model's metrics on a labelled data set, overall and per slice. */
export function score(predictor: Predictor, test: Dataset, sliceColumn?: string): ModelEvaluation {
  return evaluationOf({ ...testRows(predictor.spec, test, sliceColumn), candidate: predictAll(predictor, test) }, 'candidate');
}

/** Single-row inference latency, as a server sees it: transform one raw record and predict. */
function latency(predictor: Predictor, test: Dataset, samples = 200): { latency_p50_ms: number; latency_p95_ms: number } {
  const times: number[] = [];
  for (let i = 0; i < Math.min(samples, Math.max(test.rows, 1) * 10); i++) {
    const r = i % Math.max(test.rows, 1);
    const record = Object.fromEntries(Object.entries(test.columns).map(([k, v]) => [k, [v[r] ?? null]]));
    const began = performance.now();
    predictor.predict(record, 1);
    times.push(performance.now() - began);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
  return { latency_p50_ms: at(0.5), latency_p95_ms: at(0.95) };
}

/** The registry's champion where the run can read it. */
export interface ChampionAt {
  version: string;
  dir: string;
}

/**
 * `champion` on the candidate's test rows, added to `evaluation` and `predictions`: its per-row
 * predictions and metrics, or why the two cannot be compared (`championSkipped`).
 */
async function compareChampion(
  ctx: StepContext,
  candidate: PreprocessSpec,
  champion: ChampionAt,
  evaluation: EvaluateOutputs,
  predictions: TestPredictions,
): Promise<void> {
  const { dir: extractDir, outputs: extract } = await readExtract(ctx);
  const model = await loadPredictor(champion.dir, preferredBackend(ctx.env));
  try {
    const features = model.spec.features.map((f) => f.name);
    const missing = features.filter((f) => !(f in extract.schema));
    const sameClasses = JSON.stringify(model.spec.label.classes) === JSON.stringify(candidate.label.classes);
    const skipped = (reason: string) => (evaluation.championSkipped = { version: champion.version, reason });
    if (missing.length) skipped(`uses features the data no longer has: ${missing.join(', ')}`);
    else if (!sameClasses || model.spec.label.task !== candidate.label.task) skipped('predicts a different task or set of classes');
    else {
      const test = await readSplit(extractDir, extract, 'test', features);
      predictions.champion = predictAll(model, test);
      if (model.spec.label.threshold !== undefined)
        predictions.thresholds = { ...predictions.thresholds, champion: model.spec.label.threshold };
      const scored = evaluationOf(predictions, 'champion');
      Object.assign(scored.metrics, latency(model, test));
      evaluation.champion = { version: champion.version, ...scored };
    }
    if (evaluation.championSkipped)
      ctx.log.warn(`evaluate: ${skippedText(evaluation.championSkipped)}; the gate checks value thresholds only`);
  } finally {
    model.dispose();
  }
}

/**
 * The baselines train left on the same test rows, added to `evaluation` and `predictions`: the
 * constant prediction repeated on every row, and the linear model where it trained.
 */
async function scoreBaselines(ctx: StepContext, test: Dataset, evaluation: EvaluateOutputs, predictions: TestPredictions): Promise<void> {
  const { baselines } = await readArtifact(ctx, trainFile);
  const constant = Array.from(
    { length: test.rows * baselines.constant.length },
    (_, i) => baselines.constant[i % baselines.constant.length]!,
  );
  predictions.baselines = { constant };
  if ('modelDir' in baselines.linear) {
    const linear = await loadPredictor(baselines.linear.modelDir, preferredBackend(ctx.env));
    predictions.baselines.linear = predictAll(linear, test);
    if (linear.spec.label.threshold !== undefined)
      predictions.thresholds = { ...predictions.thresholds, linear: linear.spec.label.threshold };
    linear.dispose();
  }
  const metrics = (model: 'constant' | 'linear') => ({ metrics: evaluationOf(predictions, model).metrics });
  evaluation.baselines = {
    constant: metrics('constant'),
    linear: 'skipped' in baselines.linear ? { skipped: baselines.linear.skipped } : metrics('linear'),
  };
}

/**
 * The evaluate step: the trained model on the test split, per slice, its latency, its permutation
 * importance (also written into its model card), the champion on the same rows, and the baselines; `evaluation.json` holds the metrics, `predictions.json` the per-row predictions
 * the gate resamples.
 */
export async function evaluate(ctx: StepContext): Promise<EvaluateOutputs> {
  const { dir: extractDir, outputs: extract } = await readExtract(ctx);
  const candidate = await loadPredictor(candidateDir(ctx), preferredBackend(ctx.env));
  const sliceColumn = ctx.config.gates?.slice_column;
  const features = candidate.spec.features.map((f) => f.name);
  const test = await readSplit(extractDir, extract, 'test', sliceColumn ? [...new Set([...features, sliceColumn])] : features);

  // Each model predicts every test row once; metrics, slices and the gate's resamples all use these.
  const predictions: TestPredictions = { ...testRows(candidate.spec, test, sliceColumn), candidate: predictAll(candidate, test) };
  const result: EvaluateOutputs = { rows: test.rows, sliceColumn, ...evaluationOf(predictions, 'candidate') };
  if (candidate.spec.label.threshold !== undefined) result.threshold = candidate.spec.label.threshold;
  Object.assign(result.metrics, latency(candidate, test));
  const began = performance.now();
  result.importance = permutationImportance(candidate, test, importanceOptions(ctx.config));
  const { repeats, rows } = result.importance;
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  ctx.log.info(`evaluate: permutation importance of ${features.length} columns x ${repeats} shuffles on ${rows} rows in ${seconds} s`);
  // The card travels with the model into the registry and the image: what it relies on goes with it.
  await writeModelCard(candidateDir(ctx), { ...candidate.card, importance: result.importance });
  candidate.dispose();
  await scoreBaselines(ctx, test, result, predictions);
  const { registry } = ctx;
  const championVersion = await registry.resolve('champion');
  if (championVersion) {
    const { dir } = await registry.open(championVersion);
    await compareChampion(ctx, candidate.spec, { version: championVersion, dir }, result, predictions);
  }
  await writeArtifact(ctx, testPredictionsFile, predictions);
  await writeArtifact(ctx, evaluationFile, result);
  return result;
}

/**
 * The run's evaluation with its champion part made again against `champion`: what the gate judges
 * anew when another run promoted a champion after this run's gate.
 */
export async function evaluateAgainst(
  ctx: StepContext,
  champion: ChampionAt,
): Promise<{ evaluation: EvaluateOutputs; predictions: TestPredictions }> {
  const [evaluation, predictions, spec] = await Promise.all([
    readArtifact(ctx, evaluationFile),
    readArtifact(ctx, testPredictionsFile),
    readPreprocess(candidateDir(ctx)),
  ]);
  delete evaluation.champion;
  delete evaluation.championSkipped;
  delete predictions.champion;
  delete predictions.thresholds?.champion;
  await compareChampion(ctx, spec, champion, evaluation, predictions);
  await writeArtifact(ctx, testPredictionsFile, predictions);
  await writeArtifact(ctx, evaluationFile, evaluation);
  return { evaluation, predictions };
}

const candidateDir = (ctx: StepContext) => join(stepDir(ctx, 'train'), 'model');
