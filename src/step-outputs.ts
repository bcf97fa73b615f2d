import type { BaselineName, Config, MetricName, PredictSinkConfig } from './config/schema.js';
import type { SplitName } from './data/split.js';
import type { Window } from './data/window.js';
import type { ErrorClass } from './errors.js';
import type { Metrics } from './evaluate/metrics.js';
import type { BackendName } from './model/backend.js';
import type { Importance } from './model/card-fields.js';
import type { HostProcess } from './processes.js';
import type { VersionManifest } from './registry/schemas.js';

/**
 * What each step hands to the steps after it, and what a run records: types only. The schemas of
 * the files they are written to (artifact-files.ts) are typed against them, and the steps, reports
 * and adapters import them from here, so that no step's module needs another's to name its outputs.
 */

/** What the step leaves in `<run>/extract/extract.json` for the steps after it. */
export interface ExtractOutputs {
  window: Window;
  source: Config['data']['source']['kind'];
  label: string;
  task: Config['model']['task'];
  features: string[];
  /** Output columns and their types, in order. */
  schema: Record<string, string>;
  rows: { read: number; clean: number; quarantined: number };
  split: Record<SplitName, number>;
  /** sha256 of the clean rows and their schema: the data's identity for lineage (the split follows from it and the seed). */
  dataHash: string;
  /** File names inside the step folder. */
  files: Record<SplitName | 'quarantine' | 'report', string>;
}

/** The contract report, `contract.json`. */
export interface ContractReport {
  window: Window;
  rows: { read: number; clean: number; quarantined: number; quarantinedShare: number };
  maxQuarantineRatio: number;
  columns: Record<string, { type: string; sourceType: string; coerced: number; missing: number; violations: Record<string, number> }>;
  /** `column:rule` -> rows that broke it, most frequent first. */
  rules: Record<string, number>;
  undeclaredColumns: string[];
  /** sha256 of the clean rows and their schema: the data's identity for lineage. */
  dataHash: string;
}

export interface DeployOutputs {
  target: string;
  version: string;
  /** Where clients send predictions. */
  proxy: string;
  server: Server;
  /** Servers stopped (kept for rollback) and removed by the retirement policy. */
  stopped: string[];
  removed: string[];
  /** From starting the new server to the old ones out of rotation. */
  seconds: number;
  /** The shadow or canary stage before the full rollout, with its verdict (deploy.release). */
  release?: ReleaseReport;
}

export type ReleaseMode = 'shadow' | 'canary';

/** One side of a staged release, as the proxy measured it on /predict requests. */
export interface ReleaseSide {
  requests: number;
  /** Answers that failed: unreachable, timed out, 5xx, or a 4xx where the champion answered. */
  errors: number;
  p50_ms: number | null;
  p99_ms: number | null;
}

/** What the proxy measured in a shadow or canary stage (its GET /release). */
export interface ReleaseComparison {
  mode: ReleaseMode;
  candidate_url: string;
  /** The share of requests mirrored (shadow) or sent (canary) to the candidate. */
  share: number;
  seconds: number;
  champion: ReleaseSide;
  candidate: ReleaseSide;
  /** Prediction rows both answered (shadow only). */
  pairs: number;
  /** Share of paired rows with the same predicted label; null when none were compared (canary, regression). */
  agreement: number | null;
  /** Mean absolute difference of paired regression values; null for classification. */
  mean_abs_diff: number | null;
  /** Set by the deployer when the new server dropped out of the proxy's rotation and the stage ended early. */
  left_rotation?: string;
}

/** `deploy/release.json`: the comparison and what deploy.verdict made of it. */
export interface ReleaseReport extends ReleaseComparison {
  version: string;
  champion_version: string | null;
  error_rate: number | null;
  p99_ratio: number | null;
  /** The deploy.verdict thresholds it was judged by. */
  thresholds: Config['deploy']['verdict'];
  passed: boolean;
  /** Each threshold missed, with the numbers. */
  failures: string[];
}

/** One prediction server of the project: a local process or a container. */
export interface Server {
  /** Unique within the project, e.g. `v3-8101`; the proxy knows the server by it. */
  id: string;
  version: string;
  port: number;
  url: string;
  running: boolean;
  /** When it last started or stopped: retirement keeps the newest stopped ones. */
  since: string;
}

export interface RetiredServers {
  /** Servers of retired versions taken away. */
  removed: string[];
  /** The version rolled out because only retired versions were serving. */
  replacedBy?: DeployOutputs;
  /** Retired servers left serving: nothing else could, so they stay until a new model is trained. */
  kept: string[];
}

export type MetricValues = Metrics & { latency_p50_ms?: number; latency_p95_ms?: number };

export interface ModelEvaluation {
  metrics: MetricValues;
  /** Per value of `gates.slice_column`: its rows and metrics. */
  slices: Record<string, { rows: number; metrics: Metrics }>;
}

/** `evaluation.json`: the candidate on the test split, and the champion re-scored on the very same rows. */
export interface EvaluateOutputs extends ModelEvaluation {
  rows: number;
  sliceColumn?: string;
  champion?: ModelEvaluation & { version: string };
  /** The champion that could not be compared, and why (`reason` follows "the champion vN"). */
  championSkipped?: { version: string; reason: string };
  /** The trivial models on the same test rows (whole split only), or why one is missing. */
  baselines?: Baselines<{ metrics: Metrics } | { skipped: string }>;
  /** Binary, with model.threshold: the candidate's decision threshold, at which its metrics are. */
  threshold?: number;
  /** The candidate's permutation importance on the test rows, as in its model card. */
  importance?: Importance;
}

/** Something per baseline model: the constant one always, the linear one unless it could not be trained. */
export type Baselines<T> = { constant: T } & Partial<Record<Exclude<BaselineName, 'constant'>, T>>;

/**
 * `evaluate/predictions.json`: what the gate's bootstrap resamples instead of re-running the
 * models: per test row, its label, its slice and each model's prediction, in the test split's order.
 */
export interface TestPredictions {
  task: 'binary' | 'multiclass' | 'regression';
  /** Values per row in `candidate` and `champion`: the class count, or 1 for regression. */
  width: number;
  /** The class index per row, or the regression target. */
  labels: number[];
  /** With `gates.slice_column`: the slice values, and each row's index into them. */
  slices?: { keys: string[]; of: number[] };
  /** Row-major class probabilities (rows x width), or the regression value per row. */
  candidate: number[];
  champion?: number[];
  /** Each baseline's predictions, in the candidate's layout. */
  baselines?: Baselines<number[]>;
  /** Binary: the decision threshold of each model saved with one (model.threshold); the others predict their most probable class. */
  thresholds?: Partial<Record<'candidate' | 'champion' | BaselineName, number>>;
}

/** One production version, judged on the labelled rows that arrived after its training window. */
export interface Verdict {
  version: string;
  /** Why it was not judged on data (too few fresh rows, say); an age retirement needs no data. */
  skipped?: string;
  window?: Window;
  rows?: number;
  metrics?: MetricValues;
  /** The gate's value thresholds, on the fresh rows. */
  rules?: RuleResult[];
  retired?: Retirement;
}

export interface ReevaluateOutputs {
  asOf: string;
  verdicts: Verdict[];
  /** What happened to the servers of the versions retired. */
  servers?: RetiredServers;
  /** The training run started, or the workflow dispatched, to replace them. */
  retrain?: string;
}

/**
 * A retired version is unfit to serve: too old, or it failed re-evaluation on fresh data. The
 * registry records when and why in the version's tags (its manifest never changes); deploy takes
 * its servers away and will not release it again.
 */
export interface Retirement {
  at: string;
  reason: string;
}

export interface RuleResult {
  metric: MetricName;
  /** `all` or `<slice column>=<value>`. */
  scope: string;
  rule: 'lower' | 'upper' | 'change.absolute' | 'change.relative' | 'baseline';
  /** What was held against the bound; null when the rule could not be judged. */
  value: number | null;
  bound: number;
  /** For change rules: the champion's value. */
  champion?: number | null;
  /** For a baseline rule: the baseline beaten (or not) and its value; `value` is then the candidate's lead over it. */
  baseline?: { name: BaselineName; value: number | null };
  /**
   * Where the rule was judged on the paired bootstrap: the interval of `value` (for a change rule,
   * the candidate-champion difference in the metric's better direction) and the end held against
   * the bound. Absent for a rule judged on the point estimate alone.
   */
  interval?: { low: number; high: number; confidence: number; resamples: number; held: number };
  /** The test rows the rule was judged on. */
  rows?: number;
  /** The point estimate clears the bound but the interval does not: the rows cannot tell the models apart. */
  undecided?: string;
  /** The rule lets the model through. */
  passed: boolean;
  /**
   * Why the rule could not be judged: a value that is missing, NaN or infinite, or a slice too small.
   * On the whole test set that fails the rule; on a slice it is reported and does not.
   */
  notJudged?: string;
}

export interface Decision {
  /** The model may be released: every rule passed, or a release was forced. */
  blessed: boolean;
  /** Every rule passed. */
  passed: boolean;
  forced?: { reason: string };
  championVersion?: string;
  note?: string;
  /** How the intervals were drawn, when any rule was judged on them. */
  bootstrap?: { confidence: number; resamples: number; seed: number; valueOn: 'point' | 'interval' };
  rules: RuleResult[];
}

export interface BuildOutputs {
  /** `[registry/]name:version` */
  image: string;
  id: string;
  sizeBytes: number;
  base: string;
  modelVersion: string;
  labels: Record<string, string>;
}

export interface PushOutputs {
  image: string;
  /** `sha256:…`, the manifest digest the registry stored. */
  digest: string;
  /** `repository@digest`: the immutable reference a deployment should use. */
  reference: string;
}

export interface TrainOutputs {
  backend: BackendName;
  epochs: number;
  bestEpoch: number;
  valLoss: number;
  samplesPerSecond: number;
  /** The model folder: model.json, weights.bin, preprocess.json, metadata.json. */
  modelDir: string;
  /** With model.stability: the seeds trained, the one released, and each gated metric's spread on the validation split. */
  stability?: StabilitySummary;
  /** Binary, with model.threshold: the decision threshold, how it was set, and the metrics at it and at 0.5 where it was chosen. */
  threshold?: ThresholdChoice;
  /**
   * What evaluate scores the baselines with: the constant prediction (class shares, or the mean) and
   * the linear model's folder, or why it could not be trained.
   */
  baselines: { constant: number[]; linear: { modelDir: string } | { skipped: string } };
}

/** model.threshold as train set it (the model card's `threshold`). */
export interface ThresholdChoice {
  rule: 'fixed' | 'f1' | 'youden';
  /** The second class: predicted when its probability is above `value`. */
  positive: string;
  value: number;
  /** Where it was chosen: the validation split, or the train split when there is none. */
  split: 'validation' | 'train';
  rows: number;
  /** accuracy, precision, recall (of the second class) and macro_f1 at the threshold, and at 0.5. */
  metrics: Record<string, number>;
  atDefault: Record<string, number>;
}

/** A metric across the seeds of model.stability; `std` is the sample standard deviation. */
export interface Spread {
  mean: number;
  std: number;
  min: number;
  max: number;
}

export interface StabilitySummary {
  seeds: number[];
  /** The seed released: the one closest to the median of `by`. */
  seed: number;
  by: MetricName;
  spread: Partial<Record<MetricName, Spread>>;
}

export interface RecordOutputs {
  version: string;
  /** The version became the champion now (deploy.target none); otherwise deploy promotes it. */
  promoted: boolean;
  manifest: VersionManifest;
}

/** A batch's predictions and inputs counted as the monitor counts served ones: what drift and class shift are judged on. */
export interface BatchCounts {
  rows: number;
  /** Rows whose outlier score is above serving.outlier_z. */
  outliers: number;
  /** Predictions per class (classification). */
  classes?: Record<string, number>;
  /** The predicted values' range and sum (regression). */
  values?: { min: number; max: number; sum: number };
  /** Per feature, its values counted in the bins of the model card's reference (missing values in none). */
  features: Record<string, number[]>;
}

/** `predict/predict.json`: what a batch scored, where it went, and how its predictions compare with training. */
export interface PredictOutputs {
  runId: string;
  window: Window;
  version: string;
  /** How the model predicted (the MLP: `dense` or `tfjs`). */
  engine: string;
  source: Config['data']['source']['kind'];
  sink: { kind: PredictSinkConfig['kind']; where: string };
  scoredAt: string;
  rows: { read: number; quarantined: number; scored: number; written: number };
  quarantinedShare: number;
  /** `column:rule` -> quarantined rows that broke it, most frequent first. */
  rules: Record<string, number>;
  /** Classification: per class, the rows predicted, their share, and the class's share of the training labels. */
  classes?: Record<string, { predicted: number; share: number; training: number | null }>;
  /** Regression: the predicted values' range and mean. */
  values?: { min: number; max: number; mean: number };
  outlierRate: number | null;
  seconds: { score: number; write: number; total: number };
  /** What the monitor counts of the batch. */
  counts: BatchCounts;
}

/** `unchanged`: extract found the champion's own data, config and code, so nothing was trained. */
export type RunStatus = 'running' | 'succeeded' | 'rejected' | 'failed' | 'unchanged';

export type StepStatus = 'running' | 'succeeded' | 'failed' | 'skipped';

export interface StepRecord {
  name: string;
  status: StepStatus;
  attempts: number;
  startedAt: string;
  durationMs?: number;
  errorClass?: ErrorClass | 'internal';
  message?: string;
  /** The step's folder in the run, where its artifacts are. */
  artifacts: string;
}

/** `<run>/run.json`: what a run did, step by step, so it can be troubleshot and rekicked. */
export interface RunRecord {
  runId: string;
  project: string;
  status: RunStatus;
  startedAt: string;
  finishedAt?: string;
  /** `predict` for a batch scoring run; a training run has none. */
  kind?: 'predict';
  /** What the run was asked to do, so a rekick does the same. */
  options: { asOf?: string; force?: { reason: string }; retrain?: boolean; version?: string };
  steps: StepRecord[];
  /** The process at work on the run, from when it opened the ledger: one gone while `running` was killed. */
  process?: HostProcess;
}

/** A run that ended after extract: the champion was trained on this very data, config and code. */
export interface UnchangedRun {
  extract: ExtractOutputs;
  /** The champion's version. */
  unchanged: string;
}

export interface PipelineResult {
  extract: ExtractOutputs;
  train: TrainOutputs;
  evaluate: EvaluateOutputs;
  decision: Decision;
  /** Present when the model was blessed and recorded. */
  record?: RecordOutputs;
  /** Present when the deploy target needed them and the model was blessed. */
  build?: BuildOutputs;
  push?: PushOutputs;
  deploy?: DeployOutputs;
}
