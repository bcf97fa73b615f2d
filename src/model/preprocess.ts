import { join } from 'node:path';
import { z } from 'zod';
import { readJson, writeJson } from '../json-file.js';
import { modeOf, summarise, type ColumnSummary } from './column-summary.js';
import type { Dataset, Value } from './dataset.js';

/**
 * The transforms between raw feature values and the model's input, and between the label and the
 * model's target, fitted on the train split only and saved as `preprocess.json` next to the model.
 * Training, evaluation and serving all call `transform` with the same file, so there is one code
 * path and no training/serving skew.
 */
const standardised = { mean: z.number(), std: z.number().positive() };
const featureTransform = z.discriminatedUnion('kind', [
  /** Standardised; a missing value becomes the train mean, i.e. 0. */
  z.object({ name: z.string().min(1), kind: z.literal('numeric'), ...standardised }),
  /** 1 or 0; a missing value becomes the train mode. */
  z.object({ name: z.string().min(1), kind: z.literal('boolean'), fill: z.boolean() }),
  /** One-hot over the vocabulary plus a last, out-of-vocabulary slot; a missing value becomes the train mode. */
  z.object({ name: z.string().min(1), kind: z.literal('category'), vocabulary: z.array(z.string()), fill: z.string() }),
]);

export const preprocessSchema = z.object({
  format: z.literal('mlops-preprocess/1'),
  features: z.array(featureTransform),
  /** Width of one transformed row. */
  width: z.number().int().nonnegative(),
  label: z.object({
    name: z.string().min(1),
    task: z.enum(['binary', 'multiclass', 'regression']),
    classes: z.array(z.string()).optional(),
    /**
     * Regression: the network learns the target standardised with the train split's mean and
     * standard deviation, so any unit trains with the same defaults. Files written before it have
     * none, and read as the identity.
     */
    scale: z.object(standardised).optional(),
    /** Binary, with model.threshold: the second class is predicted when its probability is above this (decision.ts). */
    threshold: z.number().gt(0).lt(1).optional(),
  }),
});

export type PreprocessSpec = z.output<typeof preprocessSchema>;
export type FeatureTransform = PreprocessSpec['features'][number];
export type FeatureKind = FeatureTransform['kind'];

/** `<dir>/preprocess.json`, checked against its schema. */
export const readPreprocess = (dir: string): Promise<PreprocessSpec> => readJson(join(dir, 'preprocess.json'), preprocessSchema);
export const writePreprocess = (dir: string, spec: PreprocessSpec): Promise<void> =>
  writeJson(join(dir, 'preprocess.json'), preprocessSchema, spec);

const slots = (t: FeatureTransform) => (t.kind === 'category' ? t.vocabulary.length + 1 : 1);

/** The column of each feature's first slot in a transformed row. */
export function featureOffsets(spec: PreprocessSpec): number[] {
  const offsets: number[] = [];
  let offset = 0;
  for (const t of spec.features) {
    offsets.push(offset);
    offset += slots(t);
  }
  return offsets;
}

const isNumber = (v: Value): v is number => typeof v === 'number' && Number.isFinite(v);
const isBoolean = (v: Value): v is boolean => typeof v === 'boolean';
const isString = (v: Value): v is string => typeof v === 'string';

/** Mean and (population) standard deviation; a constant or empty column gets std 1, so it stays finite. */
export function standardise(numbers: ArrayLike<number>): { mean: number; std: number } {
  const n = numbers.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += numbers[i]!;
  const mean = n ? sum / n : 0;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (numbers[i]! - mean) ** 2;
  const std = n ? Math.sqrt(squares / n) : 0;
  return { mean, std: std > 0 ? std : 1 };
}

export function fitFeature(name: string, kind: FeatureKind, train: ColumnSummary, maxCategories: number): FeatureTransform {
  if (kind === 'numeric') return { name, kind, ...standardise(train.numbers) };
  if (kind === 'boolean') return { name, kind, fill: (modeOf(train.counts) as boolean | undefined) ?? false };
  const vocabulary = [...(train.counts as Map<string, number>).entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, maxCategories)
    .map(([v]) => v);
  return { name, kind, vocabulary, fill: (modeOf(train.counts) as string | undefined) ?? '' };
}

/** The spec of fitted features; a regression target's scale is fitted on the train labels. */
export function specOf(features: FeatureTransform[], label: PreprocessSpec['label'], trainLabels: Value[]): PreprocessSpec {
  return {
    format: 'mlops-preprocess/1',
    features,
    width: features.reduce((w, t) => w + slots(t), 0),
    label: label.task === 'regression' ? { ...label, scale: standardise(trainLabels.filter(isNumber)) } : label,
  };
}

export function fitPreprocess(
  train: Dataset,
  kinds: Record<string, FeatureKind>,
  label: PreprocessSpec['label'],
  maxCategories: number,
): PreprocessSpec {
  const features = Object.entries(kinds).map(([name, kind]) =>
    fitFeature(name, kind, summarise(kind, train.columns[name] ?? []), maxCategories),
  );
  return specOf(features, label, train.label);
}

/** Writes one feature's raw values (`rows` long) into its slots, from column `offset`, of row-major `out` (`width` a row). */
export function writeFeature(out: Float32Array, width: number, offset: number, t: FeatureTransform, values: Value[], rows: number): void {
  if (t.kind === 'numeric') {
    for (let r = 0; r < rows; r++) {
      const v = values[r];
      out[r * width + offset] = isNumber(v ?? null) ? ((v as number) - t.mean) / t.std : 0;
    }
  } else if (t.kind === 'boolean') {
    for (let r = 0; r < rows; r++) out[r * width + offset] = (isBoolean(values[r] ?? null) ? values[r] : t.fill) ? 1 : 0;
  } else {
    const index = new Map(t.vocabulary.map((v, i) => [v, i]));
    const fill = index.get(t.fill) ?? t.vocabulary.length;
    for (let r = 0; r < rows; r++) {
      const v = values[r];
      const i = isString(v ?? null) ? (index.get(v as string) ?? t.vocabulary.length) : fill;
      out[r * width + offset + i] = 1;
    }
  }
}

/** Raw columns (each `rows` long) to a row-major Float32Array of `rows * spec.width`. */
export function transform(spec: PreprocessSpec, columns: Record<string, Value[]>, rows: number): Float32Array {
  const out = new Float32Array(rows * spec.width);
  const offsets = featureOffsets(spec);
  spec.features.forEach((t, k) => writeFeature(out, spec.width, offsets[k]!, t, columns[t.name] ?? [], rows));
  return out;
}

/** The target's scale; identity for a file written before targets were scaled. */
export const targetScale = (spec: PreprocessSpec) => spec.label.scale ?? { mean: 0, std: 1 };

/** Labels as the model's targets: one-hot (multiclass), 0/1 for the second class (binary), or standardised numbers. */
export function encodeLabels(spec: PreprocessSpec, labels: Value[]): Float32Array {
  const { task, classes = [] } = spec.label;
  if (task === 'regression') {
    const { mean, std } = targetScale(spec);
    return Float32Array.from(labels, (v) => (Number(v) - mean) / std);
  }
  if (task === 'binary') return Float32Array.from(labels, (v) => (v === classes[1] ? 1 : 0));
  const index = new Map(classes.map((c, i) => [c, i]));
  const out = new Float32Array(labels.length * classes.length);
  labels.forEach((v, r) => (out[r * classes.length + index.get(String(v))!] = 1));
  return out;
}
