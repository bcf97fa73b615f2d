import { z } from 'zod';
import { baselineNames, metricNames } from './config/schema.js';
import type { Window } from './data/window.js';
import type { MonitorReport } from './monitor/report.js';
import { importanceSchema } from './model/card-fields.js';
import { manifestSchema } from './registry/schemas.js';
import type {
  BatchCounts,
  ContractReport,
  ExtractOutputs,
  BuildOutputs,
  Decision,
  DeployOutputs,
  EvaluateOutputs,
  PredictOutputs,
  PushOutputs,
  RecordOutputs,
  ReevaluateOutputs,
  ReleaseReport,
  RunRecord,
  TestPredictions,
  TrainOutputs,
} from './step-outputs.js';

/**
 * The schema of every file a step leaves for the steps after it. Each is typed against the
 * interface its step declares, so the two cannot drift apart; this module holds no code beyond
 * zod, so that reading a run's files never loads what wrote them.
 */

export interface Artifact<T> {
  step: string;
  file: string;
  schema: z.ZodType<T, unknown>;
}

const artifact = <T>(step: string, file: string, schema: z.ZodType<T, unknown>): Artifact<T> => ({ step, file, schema });

const counts = z.record(z.string(), z.number());
const window: z.ZodType<Window> = z.object({ asOf: z.string(), windowStart: z.string(), days: z.number() });
const rows = z.object({ read: z.number(), clean: z.number(), quarantined: z.number() });
const splits = z.object({ train: z.number(), validation: z.number(), test: z.number() });

export const extractFile = artifact<ExtractOutputs>(
  'extract',
  'extract.json',
  z.object({
    window,
    source: z.enum(['duckdb', 'postgres']),
    label: z.string(),
    task: z.enum(['binary', 'multiclass', 'regression']),
    features: z.array(z.string()),
    schema: z.record(z.string(), z.string()),
    rows,
    split: splits,
    dataHash: z.string(),
    files: z.object({ train: z.string(), validation: z.string(), test: z.string(), quarantine: z.string(), report: z.string() }),
  }),
);

export const contractFile = artifact<ContractReport>(
  'extract',
  'contract.json',
  z.object({
    window,
    rows: rows.extend({ quarantinedShare: z.number() }),
    maxQuarantineRatio: z.number(),
    columns: z.record(
      z.string(),
      z.object({ type: z.string(), sourceType: z.string(), coerced: z.number(), missing: z.number(), violations: counts }),
    ),
    rules: counts,
    undeclaredColumns: z.array(z.string()),
    dataHash: z.string(),
  }),
);

/**
 * A metric: a number, or null where it was NaN (JSON has no NaN: a metric undefined on the rows, such
 * as ROC AUC of one class). Read back as NaN, as the step that computed it held it.
 */
const metric = z.custom<number | null>((v) => v === null || typeof v === 'number', 'expected a number or null').transform((v) => v ?? NaN);
export const trainFile = artifact<TrainOutputs>(
  'train',
  'train.json',
  z.object({
    backend: z.enum(['tensorflow', 'wasm', 'cpu']),
    epochs: z.number(),
    bestEpoch: z.number(),
    valLoss: z.number(),
    samplesPerSecond: z.number(),
    modelDir: z.string(),
    stability: z
      .object({
        seeds: z.array(z.number()),
        seed: z.number(),
        by: z.enum(metricNames),
        // A spread of a metric undefined on the rows (NaN) is written as null.
        spread: z.partialRecord(
          z.enum(metricNames),
          z.record(
            z.enum(['mean', 'std', 'min', 'max']),
            z
              .number()
              .nullable()
              .transform((v) => v ?? NaN),
          ),
        ),
      })
      .optional(),
    threshold: z
      .object({
        rule: z.enum(['fixed', 'f1', 'youden']),
        positive: z.string(),
        value: z.number(),
        split: z.enum(['validation', 'train']),
        rows: z.number(),
        metrics: z.record(z.string(), metric),
        atDefault: z.record(z.string(), metric),
      })
      .optional(),
    baselines: z.object({
      constant: z.array(z.number()),
      linear: z.union([z.object({ modelDir: z.string() }), z.object({ skipped: z.string() })]),
    }),
  }),
);

const classification = z.object({
  accuracy: metric,
  precision: metric,
  recall: metric,
  macro_f1: metric,
  roc_auc: metric,
  log_loss: metric,
  confusion: z.array(z.array(z.number())),
});
const regression = z.object({ rmse: metric, mae: metric, r2: metric });
const latency = { latency_p50_ms: metric.optional(), latency_p95_ms: metric.optional() };
const metrics = z.union([classification, regression]);
const modelEvaluation = z.object({
  metrics: z.union([classification.extend(latency), regression.extend(latency)]),
  slices: z.record(z.string(), z.object({ rows: z.number(), metrics })),
});

const baselineEvaluation = z.union([z.object({ metrics }), z.object({ skipped: z.string() })]);

export const evaluationFile = artifact<EvaluateOutputs>(
  'evaluate',
  'evaluation.json',
  modelEvaluation.extend({
    rows: z.number(),
    sliceColumn: z.string().optional(),
    champion: modelEvaluation.extend({ version: z.string() }).optional(),
    championSkipped: z.strictObject({ version: z.string(), reason: z.string() }).optional(),
    baselines: z.object({ constant: baselineEvaluation, linear: baselineEvaluation.optional() }).optional(),
    threshold: z.number().optional(),
    importance: importanceSchema.optional(),
  }),
);

export const testPredictionsFile = artifact<TestPredictions>(
  'evaluate',
  'predictions.json',
  z
    .object({
      task: z.enum(['binary', 'multiclass', 'regression']),
      width: z.number().int().positive(),
      labels: z.array(z.number()),
      slices: z.object({ keys: z.array(z.string()), of: z.array(z.number().int().min(0)) }).optional(),
      candidate: z.array(z.number()),
      champion: z.array(z.number()).optional(),
      baselines: z.object({ constant: z.array(z.number()), linear: z.array(z.number()).optional() }).optional(),
      thresholds: z.partialRecord(z.enum(['candidate', 'champion', ...baselineNames]), z.number()).optional(),
    })
    .refine(
      (p) =>
        [p.candidate, p.champion, p.baselines?.constant, p.baselines?.linear].every(
          (m) => m === undefined || m.length === p.labels.length * p.width,
        ) &&
        (!p.slices || p.slices.of.length === p.labels.length),
      'expected width values per row for each model, and a slice per row',
    ),
);

const force = z.object({ reason: z.string() });

export const decisionFile = artifact<Decision>(
  'gate',
  'decision.json',
  z.object({
    blessed: z.boolean(),
    passed: z.boolean(),
    forced: force.optional(),
    championVersion: z.string().optional(),
    note: z.string().optional(),
    bootstrap: z
      .object({ confidence: z.number(), resamples: z.number(), seed: z.number(), valueOn: z.enum(['point', 'interval']) })
      .optional(),
    rules: z.array(
      z.object({
        metric: z.enum(metricNames),
        scope: z.string(),
        rule: z.enum(['lower', 'upper', 'change.absolute', 'change.relative', 'baseline']),
        value: z.number().nullable(),
        bound: z.number(),
        champion: z.number().nullable().optional(),
        baseline: z.object({ name: z.enum(baselineNames), value: z.number().nullable() }).optional(),
        interval: z
          .object({ low: z.number(), high: z.number(), confidence: z.number(), resamples: z.number(), held: z.number() })
          .optional(),
        rows: z.number().optional(),
        undecided: z.string().optional(),
        passed: z.boolean(),
        notJudged: z.string().optional(),
      }),
    ),
  }),
);

export const recordFile = artifact<RecordOutputs>(
  'record',
  'record.json',
  z.object({
    version: z.string(),
    promoted: z.boolean(),
    manifest: manifestSchema,
  }),
);

export const buildFile = artifact<BuildOutputs>(
  'build',
  'build.json',
  z.object({
    image: z.string(),
    id: z.string(),
    sizeBytes: z.number(),
    base: z.string(),
    modelVersion: z.string(),
    labels: z.record(z.string(), z.string()),
  }),
);

export const pushFile = artifact<PushOutputs>(
  'push',
  'push.json',
  z.object({ image: z.string(), digest: z.string(), reference: z.string() }),
);

export const deployFile = artifact<DeployOutputs>(
  'deploy',
  'deploy.json',
  z.object({
    target: z.string().min(1),
    version: z.string(),
    proxy: z.string(),
    server: z.object({ id: z.string(), version: z.string(), port: z.number(), url: z.string(), running: z.boolean(), since: z.string() }),
    stopped: z.array(z.string()),
    removed: z.array(z.string()),
    seconds: z.number(),
    release: z.custom<ReleaseReport>().optional(),
  }),
);

/** A batch's counts, in predict.json and in its line of prediction log. */
export const batchCountsSchema: z.ZodType<BatchCounts, unknown> = z.object({
  rows: z.number(),
  outliers: z.number(),
  classes: counts.optional(),
  values: z.object({ min: z.number(), max: z.number(), sum: z.number() }).optional(),
  features: z.record(z.string(), z.array(z.number())),
});

export const predictFile = artifact<PredictOutputs>(
  'predict',
  'predict.json',
  z.object({
    runId: z.string(),
    window,
    version: z.string(),
    engine: z.string(),
    source: z.enum(['duckdb', 'postgres']),
    sink: z.object({ kind: z.enum(['parquet', 'csv', 'duckdb', 'postgres']), where: z.string() }),
    scoredAt: z.string(),
    rows: z.object({ read: z.number(), quarantined: z.number(), scored: z.number(), written: z.number() }),
    quarantinedShare: z.number(),
    rules: counts,
    classes: z.record(z.string(), z.object({ predicted: z.number(), share: z.number(), training: z.number().nullable() })).optional(),
    values: z.object({ min: z.number(), max: z.number(), mean: z.number() }).optional(),
    outlierRate: z.number().nullable(),
    seconds: z.object({ score: z.number(), write: z.number(), total: z.number() }),
    counts: batchCountsSchema,
  }),
);

/** `deploy/release.json`: a shadow or canary stage's comparison and verdict, written whether it passed or not. */
export const releaseFile = artifact<ReleaseReport>('deploy', 'release.json', z.custom<ReleaseReport>());

/** Reports for people and a job's uploads: no step reads them back, so nothing is checked. */
export const monitorReportFile = artifact<MonitorReport>('monitor', 'report.json', z.custom<MonitorReport>());
export const reevaluationFile = artifact<ReevaluateOutputs>('reevaluate', 'reevaluation.json', z.custom<ReevaluateOutputs>());

const errorClass = z.enum(['config', 'data', 'quality', 'transient', 'storage', 'internal']);

/** `<run>/run.json`, the run's ledger. */
export const runSchema: z.ZodType<RunRecord, unknown> = z.object({
  runId: z.string(),
  project: z.string(),
  status: z.enum(['running', 'succeeded', 'rejected', 'failed', 'unchanged']),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  kind: z.literal('predict').optional(),
  options: z.object({
    asOf: z.string().optional(),
    force: force.optional(),
    retrain: z.boolean().optional(),
    version: z.string().optional(),
  }),
  steps: z.array(
    z.object({
      name: z.string(),
      status: z.enum(['running', 'succeeded', 'failed', 'skipped']),
      attempts: z.number(),
      startedAt: z.string(),
      durationMs: z.number().optional(),
      errorClass: errorClass.optional(),
      message: z.string().optional(),
      artifacts: z.string(),
    }),
  ),
  process: z.object({ pid: z.number(), started: z.string().optional(), host: z.string() }).optional(),
});
