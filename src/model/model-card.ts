import { join } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { importanceSchema, lossyNumber, metricName } from './card-fields.js';
import { readJson, writeJson } from '../json-file.js';
import type { BackendName } from './backend.js';
import type { FeatureKind } from './preprocess.js';
import type { FeatureReference } from './reference.js';

/**
 * The model card, `metadata.json`: what the model is, where it came from, what it learned from.
 * Written by train beside the model, copied into every registry version and every image; read by
 * serving, monitoring and re-evaluation, always through this schema. Light on purpose (zod only):
 * the prediction server reads it too.
 */

const share = z.number().min(0).max(1);
const featureReference = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('numeric'), edges: z.array(z.number()), shares: z.array(share), missing: share }),
  z.object({ kind: z.literal('category'), values: z.array(z.string()), shares: z.array(share), missing: share }),
  z.object({ kind: z.literal('boolean'), shareTrue: share, missing: share }),
]);

const epoch = z.object({ epoch: z.number().int().nonnegative(), loss: lossyNumber, valLoss: lossyNumber, valMetric: lossyNumber });

/** model.stability: every seed's training and metrics on the validation split, their spread, and the seed released. */
const stability = z.object({
  /** Where the seeds were scored: the validation split, or the train split when there is none; the test split is the gate's. */
  split: z.enum(['validation', 'train']),
  rows: z.number().int().nonnegative(),
  seeds: z.array(z.number().int()),
  seed: z.number().int(),
  by: metricName,
  spread: z.record(metricName, z.object({ mean: lossyNumber, std: lossyNumber, min: lossyNumber, max: lossyNumber })),
  runs: z.array(
    z.object({
      seed: z.number().int(),
      epochs: z.number().int().nonnegative(),
      bestEpoch: z.number().int().nonnegative(),
      valLoss: lossyNumber,
      metrics: z.record(metricName, lossyNumber),
    }),
  ),
});

/** The candidate beside the trivial models on the validation split (the test split is the gate's): each one's gated metrics. */
const baselines = z.object({
  split: z.enum(['validation', 'train']),
  rows: z.number().int().nonnegative(),
  /** By model: candidate, constant, linear. */
  metrics: z.record(z.string(), z.record(metricName, lossyNumber)),
  /** A baseline that could not be trained, and why. */
  skipped: z.record(z.string(), z.string()).optional(),
});

/** model.search: every trial's hyperparameters and validation scores, and the one released (src/model/search.ts). */
const search = z.object({
  /** Where the trials were scored: the validation split, or the train split when there is none; the test split is the gate's. */
  split: z.enum(['validation', 'train']),
  rows: z.number().int().nonnegative(),
  /** What ranks the trials: the first gated metric (ties by validation loss), or `val_loss` when nothing is gated. */
  by: metricName,
  seed: z.number().int(),
  budget: z.object({ trials: z.number().int().positive(), minutes: z.number().positive() }),
  /** Why fewer trials ran than the budget allows. */
  stopped: z.string().optional(),
  trials: z.array(
    z.object({
      trial: z.number().int().positive(),
      /** What it drew; every other setting is the model's own. */
      params: z.object({
        hidden: z.array(z.number().int()).optional(),
        dropout: z.number().optional(),
        learning_rate: z.number().optional(),
        batch_size: z.number().int().optional(),
      }),
      seconds: lossyNumber,
      epochs: z.number().int().nonnegative().optional(),
      valLoss: lossyNumber.optional(),
      /** The gated metrics on the split; absent when it trained no model. */
      metrics: z.record(metricName, lossyNumber).optional(),
      /** Why it trained no model: it diverged, or did no better than a constant. */
      failed: z.string().optional(),
      /** Why it was passed over though it ranked above the one released: its spread across the seeds of model.stability. */
      unstable: z.string().optional(),
    }),
  ),
  /** The trial released. */
  released: z.number().int().positive(),
});

/** model.threshold: a binary model's decision threshold, how it was set, and the metrics at it and at 0.5 where it was chosen. */
const threshold = z.object({
  rule: z.enum(['fixed', 'f1', 'youden']),
  /** The second class: predicted when its probability is above `value`. */
  positive: z.string(),
  value: z.number().gt(0).lt(1),
  split: z.enum(['validation', 'train']),
  rows: z.number().int().nonnegative(),
  metrics: z.record(metricName, lossyNumber),
  atDefault: z.record(metricName, lossyNumber),
});

export const modelCardSchema = z.object({
  format: z.literal('mlops-model-card/1'),
  project: z.string().min(1),
  task: z.enum(['binary', 'multiclass', 'regression']),
  /** The model family that reads the model's files; cards written before there were several are MLPs. */
  family: z.string().min(1).default('mlp'),
  label: z.string().min(1),
  classes: z.array(z.string()).optional(),
  features: z.array(z.object({ name: z.string().min(1), kind: z.enum(['numeric', 'category', 'boolean']) })),
  lineage: z.object({
    runId: z.string().min(1),
    dataHash: z.string(),
    configHash: z.string(),
    gitSha: z.string(),
    asOf: z.string(),
    windowStart: z.string(),
  }),
  backend: z.enum(['tensorflow', 'wasm', 'cpu']),
  timings: z.object({ trainSeconds: lossyNumber, samplesPerSecond: lossyNumber }),
  training: z.object({
    epochs: z.number().int().nonnegative(),
    bestEpoch: z.number().int().nonnegative(),
    stoppedEarly: z.boolean(),
    history: z.array(epoch),
  }),
  reference: z.record(z.string(), featureReference),
  stability: stability.optional(),
  baselines: baselines.optional(),
  search: search.optional(),
  threshold: threshold.optional(),
  /** model.class_weight: each class's weight in training's loss. */
  classWeights: z.record(z.string(), z.number()).optional(),
  importance: importanceSchema.optional(),
  /** sha256 of every file of the model, by name. */
  checksums: z.record(
    z.string().regex(/^(?!\.\.?$)[^/\\]+$/, 'expected a file name in the model folder, without a path'),
    z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 checksum (64 hex digits)'),
  ),
  createdAt: z.iso.datetime({ offset: true }),
});

export type ModelCard = z.output<typeof modelCardSchema>;

// The card's enums are the ones the rest of the code uses: this fails to compile when they drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const matches: [
  Same<ModelCard['task'], Config['model']['task']>,
  Same<ModelCard['backend'], BackendName>,
  Same<ModelCard['features'][number]['kind'], FeatureKind>,
  Same<ModelCard['reference'][string], FeatureReference>,
] = [true, true, true, true];
void matches;

/** `<dir>/metadata.json`, checked: a missing file is a `file_missing` data error, a bad one `file_invalid` naming the key. */
export const readModelCard = (dir: string): Promise<ModelCard> => readJson(join(dir, 'metadata.json'), modelCardSchema);

/** Writes `<dir>/metadata.json` atomically, refusing a card that does not match the schema. */
export const writeModelCard = (dir: string, card: ModelCard): Promise<void> => writeJson(join(dir, 'metadata.json'), modelCardSchema, card);
