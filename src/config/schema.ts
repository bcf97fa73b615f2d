import { z } from 'zod';
import { stepNames } from '../step-names.js';
import { deployTargets, stagesRefused, targetSupport } from '../target-support.js';
import { searchSchema } from './search-schema.js';

/**
 * The schema of `mlops.config.yaml`, the fork's single source of truth. Objects are strict so that
 * a typo is an error with a suggestion rather than a setting silently ignored.
 */

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected a date as YYYY-MM-DD' });

export const columnTypes = ['float', 'integer', 'category', 'boolean', 'timestamp', 'label'] as const;

/** The bounds of a text column (a category, a classification label) unless its contract says otherwise. */
export const textColumnDefaults = { max_length: 1_000, max_categories: 1_000 };

const column = z
  .strictObject({
    type: z.enum(columnTypes),
    nullable: z.boolean().default(false),
    range: z
      .tuple([z.number(), z.number()], { error: 'expected [min, max]' })
      .refine(([min, max]) => min <= max, { error: 'expected min <= max' })
      .optional(),
    values: z
      .array(z.union([z.string(), z.number(), z.boolean()]))
      .min(1)
      .optional(),
    key: z.boolean().default(false),
    description: z.string().optional(),
    /** Characters a value may have; a longer one is quarantined. */
    max_length: z.number().int().positive().optional(),
    /** Distinct clean values the column may have (a key has no cap); more is a data error: ids or free text are no category. */
    max_categories: z.number().int().positive().optional(),
  })
  .superRefine((col, ctx) => {
    for (const key of ['max_length', 'max_categories'] as const)
      if (col[key] !== undefined && !['category', 'label'].includes(col.type))
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies to category or label columns, not ${col.type}` });
    if (col.max_categories !== undefined && col.key)
      ctx.addIssue({ code: 'custom', path: ['max_categories'], message: 'a key column holds ids, which have no max_categories' });
    if (col.range && !['float', 'integer', 'label'].includes(col.type)) {
      ctx.addIssue({ code: 'custom', path: ['range'], message: `a range applies to float, integer or label columns, not ${col.type}` });
    }
    if (col.values && !['category', 'integer', 'label'].includes(col.type)) {
      ctx.addIssue({
        code: 'custom',
        path: ['values'],
        message: `allowed values apply to category, integer or label columns, not ${col.type}`,
      });
    }
    if (col.values && col.type === 'integer' && !col.values.every((v) => Number.isInteger(v))) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: 'allowed values of an integer column must be whole numbers' });
    }
  });

const contract = z.strictObject({
  columns: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected a column name of letters, digits and _' }), column),
  /** Above this share of quarantined rows the extract fails with a data error. */
  max_quarantine_ratio: z.number().min(0).max(1).default(0.05),
  /** Columns the query returns that the contract does not declare: warned about and dropped, or an error. */
  undeclared_columns: z.enum(['warn', 'error']).default('warn'),
});

const duckdbSource = z.strictObject({
  kind: z.literal('duckdb'),
  /** SQL over the sample files; `$as_of` and `$window_start` are bound to the training window. */
  query: z.string().min(1),
  /** A DuckDB database file; by default an in-memory database that reads files. */
  database: z.string().default(':memory:'),
});

const postgresSource = z.strictObject({
  kind: z.literal('postgres'),
  query: z.string().min(1),
  /** Secret: set it with the MLOPS_PG_URL environment variable rather than in the file. */
  url: z.string().optional(),
});

/** A table name, optionally with its schema (`analytics.scores`). */
const tableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, {
  error: 'expected a table name of letters, digits and _, optionally schema.table',
});

/** Where a batch's predictions go: one file per as_of in a folder, or a table whose rows of that as_of are replaced. */
const predictSink = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('parquet'), path: z.string().min(1) }),
    z.strictObject({ kind: z.literal('csv'), path: z.string().min(1) }),
    z.strictObject({ kind: z.literal('duckdb'), database: z.string().min(1), table: tableName }),
    /** Secret: set the url with the MLOPS_PG_URL environment variable rather than in the file. */
    z.strictObject({ kind: z.literal('postgres'), table: tableName, url: z.string().optional() }),
  ],
  { error: 'expected kind: parquet, csv, duckdb or postgres' },
);

/** Batch scoring (`mlops predict`): a query's rows scored with a registry version and written to a sink. */
const predict = z.strictObject({
  source: z.discriminatedUnion('kind', [duckdbSource, postgresSource], { error: 'expected kind: duckdb or postgres' }),
  /** The columns that identify a row: written with its prediction, and unique in a batch. */
  keys: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected a column name of letters, digits and _' })).min(1),
  /** The day the batch is for (`$as_of` in the query); `--as-of` overrides it. */
  as_of: z.union([isoDate, z.literal('today')]).default('today'),
  /** `$window_start` is this many days before as_of. */
  days: z.number().int().positive().default(1),
  /** A version such as v3, or an alias; `--version` overrides it. */
  version: z.string().min(1).default('champion'),
  sink: predictSink,
});

const split = z
  .strictObject({
    seed: z.number().int().default(42),
    train: z.number().gt(0).lt(1).default(0.7),
    validation: z.number().gt(0).lt(1).default(0.15),
    test: z.number().gt(0).lt(1).default(0.15),
    /** Split by time instead of by a seeded, label-stratified shuffle: the newest rows are the test set. */
    time_column: z.string().optional(),
  })
  .refine((s) => Math.abs(s.train + s.validation + s.test - 1) < 1e-9, {
    error: (issue) => {
      const s = issue.input as { train: number; validation: number; test: number };
      return `expected train + validation + test = 1, got ${s.train} + ${s.validation} + ${s.test}`;
    },
  });

const data = z.strictObject({
  source: z.discriminatedUnion('kind', [duckdbSource, postgresSource], { error: 'expected kind: duckdb or postgres' }),
  window: z
    .strictObject({
      /** The day the batch is for. `today` in production; a fixed date reproduces a past run. */
      as_of: z.union([isoDate, z.literal('today')]).default('today'),
      days: z.number().int().positive().default(365),
    })
    .prefault({}),
  contract,
  /** Model inputs; by default every declared float, integer, category and boolean column that is not a key. */
  features: z.array(z.string()).min(1).optional(),
  split: split.prefault({}),
});

/** The model families, each a module behind the seam in src/model/family.ts and named in src/model/families.ts. */
export const modelFamilyNames = ['mlp'] as const;

const betweenZeroAndOne = 'expected a probability between 0 and 1 (exclusive), f1 or youden';

const model = z.strictObject({
  task: z.enum(['binary', 'multiclass', 'regression']).default('multiclass'),
  family: z.enum(modelFamilyNames).default('mlp'),
  /** Units of each hidden layer; [] is a linear (logistic or least-squares) model. */
  hidden: z.array(z.number().int().positive()).default([64, 32]),
  activation: z.enum(['relu', 'elu', 'selu', 'tanh', 'sigmoid', 'gelu']).default('relu'),
  dropout: z.number().min(0).lt(1).default(0),
  l2: z.number().min(0).default(0),
  optimizer: z.enum(['adam', 'sgd', 'rmsprop', 'adagrad']).default('adam'),
  learning_rate: z.number().positive().default(0.001),
  epochs: z.number().int().positive().default(100),
  batch_size: z.number().int().positive().default(32),
  /** Stop when the validation loss has not improved for this many epochs, keeping the best weights. */
  early_stopping_patience: z.number().int().positive().default(10),
  seed: z.number().int().default(42),
  /** Categories beyond the most frequent ones share the out-of-vocabulary bucket. */
  max_categories: z.number().int().positive().default(50),
  /** Train this many models on different seeds and record the spread of the gated metrics; off by default. */
  stability: z
    .strictObject({
      seeds: z.number().int().min(2, { error: 'expected at least 2 seeds (leave model.stability out to train one model)' }),
    })
    .optional(),
  /** Search the hyperparameters over a space, trial by trial on the validation split (search-schema.ts); off by default. */
  search: searchSchema.optional(),
  /** Classification: each row's loss weighted by its class's weight; `balanced` weighs classes inversely to their train counts. */
  class_weight: z
    .union(
      [
        z.literal('balanced'),
        z.record(z.string(), z.number().positive({ error: 'expected a positive weight (a class left out weighs 1)' })),
      ],
      {
        error: 'expected balanced, or a map of class to a positive weight (e.g. { fraud: 20 })',
      },
    )
    .optional(),
  /** Binary: P(second class) above it predicts the second class; `f1` or `youden` choose it on the validation split. */
  threshold: z
    .union([z.number().gt(0, { error: betweenZeroAndOne }).lt(1, { error: betweenZeroAndOne }), z.enum(['f1', 'youden'])], {
      error: betweenZeroAndOne,
    })
    .optional(),
});

/** The registry folder, relative to the config file (git-branch: the branch's working copy). */
const registryPath = z.string().default('.mlops/registry');
/**
 * A git-branch setting on a folder registry: checked, then dropped. One config file serves a laptop
 * (folder) and the workflows, which switch to git-branch with MLOPS_REGISTRY_BACKEND.
 */
const gitBranchOnly = z
  .string()
  .min(1)
  .transform((): undefined => undefined)
  .optional();

/** `folder` (the default): versions and aliases in a folder. */
const folderRegistry = z.strictObject({
  backend: z.literal('folder').default('folder'),
  path: registryPath,
  branch: gitBranchOnly,
  remote: gitBranchOnly,
});

/** `git-branch`: the same folder kept on a branch of the repository and pushed after every write: no infrastructure, for workflows. */
const gitBranchRegistry = z.strictObject({
  backend: z.literal('git-branch'),
  path: registryPath,
  /** The branch that holds the registry. */
  branch: z.string().min(1).default('mlops-registry'),
  /** The remote (a name or URL) it is fetched from and pushed to. */
  remote: z.string().min(1).default('origin'),
});

const registry = z.discriminatedUnion('backend', [folderRegistry, gitBranchRegistry], {
  // Not an object at all keeps zod's "expected object".
  error: (issue) => (issue.code === 'invalid_union' ? 'expected one of folder, git-branch' : undefined),
});

export const classificationMetricNames = ['accuracy', 'precision', 'recall', 'macro_f1', 'roc_auc', 'log_loss'] as const;
export const regressionMetricNames = ['rmse', 'mae', 'r2'] as const;
export const latencyMetricNames = ['latency_p50_ms', 'latency_p95_ms'] as const;
export const metricNames = [...classificationMetricNames, ...regressionMetricNames, ...latencyMetricNames] as const;
export type MetricName = (typeof metricNames)[number];
/** The metrics a smaller value of is better, unless a threshold's `direction` says otherwise. */
const lowerIsBetter: ReadonlySet<MetricName> = new Set<MetricName>(['log_loss', 'rmse', 'mae', 'latency_p50_ms', 'latency_p95_ms']);
/** Whether more of `metric` is better: as its gate threshold's `direction` says, else as the metric goes. */
export const higherIsBetter = (metric: MetricName, direction?: 'higher_is_better' | 'lower_is_better'): boolean =>
  (direction ?? (lowerIsBetter.has(metric) ? 'lower_is_better' : 'higher_is_better')) === 'higher_is_better';
/** The trivial models every run also scores on the test rows: the train split's class shares (or mean), and a linear model. */
export const baselineNames = ['constant', 'linear'] as const;
export type BaselineName = (typeof baselineNames)[number];

const threshold = z
  .strictObject({
    /** Value thresholds: the metric must be at least `lower` and at most `upper`. */
    lower: z.number().optional(),
    upper: z.number().optional(),
    /** Change thresholds against the champion, measured in the better direction: a negative number allows that much worse. */
    change: z
      .strictObject({ absolute: z.number().optional(), relative: z.number().optional() })
      .refine((c) => c.absolute !== undefined || c.relative !== undefined, { error: 'expected absolute and/or relative' })
      .optional(),
    /** By default log loss, errors and latencies are lower-is-better, the rest higher-is-better. */
    direction: z.enum(['higher_is_better', 'lower_is_better']).optional(),
  })
  .refine((t) => t.lower !== undefined || t.upper !== undefined || t.change !== undefined, {
    error: 'expected lower, upper and/or change',
  });

const gates = z.strictObject({
  thresholds: z.partialRecord(z.enum(metricNames), threshold),
  /** Metrics are also computed, and value thresholds checked, per value of this categorical column. */
  slice_column: z.string().optional(),
  /** Slices with fewer test rows are reported but not gated: their metrics are too noisy. */
  min_slice_rows: z.number().int().positive().default(20),
  /**
   * Change thresholds are judged on the paired bootstrap interval of the candidate-champion
   * difference at this confidence (default 0.95): they pass only when its worse end clears the bound.
   */
  confidence: z
    .number()
    .gt(0, { error: 'expected a confidence between 0 and 1, e.g. 0.95' })
    .lt(1, { error: 'expected a confidence between 0 and 1, e.g. 0.95' })
    .optional(),
  /**
   * Test rows resampled with replacement, the same draws for both models; seeded, so a decision
   * reproduces. Left out: 1000 resamples, seed 1 (defaults applied by the gate, src/gate/bootstrap.ts).
   */
  bootstrap: z
    .strictObject({
      resamples: z.number().int().min(100, { error: 'expected at least 100 resamples (1000 is the default)' }).optional(),
      seed: z.number().int().optional(),
    })
    .optional(),
  /** Value thresholds on the point estimate (default), or on the interval of the candidate's metric. */
  value_on: z.enum(['point', 'interval']).optional(),
  /**
   * When another run promoted a champion after this run's gate: judge the candidate again against
   * the new champion (`regate`, the default), or stop with a quality error naming both (`stop`).
   */
  on_champion_change: z.enum(['regate', 'stop']).optional(),
  /**
   * The candidate must beat `against` on `metric` by more than `margin`, judged on the paired
   * bootstrap interval of the difference. A rule against the constant baseline (the first gated
   * metric, margin 0) applies whether or not this is set.
   */
  baseline: z
    .strictObject({
      against: z.enum(baselineNames).default('constant'),
      metric: z.enum(metricNames).optional(),
      margin: z.number().min(0, { error: 'expected a margin >= 0: how much better than the baseline the candidate must be' }).default(0),
    })
    .optional(),
  /** With model.stability: the largest standard deviation across seeds each gated metric may have. */
  stability: z
    .strictObject({
      max_std: z.partialRecord(z.enum(metricNames), z.number().min(0, { error: 'expected a standard deviation >= 0' })),
    })
    .optional(),
});

const retryPolicy = z.strictObject({
  /** Tries in all, the first included; only transient errors are retried. */
  attempts: z.number().int().positive().default(3),
  /** The first wait; each retry waits twice as long, up to the maximum, less a random jitter of up to half. */
  backoff_seconds: z.number().min(0).default(2),
  max_backoff_seconds: z.number().min(0).default(60),
});

const slo = z.strictObject({
  retry: retryPolicy.prefault({}),
  /** Per-step overrides of the retry policy, e.g. more attempts for a flaky warehouse. */
  steps: z.partialRecord(z.enum([...stepNames, 'predict']), retryPolicy.partial()).default({}),
});

const notify = z.strictObject({
  /** A Slack-compatible incoming webhook. Secret: set it with MLOPS_WEBHOOK_URL rather than in the file. */
  webhook: z.strictObject({ url: z.url().optional() }).prefault({}),
  /**
   * In a workflow (GITHUB_TOKEN and GITHUB_REPOSITORY set): a failed run opens one issue per workflow
   * and step with this label, or comments on the one already open; the next success closes it.
   */
  github: z.strictObject({ issues: z.boolean().default(true), label: z.string().min(1).default('mlops-alert') }).prefault({}),
});

const image = z.strictObject({
  /**
   * The image the prediction server is built on: any image with `node` on its PATH, e.g.
   * node:20-bookworm-slim. Where nothing can be pulled, `mlops image base --from-host` builds one
   * from this machine's node binary under the name below.
   */
  base: z.string().min(1).default('mlops-node-base:host'),
  /** The repository the prediction image is tagged into; the tag is the model version. */
  name: z
    .string()
    .regex(/^[a-z0-9]+([._/-][a-z0-9]+)*$/, 'expected a lower-case image name such as penguins-server')
    .optional(),
  /** The registry to push to, e.g. ghcr.io/OWNER or 127.0.0.1:5000; none keeps the image local. */
  registry: z.string().optional(),
});

const port = z.number().int().min(1).max(65535);

export const releaseModes = ['direct', 'shadow', 'canary'] as const;
export type ReleaseModeName = (typeof releaseModes)[number];
/** How long a shadow or canary stage lasts: until min_requests reached the new server, or duration (seconds) passed. */
const stage = {
  duration: z.number().positive().optional(),
  min_requests: z.number().int().positive().optional(),
};

export const proxyKeys = z.strictObject({
  /** Clients send predictions here; the proxy balances them over the healthy servers. */
  port: port.default(8000),
  /** The address it listens on: 127.0.0.1 keeps it to the machine, 0.0.0.0 serves the network. */
  host: z.string().min(1).default('127.0.0.1'),
  /** How often the proxy checks each server's /ready. */
  health_interval_seconds: z.number().positive().default(1),
  /** The longest a client waits for a server's answer, one retry on another server included; then 504. */
  upstream_timeout_ms: z.number().int().positive().default(10_000),
});

const deployKeys = z.strictObject({
  /**
   * Where a blessed model is released: `local` runs prediction servers as processes on 127.0.0.1
   * (no Docker needed), `docker` runs its image as containers on DOCKER_HOST, `swarm` as a Swarm
   * service of `replicas` tasks spread over the nodes of the swarm DOCKER_HOST manages, `none` only
   * records it.
   */
  // The targets are those of target-support.ts, read at each parse: a registered one counts too.
  target: z
    .string()
    .refine((t) => t === 'none' || targetSupport(t) !== undefined, {
      error: () => `expected one of ${[...deployTargets(), 'none'].join(', ')}`,
    })
    .default('local'),
  proxy: proxyKeys.prefault({}),
  /** swarm: the tasks of each version; `mlops scale <n>` changes it on the live one. */
  replicas: z.number().int().min(1).default(2),
  swarm: z
    .strictObject({
      /** The most tasks a version may scale to: it reserves this many ports of deploy.ports, one per task slot. */
      max_replicas: z.number().int().min(1).default(8),
      /** CPUs and memory each task may use (Swarm's resource limits); none by default. */
      cpus: z.number().positive().optional(),
      memory_mb: z.number().int().positive().optional(),
      /** How long Swarm watches an updated task before it counts the update as good (update and rollback config). */
      monitor_seconds: z.number().positive().default(10),
      /**
       * Times Swarm restarts a task's slot before it gives up on it; 0, Swarm's default, never gives
       * up. Moving the task of a node that went down counts as a restart: a limit here would leave a
       * slot unserved after that many node failures over the service's life.
       */
      max_restarts: z.number().int().min(0).default(0),
    })
    .prefault({}),
  /** Prediction servers listen on the first free port of [first, last]. */
  ports: z
    .tuple([port, port], { error: 'expected [first, last]' })
    .refine(([a, b]) => a <= b, { error: 'expected first <= last' })
    .default([8100, 8199]),
  /** A new server that is not healthy and ready within this time is removed, and the rollout fails. */
  ready_timeout_seconds: z.number().positive().default(60),
  /**
   * How a blessed model goes live: `direct` swaps it in at once; `shadow` first mirrors live
   * predictions to it (clients see only the champion); `canary` first sends it a share of them.
   * Either stage ends in deploy.verdict: pass rolls it out, fail removes it.
   */
  release: z.enum(releaseModes).default('direct'),
  shadow: z
    .strictObject({
      /** The share of /predict requests mirrored to the new server. */
      share: z.number().min(0).max(1).default(1),
      ...stage,
    })
    .prefault({}),
  canary: z
    .strictObject({
      /** The share of /predict requests the new server answers; its failures are retried on the champion. */
      weight: z.number().gt(0, 'expected a share in (0, 1)').lt(1, 'expected a share in (0, 1)').default(0.1),
      ...stage,
    })
    .prefault({}),
  verdict: z
    .strictObject({
      /** Most failed answers of the new server, as a share of the requests it got. */
      max_error_rate: z.number().min(0).max(1).default(0.01),
      /** Its p99 latency over the champion's, on the same stage. */
      max_p99_latency_ratio: z.number().positive().default(2),
      /** A p99 within this many ms of the champion's passes whatever the ratio: at sub-millisecond times a ratio measures noise. */
      latency_slack_ms: z.number().min(0).default(5),
      /** Least share of predicted labels equal to the champion's (shadow, classification). */
      min_agreement: z.number().min(0).max(1).default(0.95),
      /** Largest mean absolute difference from the champion's values (shadow, regression), in the target's unit: no default. */
      max_mean_abs_diff: z.number().min(0).optional(),
    })
    .prefault({}),
  retire: z
    .strictObject({
      /** Stopped previous servers kept for a fast rollback. */
      keep: z.number().int().min(0).default(2),
      /** Stopped servers older than this are removed even when within `keep`. */
      ttl_hours: z.number().positive().default(168),
    })
    .prefault({}),
});

/** A staged release must end: by time, by traffic, or both. */
const deploy = deployKeys.superRefine((d, ctx) => {
  if (d.replicas > d.swarm.max_replicas)
    ctx.addIssue({
      code: 'custom',
      path: ['replicas'],
      message: `${d.replicas} is over deploy.swarm.max_replicas (${d.swarm.max_replicas}): raise that too`,
    });
  if (d.release === 'direct') return;
  const refused = stagesRefused(d.target, d.release);
  if (refused) ctx.addIssue({ code: 'custom', path: ['release'], message: refused });
  const stage = d[d.release];
  if (stage.duration === undefined && stage.min_requests === undefined)
    ctx.addIssue({
      code: 'custom',
      path: [d.release],
      message: `a ${d.release} release needs an end: set deploy.${d.release}.duration (seconds) or deploy.${d.release}.min_requests`,
    });
  if (d.release === 'shadow' && d.shadow.share === 0)
    ctx.addIssue({ code: 'custom', path: ['shadow', 'share'], message: 'a shadow of share 0 sees no request: expected a share in (0, 1]' });
});

/** When a served prediction is answered, against when its log lines are written. */
export const logAcks = ['queue', 'write'] as const;
export type LogAck = (typeof logAcks)[number];

export const servingKeys = z.strictObject({
  port: z.number().int().min(0).max(65535).default(8080),
  /** Most records one `{"instances": [...]}` request may carry. */
  max_batch: z.number().int().positive().default(1024),
  /** Larger request bodies are refused with 413. */
  max_body_bytes: z.number().int().positive().default(1_048_576),
  /** model-load mode: how often to look for a new champion. */
  poll_seconds: z.number().positive().default(30),
  /** On SIGTERM, keep answering this long (telling clients to close) before closing the listener: requests already on their way still land. */
  shutdown_grace_seconds: z.number().min(0).default(1),
  /** Drift is measured over the last this many predictions. */
  drift_window: z.number().int().positive().default(1000),
  /** A record with a numeric feature this many standard deviations from the train mean is an outlier. */
  outlier_z: z.number().positive().default(4),
  log: z
    .strictObject({
      /** The prediction log, JSON lines, relative to the config file. */
      path: z.string().default('.mlops/predictions/predictions.jsonl'),
      /** Rotate when the file passes this size; keep this many rotated files. */
      max_bytes: z
        .number()
        .int()
        .positive()
        .default(50 * 1024 * 1024),
      max_files: z.number().int().positive().default(5),
      /**
       * Predictions handed to the writer and not yet on disk; past this, new ones are dropped and
       * counted, never buffered without bound. It must cover a turn of the event loop, which under
       * load serves every connection once: 50 connections of 256-record batches is 12,800.
       */
      queue: z.number().int().positive().default(100_000),
      /** Input fields written as "[redacted]". */
      redact: z.array(z.string()).default([]),
      /**
       * When a prediction is answered: `queue` (at once; a kill -9 loses what the writer has not
       * written yet), or `write` (once its lines are in the file; one the log cannot take gets 503).
       */
      ack: z.enum(logAcks).default('queue'),
    })
    .prefault({}),
  /** POST /predict?explain=true: per-column attributions of each prediction (integrated gradients against the train means). */
  explain: z
    .strictObject({
      /** Points on the path from the train means to the record; more is closer to exact, and slower. */
      steps: z.number().int().min(4, { error: 'expected at least 4 steps (20 is the default)' }).max(1000).default(20),
      /** Whether the prediction log keeps the attributions; off by default, the response alone carries them. */
      log: z.boolean().default(false),
    })
    .prefault({}),
});

/** A span of time such as `30m`, `1h` or `7d`. */
export const durationPattern = /^([1-9]\d*)([mhd])$/;

const monitoring = z.strictObject({
  /** `mlops monitor` judges the predictions logged in the last this long, e.g. 30m, 1h, 7d (`--window` overrides it). */
  window: z.string().regex(durationPattern, { error: 'expected a duration such as 30m, 1h or 7d' }).default('1h'),
  /**
   * Fewer predictions than this in the window and a version's drift, outlier rate and class shift
   * are not judged; fewer requests, and its error rate and latency are not: they would be noise.
   */
  min_volume: z.number().int().positive().default(500),
  /** A version breaches when a value is above its threshold; each breach alerts. */
  thresholds: z
    .strictObject({
      /** Population stability index of a feature against the training reference (0.1 moderate, 0.25 major shift). */
      psi: z.number().positive().default(0.2),
      /** Share of predictions with a numeric feature beyond serving.outlier_z standard deviations. */
      outlier_rate: z.number().min(0).max(1).default(0.05),
      /** Share of /predict requests answered 4xx or 5xx. */
      error_rate: z.number().min(0).max(1).default(0.05),
      /** 99th percentile of the server's own time per successful request. */
      latency_p99_ms: z.number().positive().default(100),
      /** PSI of the predicted classes against the training label distribution. */
      class_psi: z.number().positive().default(0.2),
    })
    .prefault({}),
});

/** When a registry version stops being fit to serve (`mlops reevaluate`, on a schedule). */
const retirement = z.strictObject({
  /** A version registered longer ago than this is retired, whatever its scores. */
  max_age_days: z.number().positive().default(90),
  /** Fewer fresh labelled rows than this after a version's training window, and it is not judged. */
  min_rows: z.number().int().positive().default(50),
  /** After a retirement, train again: dispatch `workflow` in GitHub Actions, run the pipeline locally. */
  retrain: z.boolean().default(true),
  workflow: z.string().min(1).default('train.yml'),
});

const latency: ReadonlySet<string> = new Set(latencyMetricNames);
/** The metrics model.stability measures across seeds: the gated ones, latencies aside (they measure the machine, not the model). */
export const stabilityMetrics = (cfg: Pick<Config, 'gates'>): MetricName[] =>
  (Object.keys(cfg.gates?.thresholds ?? {}) as MetricName[]).filter((m) => !latency.has(m));

export const configSchema = z
  .strictObject({
    version: z.literal(1, { error: 'expected version: 1' }),
    project: z.string().min(1),
    /** Where runs write their artifacts, relative to the config file. */
    workdir: z.string().default('.mlops'),
    data,
    model: model.prefault({}),
    gates: gates.optional(),
    registry: registry.prefault({}),
    image: image.prefault({}),
    deploy: deploy.prefault({}),
    serving: servingKeys.prefault({}),
    monitoring: monitoring.prefault({}),
    retirement: retirement.prefault({}),
    predict: predict.optional(),
    slo: slo.prefault({}),
    notify: notify.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const columns = cfg.data.contract.columns;
    const labels = Object.keys(columns).filter((c) => columns[c]!.type === 'label');
    if (labels.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['data', 'contract', 'columns'],
        message: `expected exactly one column of type label, got ${labels.length}${labels.length ? ` (${labels.join(', ')})` : ''}`,
      });
    }
    // A classification label is text: a range, or numeric allowed values on a regression label, cannot be checked.
    for (const l of labels) {
      const col = columns[l]!;
      if (col.range && cfg.model.task !== 'regression') {
        ctx.addIssue({
          code: 'custom',
          path: ['data', 'contract', 'columns', l, 'range'],
          message: `a range applies to the label of a regression task, not ${cfg.model.task}`,
        });
      }
      for (const key of ['max_length', 'max_categories'] as const)
        if (col[key] !== undefined && cfg.model.task === 'regression')
          ctx.addIssue({
            code: 'custom',
            path: ['data', 'contract', 'columns', l, key],
            message: `${key} applies to the label of a classification task, not regression`,
          });
      if (col.values && cfg.model.task === 'regression' && !col.values.every((v) => typeof v === 'number')) {
        ctx.addIssue({
          code: 'custom',
          path: ['data', 'contract', 'columns', l, 'values'],
          message: 'allowed values of a regression label must be numbers',
        });
      }
    }
    for (const [i, f] of (cfg.data.features ?? []).entries()) {
      if (!columns[f])
        ctx.addIssue({ code: 'custom', path: ['data', 'features', i], message: `"${f}" is not a column of data.contract.columns` });
      else if (columns[f].type === 'label')
        ctx.addIssue({ code: 'custom', path: ['data', 'features', i], message: `"${f}" is the label, not a feature` });
    }
    const allowed: readonly string[] = [
      ...(cfg.model.task === 'regression' ? regressionMetricNames : classificationMetricNames),
      ...latencyMetricNames,
    ];
    for (const metric of Object.keys(cfg.gates?.thresholds ?? {})) {
      if (!allowed.includes(metric)) {
        ctx.addIssue({
          code: 'custom',
          path: ['gates', 'thresholds', metric],
          message: `${metric} is not a ${cfg.model.task} metric; expected one of ${allowed.join(', ')}`,
        });
      }
    }
    if (cfg.model.class_weight !== undefined && cfg.model.task === 'regression')
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'class_weight'],
        message: 'class weights apply to a classification task, not regression; remove model.class_weight',
      });
    if (cfg.model.threshold !== undefined && cfg.model.task !== 'binary')
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'threshold'],
        message: `a decision threshold applies to a binary task, not ${cfg.model.task}; remove model.threshold${cfg.model.task === 'multiclass' ? ' (a multiclass model predicts its most probable class)' : ''}`,
      });
    const gated = stabilityMetrics(cfg);
    const baselineMetric = cfg.gates?.baseline?.metric;
    if (baselineMetric && (!allowed.includes(baselineMetric) || latency.has(baselineMetric)))
      ctx.addIssue({
        code: 'custom',
        path: ['gates', 'baseline', 'metric'],
        message: `${baselineMetric} is not a metric of a ${cfg.model.task} model's predictions; expected one of ${allowed.filter((m) => !latency.has(m)).join(', ')}`,
      });
    if (cfg.model.stability && gated.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'stability', 'seeds'],
        message: `the spread is measured on the gated metrics, and gates.thresholds has none; add one of ${allowed.filter((m) => !latency.has(m)).join(', ')}`,
      });
    }
    for (const metric of Object.keys(cfg.gates?.stability?.max_std ?? {})) {
      if (!cfg.model.stability) {
        ctx.addIssue({
          code: 'custom',
          path: ['gates', 'stability', 'max_std', metric],
          message: 'a spread needs several seeds: set model.stability.seeds (2 or more)',
        });
      } else if (!gated.includes(metric as MetricName)) {
        ctx.addIssue({
          code: 'custom',
          path: ['gates', 'stability', 'max_std', metric],
          message: `${metric} is not a gated metric; expected one of ${gated.join(', ')} (the keys of gates.thresholds, latencies aside)`,
        });
      }
    }
    const slice = cfg.gates?.slice_column;
    if (slice !== undefined && columns[slice]?.type !== 'category') {
      ctx.addIssue({
        code: 'custom',
        path: ['gates', 'slice_column'],
        message: `"${slice}" is not a category column of data.contract.columns`,
      });
    }
    const t = cfg.data.split.time_column;
    if (t !== undefined && columns[t]?.type !== 'timestamp') {
      ctx.addIssue({
        code: 'custom',
        path: ['data', 'split', 'time_column'],
        message: `"${t}" is not a timestamp column of data.contract.columns`,
      });
    }
  });

export type Config = z.output<typeof configSchema>;
export type DataConfig = Config['data'];
export type ContractConfig = DataConfig['contract'];
export type ColumnConfig = ContractConfig['columns'][string];
export type PredictConfig = NonNullable<Config['predict']>;
export type PredictSinkConfig = PredictConfig['sink'];

/** The one column of type label (the schema guarantees there is exactly one). */
export const labelOf = (config: Config): string =>
  Object.keys(config.data.contract.columns).find((c) => config.data.contract.columns[c]!.type === 'label')!;
