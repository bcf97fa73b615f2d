import type { Config } from '../src/config/schema.js';
import { transform } from '../src/model/preprocess.js';
import type { Explanation } from '../src/model/explain.js';
import { f32, outputJson } from '../src/model/output-json.js';
import type { Metrics } from './metrics.js';
import type { ServedModel } from './model-store.js';
import { outlierScores } from '../src/model/outliers.js';
import type { PredictionEntry } from './prediction-log.js';
import { parseRecords, unpredictable, type FieldError } from './validate.js';

/** A prediction's log entry, but for its time and latency: the request's, added by the log middleware. */
export type Predicted = Omit<PredictionEntry, 'time' | 'latencyMs'>;

/** The response's JSON text and the log entry, or the fields that cannot be predicted (a 422). */
export type Prediction = { ok: true; json: string; entry: Predicted } | { ok: false; fields: FieldError[] };

const explanationJson = ({ output, baseline, attributions }: Explanation) =>
  `{"output":${JSON.stringify(output)},"baseline":${f32(baseline)},"attributions":{${Object.entries(attributions)
    .map(([k, v]) => `${JSON.stringify(k)}:${Number.isFinite(v) ? f32(v) : 'null'}`)
    .join(',')}}}`;

/**
 * Predicts the records of a request body on `model`: validates them, feeds the drift monitor and
 * the prediction metrics, and returns the response as JSON text with what the prediction log keeps
 * of it. With `explain` (the model must have `predictor.explain`), each record also carries its
 * attributions, which the log keeps only with serving.explain.log.
 */
export function predict(
  model: ServedModel,
  body: { text: string; value: unknown },
  requestId: string,
  serving: Pick<Config['serving'], 'max_batch' | 'outlier_z' | 'explain'>,
  metrics: Pick<Metrics, 'predictions' | 'outliers'>,
  explain = false,
): Prediction {
  const { spec } = model.predictor;
  const parsed = parseRecords(spec, body.value, serving.max_batch);
  if (!parsed.ok) return { ok: false, fields: parsed.errors };
  const { columns, rows, batch } = parsed;
  const x = transform(spec, columns, rows);
  const out = model.predictor.forward(x, rows);
  const scores = outlierScores(spec, x, rows);
  const overflowed = unpredictable(out, scores, rows, batch);
  if (overflowed.length) return { ok: false, fields: overflowed };

  const outputs = outputJson(spec.label.classes, out, rows, spec.label.threshold);
  const outlier = new Uint8Array(rows);
  const perClass = new Map<string, number>();
  let outliers = 0;
  for (let r = 0; r < rows; r++) {
    const label = spec.label.classes ? spec.label.classes[outputs.best[r]!]! : 'value';
    perClass.set(label, (perClass.get(label) ?? 0) + 1);
    if (scores[r]! > serving.outlier_z) {
      outlier[r] = 1;
      outliers++;
    }
  }
  model.monitor.observe(columns, rows, (r) => outlier[r] === 1);
  for (const [label, n] of perClass) metrics.predictions.inc({ class: label, model_version: model.version }, n);
  if (outliers) metrics.outliers.inc({ model_version: model.version }, outliers);

  let shown = outputs.json;
  if (explain) {
    const explanations = model.predictor.explain!(x, rows, outputs.best, serving.explain.steps);
    shown = shown.map((j, r) => `${j.slice(0, -1)},"explanation":${explanationJson(explanations[r]!)}}`);
  }
  const predictions = `[${(serving.explain.log ? shown : outputs.json).join(',')}]`;
  const tail = `"model_version":${JSON.stringify(model.version)},"request_id":"${requestId}"}`;
  const json = batch ? `{"predictions":[${shown.join(',')}],${tail}` : `${shown[0]!.slice(0, -1)},${tail}`;
  const entry = {
    requestId,
    modelVersion: model.version,
    body: body.text,
    batch,
    fields: spec.features.length,
    predictions,
    rows,
    outlierScores: scores,
  };
  return { ok: true, json, entry };
}
