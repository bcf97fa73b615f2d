import { join } from 'node:path';
import { writeArtifact } from '../artifacts.js';
import { evaluationFile, testPredictionsFile } from '../artifact-files.js';
import { stepDir, type StepContext } from '../context.js';
import { preferredBackend } from '../model/backend.js';
import type { Dataset } from '../model/dataset.js';
import { readSplit } from '../model/dataset.js';
import { loadPredictor, type Predictor } from '../model/predictor.js';
import { readExtract } from '../model/train.js';
import { openRegistry } from '../registry/registry.js';
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

/**
 * The evaluate step: the trained model on the test split, per slice, its latency, and the champion
 * on the same rows; `evaluation.json` holds the metrics, `predictions.json` the per-row predictions
 * the gate resamples.
 */
export async function evaluate(ctx: StepContext): Promise<EvaluateOutputs> {
  const { config, log } = ctx;
  const { dir: extractDir, outputs: extract } = await readExtract(ctx);
  const backend = preferredBackend(ctx.env);
  const candidate = await loadPredictor(join(stepDir(ctx, 'train'), 'model'), backend);
  const registry = openRegistry(ctx);
  const championVersion = await registry.resolve('champion');
  const champion = championVersion ? await loadPredictor((await registry.open(championVersion)).dir, backend) : undefined;

  const sliceColumn = config.gates?.slice_column;
  const columns = new Set([
    ...candidate.spec.features.map((f) => f.name),
    ...(champion?.spec.features.map((f) => f.name) ?? []),
    ...(sliceColumn ? [sliceColumn] : []),
  ]);
  const test = await readSplit(
    extractDir,
    extract,
    'test',
    [...columns].filter((c) => c in extract.schema),
  );

  // Each model predicts every test row once; metrics, slices and the gate's resamples all use these.
  const predictions: TestPredictions = { ...testRows(candidate.spec, test, sliceColumn), candidate: predictAll(candidate, test) };
  const result: EvaluateOutputs = { rows: test.rows, sliceColumn, ...evaluationOf(predictions, 'candidate') };
  Object.assign(result.metrics, latency(candidate, test));
  if (champion) {
    const missing = champion.spec.features.map((f) => f.name).filter((f) => !(f in extract.schema));
    const sameClasses = JSON.stringify(champion.spec.label.classes) === JSON.stringify(candidate.spec.label.classes);
    if (missing.length)
      result.championSkipped = `the champion ${championVersion} uses features the data no longer has: ${missing.join(', ')}`;
    else if (!sameClasses || champion.spec.label.task !== candidate.spec.label.task)
      result.championSkipped = `the champion ${championVersion} predicts a different task or set of classes`;
    else {
      predictions.champion = predictAll(champion, test);
      const scored = evaluationOf(predictions, 'champion');
      Object.assign(scored.metrics, latency(champion, test));
      result.champion = { version: championVersion!, ...scored };
    }
    if (result.championSkipped) log.warn(`evaluate: ${result.championSkipped}; the gate checks value thresholds only`);
  }
  candidate.model.dispose();
  champion?.model.dispose();

  await writeArtifact(ctx, testPredictionsFile, predictions);
  await writeArtifact(ctx, evaluationFile, result);
  return result;
}
