import { join } from 'node:path';
import { writeArtifact } from '../artifacts.js';
import { evaluationFile } from '../artifact-files.js';
import { stepDir, type StepContext } from '../context.js';
import { preferredBackend } from '../model/backend.js';
import type { Dataset } from '../model/dataset.js';
import { readSplit } from '../model/dataset.js';
import { loadPredictor, type Predictor } from '../model/predictor.js';
import { readExtract } from '../model/train.js';
import { openRegistry } from '../registry/registry.js';
import { classificationMetrics, regressionMetrics, type Metrics } from './metrics.js';
import type { EvaluateOutputs, ModelEvaluation } from '../step-outputs.js';

/** A model's metrics on a labelled data set, overall and per slice. */
export function score(predictor: Predictor, test: Dataset, sliceColumn?: string): ModelEvaluation {
  const { spec } = predictor;
  const measure = (rows: number[]): Metrics => {
    const columns = Object.fromEntries(Object.entries(test.columns).map(([k, v]) => [k, rows.map((r) => v[r]!)]));
    const out = predictor.predict(columns, rows.length);
    if (spec.label.task === 'regression')
      return regressionMetrics(
        rows.map((r) => Number(test.label[r])),
        out,
      );
    const index = new Map(spec.label.classes!.map((c, i) => [c, i]));
    return classificationMetrics(
      rows.map((r) => index.get(String(test.label[r]))!),
      out,
      spec.label.classes!.length,
    );
  };
  const all = Array.from({ length: test.rows }, (_, r) => r);
  const slices: ModelEvaluation['slices'] = {};
  if (sliceColumn) {
    const groups = new Map<string, number[]>();
    for (const r of all) {
      const key = String(test.columns[sliceColumn]![r] ?? '(missing)');
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(r);
    }
    for (const [key, rows] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) slices[key] = { rows: rows.length, metrics: measure(rows) };
  }
  return { metrics: measure(all), slices };
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

/** The evaluate step: the trained model on the test split, per slice, its latency, and the champion on the same rows. */
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

  const result: EvaluateOutputs = { rows: test.rows, sliceColumn, ...score(candidate, test, sliceColumn) };
  Object.assign(result.metrics, latency(candidate, test));
  if (champion) {
    const missing = champion.spec.features.map((f) => f.name).filter((f) => !(f in extract.schema));
    const sameClasses = JSON.stringify(champion.spec.label.classes) === JSON.stringify(candidate.spec.label.classes);
    if (missing.length)
      result.championSkipped = `the champion ${championVersion} uses features the data no longer has: ${missing.join(', ')}`;
    else if (!sameClasses || champion.spec.label.task !== candidate.spec.label.task)
      result.championSkipped = `the champion ${championVersion} predicts a different task or set of classes`;
    else {
      const scored = score(champion, test, sliceColumn);
      Object.assign(scored.metrics, latency(champion, test));
      result.champion = { version: championVersion!, ...scored };
    }
    if (result.championSkipped) log.warn(`evaluate: ${result.championSkipped}; the gate checks value thresholds only`);
  }
  candidate.model.dispose();
  champion?.model.dispose();

  await writeArtifact(ctx, evaluationFile, result);
  return result;
}
