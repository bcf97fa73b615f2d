import type { Dataset, Value } from './dataset.js';

/**
 * The transforms between raw feature values and the model's input, fitted on the train split only
 * and saved as `preprocess.json` next to the model. Training, evaluation and serving all call
 * `transform` with the same file, so there is one code path and no training/serving skew.
 */
export type FeatureTransform =
  /** Standardised; a missing value becomes the train mean, i.e. 0. */
  | { name: string; kind: 'numeric'; mean: number; std: number }
  /** 1 or 0; a missing value becomes the train mode. */
  | { name: string; kind: 'boolean'; fill: boolean }
  /** One-hot over the vocabulary plus a last, out-of-vocabulary slot; a missing value becomes the train mode. */
  | { name: string; kind: 'category'; vocabulary: string[]; fill: string };

export type FeatureKind = FeatureTransform['kind'];

export interface PreprocessSpec {
  format: 'mlops-preprocess/1';
  features: FeatureTransform[];
  /** Width of one transformed row. */
  width: number;
  label: { name: string; task: 'binary' | 'multiclass' | 'regression'; classes?: string[] };
}

const slots = (t: FeatureTransform) => (t.kind === 'category' ? t.vocabulary.length + 1 : 1);

function mode<T>(values: Iterable<T>): { counts: Map<T, number>; top: T | undefined } {
  const counts = new Map<T, number>();
  let top: T | undefined;
  for (const v of values) {
    const c = (counts.get(v) ?? 0) + 1;
    counts.set(v, c);
    if (top === undefined || c > counts.get(top)! || (c === counts.get(top)! && String(v) < String(top))) top = v;
  }
  return { counts, top };
}

function* present<T>(values: Value[], is: (v: Value) => v is T & Value): Generator<T> {
  for (const v of values) if (is(v)) yield v;
}
const isNumber = (v: Value): v is number => typeof v === 'number' && Number.isFinite(v);
const isBoolean = (v: Value): v is boolean => typeof v === 'boolean';
const isString = (v: Value): v is string => typeof v === 'string';

export function fitFeature(name: string, kind: FeatureKind, values: Value[], maxCategories: number): FeatureTransform {
  if (kind === 'numeric') {
    let n = 0;
    let sum = 0;
    for (const v of present(values, isNumber)) {
      n++;
      sum += v;
    }
    const mean = n ? sum / n : 0;
    let squares = 0;
    for (const v of present(values, isNumber)) squares += (v - mean) ** 2;
    const std = n ? Math.sqrt(squares / n) : 0;
    return { name, kind, mean, std: std > 0 ? std : 1 };
  }
  if (kind === 'boolean') return { name, kind, fill: mode(present(values, isBoolean)).top ?? false };
  const { counts, top } = mode(present(values, isString));
  const vocabulary = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, maxCategories)
    .map(([v]) => v);
  return { name, kind, vocabulary, fill: top ?? '' };
}

export function fitPreprocess(
  train: Dataset,
  kinds: Record<string, FeatureKind>,
  label: PreprocessSpec['label'],
  maxCategories: number,
): PreprocessSpec {
  const features = Object.entries(kinds).map(([name, kind]) => fitFeature(name, kind, train.columns[name] ?? [], maxCategories));
  return { format: 'mlops-preprocess/1', features, width: features.reduce((w, t) => w + slots(t), 0), label };
}

/** Raw columns (each `rows` long) to a row-major Float32Array of `rows * spec.width`. */
export function transform(spec: PreprocessSpec, columns: Record<string, Value[]>, rows: number): Float32Array {
  const out = new Float32Array(rows * spec.width);
  let offset = 0;
  for (const t of spec.features) {
    const values = columns[t.name] ?? [];
    if (t.kind === 'numeric') {
      for (let r = 0; r < rows; r++) {
        const v = values[r];
        out[r * spec.width + offset] = isNumber(v ?? null) ? ((v as number) - t.mean) / t.std : 0;
      }
    } else if (t.kind === 'boolean') {
      for (let r = 0; r < rows; r++) out[r * spec.width + offset] = (isBoolean(values[r] ?? null) ? values[r] : t.fill) ? 1 : 0;
    } else {
      const index = new Map(t.vocabulary.map((v, i) => [v, i]));
      const fill = index.get(t.fill) ?? t.vocabulary.length;
      for (let r = 0; r < rows; r++) {
        const v = values[r];
        const i = isString(v ?? null) ? (index.get(v as string) ?? t.vocabulary.length) : fill;
        out[r * spec.width + offset + i] = 1;
      }
    }
    offset += slots(t);
  }
  return out;
}

/** Labels as the model's targets: one-hot (multiclass), 0/1 for the second class (binary), or numbers. */
export function encodeLabels(spec: PreprocessSpec, labels: Value[]): Float32Array {
  const { task, classes = [] } = spec.label;
  if (task === 'regression') return Float32Array.from(labels, (v) => Number(v));
  if (task === 'binary') return Float32Array.from(labels, (v) => (v === classes[1] ? 1 : 0));
  const index = new Map(classes.map((c, i) => [c, i]));
  const out = new Float32Array(labels.length * classes.length);
  labels.forEach((v, r) => (out[r * classes.length + index.get(String(v))!] = 1));
  return out;
}
