import { count, measure } from './format.js';
import type { ExtractOutputs } from './step-outputs.js';
import { thresholdText } from './model/threshold.js';
import { interruption, type RunView } from './runs/interrupted.js';
import type { Decision, EvaluateOutputs, PipelineResult, RuleResult, TrainOutputs, UnchangedRun } from './step-outputs.js';

/** The models an evaluation scored on the same test rows, by column name: candidate, champion, then each baseline trained. */
export function scoredModels(ev: EvaluateOutputs): [string, Record<string, unknown> | undefined][] {
  const baselines = Object.entries(ev.baselines ?? {}).map(([name, b]) => [name, 'metrics' in b ? b.metrics : undefined] as const);
  return [
    ['candidate', ev.metrics as unknown as Record<string, unknown>],
    [`champion${ev.champion ? ` ${ev.champion.version}` : ''}`, ev.champion?.metrics as unknown as Record<string, unknown> | undefined],
    ...baselines.map(([name, m]): [string, Record<string, unknown> | undefined] => [
      name,
      m as unknown as Record<string, unknown> | undefined,
    ]),
  ];
}

/** The baselines that could not be scored, and why: `linear baseline not trained: …`. */
export const skippedBaselines = (ev: EvaluateOutputs): string[] =>
  Object.entries(ev.baselines ?? {}).flatMap(([name, b]) => ('skipped' in b ? [`${name} baseline not trained: ${b.skipped}`] : []));

/** The metrics table: the candidate beside the champion and the baselines, scored on the same test rows. */
export function metricsTable(ev: EvaluateOutputs): string[] {
  const models = scoredModels(ev);
  const rows = Object.keys(ev.metrics).filter((k) => k !== 'confusion');
  const width = Math.max(...rows.map((k) => k.length));
  return [
    [`${'metric'.padEnd(width)}`, ...models.map(([name]) => name.padStart(9))].join('  '),
    ...rows.map((k) => [k.padEnd(width), ...models.map(([name, m]) => measure(m?.[k]).padStart(Math.max(9, name.length)))].join('  ')),
    ...skippedBaselines(ev),
    ...(ev.threshold !== undefined ? [candidateThreshold(ev.threshold)] : []),
  ];
}

/** Under the metrics, with model.threshold: what the candidate's class decisions were made at. */
export const candidateThreshold = (value: number) =>
  `The candidate decides at its threshold ${+value.toPrecision(4)} (model.threshold): accuracy, precision, recall and macro_f1 are at it`;

/** The gate's verdict in a few words: `PASSED against champion v2`, `REJECTED, released anyway (forced: …)`. */
export function verdict(decision: Decision): string {
  const word = decision.passed ? 'PASSED' : decision.forced ? `REJECTED, released anyway (forced: ${decision.forced.reason})` : 'REJECTED';
  return `${word}${decision.championVersion ? ` against champion ${decision.championVersion}` : ''}`;
}

/** A confidence as people write it: `95%`. */
/** Why the champion was not compared, as a clause: "the champion v3 predicts a different task …". */
export const skippedText = ({ version, reason }: NonNullable<EvaluateOutputs['championSkipped']>) => `the champion ${version} ${reason}`;

export const percent = (confidence: number) => `${+(confidence * 100).toFixed(2)}%`;

/** A rule's interval in a few words: `95% interval [-0.0400, 0.0800] on 50 test rows`. */
export const intervalText = (r: RuleResult) =>
  r.interval
    ? `${percent(r.interval.confidence)} interval [${measure(r.interval.low)}, ${measure(r.interval.high)}] on ${count(r.rows ?? 0)} test rows`
    : '';

/**
 * A rule in a few words: `accuracy (all) lower: 0.7512 vs bound 0.8000`, or why it was not judged.
 * A rule judged on an interval shows the point estimate, the interval and the end held to the bound.
 */
export function ruleText(r: RuleResult): string {
  const held = r.notJudged
    ? `not judged, ${r.notJudged}`
    : r.interval
      ? `${measure(r.value)}, ${intervalText(r)}: ${measure(r.interval.held)} vs bound ${measure(r.bound)}`
      : `${measure(r.value)} vs bound ${measure(r.bound)}`;
  const champion = r.champion !== undefined ? ` (champion ${measure(r.champion)})` : '';
  const baseline = r.baseline ? ` (${r.baseline.name} ${measure(r.baseline.value)})` : '';
  return `${r.metric} (${r.scope}) ${ruleName(r)}: ${held}${champion}${baseline}${r.undecided ? `; ${r.undecided}` : ''}`;
}

/** A rule's name, with the baseline it is against: `lower`, `baseline constant`. */
export const ruleName = (r: RuleResult) => (r.baseline ? `${r.rule} ${r.baseline.name}` : r.rule);

/** How the intervals were drawn: `change thresholds on the paired bootstrap: 95% intervals, 1,000 resamples (seed 1)`. */
export const bootstrapText = ({ confidence, resamples, seed, valueOn }: NonNullable<Decision['bootstrap']>) =>
  `${valueOn === 'interval' ? 'change, baseline and value' : 'change and baseline'} thresholds judged on paired bootstrap intervals: ${percent(confidence)}, ${count(resamples)} resamples of the test rows (seed ${seed})`;

/** A rule's outcome: FAIL, pass, or not judged on a slice (reported, not failing). */
export const ruleStatus = (r: RuleResult) => (!r.passed ? 'fail' : r.notJudged ? 'not judged' : 'pass');

/** Failures first, then the rules not judged, then the passes. */
export const byStatus = (rules: RuleResult[]) => {
  const order = { fail: 0, 'not judged': 1, pass: 2 };
  return [...rules].sort((a, b) => order[ruleStatus(a)] - order[ruleStatus(b)]);
};

/** Every gate rule with its value, bound and outcome, failures first. */
export function decisionLines(decision: Decision): string[] {
  return [
    `gate ${verdict(decision)}`,
    ...(decision.note ? [`  ${decision.note}`] : []),
    ...(decision.bootstrap ? [`  ${bootstrapText(decision.bootstrap)}`] : []),
    ...byStatus(decision.rules).map((r) => `  ${{ fail: 'FAIL', 'not judged': 'note', pass: 'pass' }[ruleStatus(r)]}  ${ruleText(r)}`),
  ];
}

/** The closing summary of `mlops run`. */
export function runSummary(runId: string, runDir: string, result: PipelineResult | UnchangedRun): string {
  const e = result.extract;
  const data = `data      ${count(e.rows.read)} rows read, ${count(e.rows.quarantined)} quarantined; ${splitText(e)} (as_of ${e.window.asOf})`;
  if ('unchanged' in result)
    return [
      `run ${runId}`,
      data,
      `trained   nothing new: the data, config and code are those of the champion ${result.unchanged} (--retrain to train anyway)`,
      `artifacts ${runDir}`,
    ].join('\n');
  const { train: t, evaluate: ev } = result;
  return [
    `run ${runId}`,
    data,
    `training  ${trainedText(t)}, ${count(t.samplesPerSecond)} samples/s`,
    '',
    ...metricsTable(ev),
    '',
    ...decisionLines(result.decision),
    '',
    ...releaseLines(result),
    `artifacts ${runDir}`,
  ].join('\n');
}

function releaseLines({ record, build, push, deploy }: PipelineResult): string[] {
  if (!record) return ['released  nothing: the champion stays'];
  return [
    `recorded  registry version ${record.version}${record.promoted ? ', the champion' : ''}`,
    ...(build ? [`image     ${push?.reference ?? build.image}, ${count(Math.round(build.sizeBytes / 2 ** 20))} MiB`] : []),
    ...(deploy
      ? [`released  ${deploy.version} is the champion and serves on ${deploy.proxy}/predict (${deploy.server.id}, ${deploy.target})`]
      : []),
  ];
}

/**
 * What an extract read and how a model trained, in the words every report of them shares: the
 * lines `mlops extract`, `mlops train` and `mlops run` print, and the job summaries (actions/summary.ts).
 */
export const windowText = (out: ExtractOutputs) => `${out.window.windowStart} to ${out.window.asOf}`;
const splitText = (out: ExtractOutputs) =>
  `train ${count(out.split.train)}, validation ${count(out.split.validation)}, test ${count(out.split.test)}`;
export const trainedText = (out: TrainOutputs) => `${out.epochs} epochs on ${out.backend}, best epoch ${out.bestEpoch}`;

/** What `mlops extract` prints. */
export function extractLines(out: ExtractOutputs, dir: string): string[] {
  return [
    `window      ${windowText(out)} (as_of=${out.window.asOf}, source ${out.source})`,
    `rows        ${count(out.rows.read)} read, ${count(out.rows.clean)} clean, ${count(out.rows.quarantined)} quarantined`,
    `split       ${splitText(out)}`,
    `features    ${out.features.join(', ')} -> ${out.label} (${out.task})`,
    `data hash   ${out.dataHash}`,
    `artifacts   ${dir}`,
  ];
}

/** What `mlops train` prints. */
export function trainLines(out: TrainOutputs): string[] {
  return [
    `training    ${trainedText(out)} (val_loss ${out.valLoss.toFixed(4)}), ${count(out.samplesPerSecond)} samples/s`,
    ...(out.threshold ? [`threshold   ${thresholdText(out.threshold)}`] : []),
    `model       ${out.modelDir}`,
  ];
}

/** `mlops status`: the recent runs as a table; an interrupted run says where it stopped and how to resume it. */
export function statusTable(runs: RunView[]): string {
  if (runs.length === 0) return 'no runs yet: start one with `mlops run`';
  const rows = runs.map((r) => {
    const failed = r.steps.find((s) => s.status === 'failed');
    const seconds = r.finishedAt ? ((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1) + 's' : '-';
    const detail = failed
      ? `${failed.name}: ${failed.errorClass}: ${failed.message}`
      : r.status === 'interrupted'
        ? interruption(r)
        : r.steps.map((s) => `${s.name}${s.attempts > 1 ? `(x${s.attempts})` : ''}`).join(' ');
    return [r.runId, r.startedAt.slice(0, 19).replace('T', ' '), r.kind === 'predict' ? 'batch' : 'train', r.status, seconds, detail];
  });
  return columns(['run', 'started (UTC)', 'kind', 'status', 'took', 'steps'], rows);
}

/** A plain text table, each column as wide as its widest cell, the last one unpadded. */
export function columns(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows].map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
