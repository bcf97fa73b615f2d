import type { BaselineName, Config, MetricName } from '../config/schema.js';
import { higherIsBetter, latencyMetricNames } from '../config/schema.js';
import { readArtifact, writeArtifact } from '../artifacts.js';
import { decisionFile, evaluationFile, testPredictionsFile } from '../artifact-files.js';
import type { StepContext } from '../context.js';
import { configError, MlopsError } from '../errors.js';
import { scorerOf, sliceRows } from '../evaluate/test-predictions.js';
import { measure } from '../format.js';
import { percent, ruleText, skippedText } from '../report.js';
import type { Decision, EvaluateOutputs, RuleResult, TestPredictions } from '../step-outputs.js';
import { bootstrapSettings, pairedResamples, percentileInterval, type BootstrapSettings } from './bootstrap.js';

/**
 * The metric gate, with TFX's blessing semantics: value thresholds (lower and upper bounds) on the
 * candidate, change thresholds against the champion on the same test rows, and the same value
 * thresholds on every slice large enough to judge. A first model (no champion) is judged on value
 * thresholds alone, and the decision says so.
 *
 * Given the per-row predictions, a change threshold is judged on the paired bootstrap interval of
 * the difference, not its point estimate: it passes only when the interval's worse end clears the
 * bound, so a champion is not replaced on the noise of a few test rows.
 *
 * Baseline rules hold the candidate to the trivial models scored on the same test rows: it must beat
 * the constant prediction on the first gated metric (always, champion or not), and any baseline
 * `gates.baseline` names by its margin, on the same paired intervals.
 */

type Threshold = NonNullable<NonNullable<Config['gates']>['thresholds'][MetricName]>;

/** A number to hold against a bound, or why there is none. */
type Judgeable = number | { unjudged: string };

/** One metric resampled in one scope: the candidate's values and, with a champion, the champion's on the same draws. */
interface Resampled {
  rows: number;
  candidate: Float64Array;
  champion?: Float64Array;
  settings: BootstrapSettings;
}

/** Measured on the whole model, not per row: never resampled, nor judged per slice. */
const wholeModel: ReadonlySet<MetricName> = new Set(latencyMetricNames);

/** A metric's value, or why it cannot be judged: missing, null (NaN after a JSON round trip), NaN or infinite. */
function metricValue(metrics: object | undefined, metric: MetricName, whose: string): Judgeable {
  const v = (metrics as Record<string, unknown> | undefined)?.[metric];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  const what = v === undefined ? 'missing' : v === null || Number.isNaN(v) ? 'NaN (undefined on these rows)' : String(v);
  return { unjudged: `${whose} ${metric} is ${what}` };
}

/** `f` of two judgeable values, or the first reason one of them cannot be judged. */
const combine = (a: Judgeable, b: Judgeable, f: (a: number, b: number) => Judgeable): Judgeable =>
  typeof a !== 'number' ? a : typeof b !== 'number' ? b : f(a, b);

/**
 * The rules `t` sets on `metric` in one scope. A rule that cannot be judged is listed with the
 * reason: it fails on the whole test set, and on a slice it is reported without failing.
 */
function judge(
  metric: MetricName,
  t: Threshold,
  scope: string,
  candidate: object,
  champion?: object,
  small?: string,
  resampled?: Resampled,
  against?: BaselineName,
): RuleResult[] {
  const rules: RuleResult[] = [];
  /**
   * `spread`, where given, is the rule's quantity on every resample; `worse` picks the interval's end
   * that must clear the bound.
   */
  const rule = (
    rule: RuleResult['rule'],
    bound: number,
    value: Judgeable,
    holds: (v: number) => boolean,
    base?: Judgeable,
    spread?: { values: Float64Array; worse: 'low' | 'high'; undecided: [string, string] },
  ) => {
    const unjudged = small ?? (typeof value === 'number' ? undefined : value.unjudged);
    const baseValue = typeof base === 'number' ? base : null;
    const champion = base === undefined ? {} : against ? { baseline: { name: against, value: baseValue } } : { champion: baseValue };
    const rows = resampled ? { rows: resampled.rows } : {};
    if (unjudged) {
      rules.push({ metric, scope, rule, value: null, bound, ...champion, ...rows, passed: scope !== 'all', notJudged: unjudged });
      return;
    }
    const point = value as number;
    const interval = spread && percentileInterval(spread.values, resampled!.settings.confidence);
    if (spread && !interval) {
      const notJudged = `${metric} is undefined on every resample of these rows`;
      rules.push({ metric, scope, rule, value: point, bound, ...champion, ...rows, passed: scope !== 'all', notJudged });
      return;
    }
    if (!interval) {
      rules.push({ metric, scope, rule, value: point, bound, ...champion, ...rows, passed: holds(point) });
      return;
    }
    const { confidence, resamples } = resampled!.settings;
    const held = interval[spread!.worse];
    const passed = holds(held);
    const range = `the ${percent(confidence)} interval [${measure(interval.low)}, ${measure(interval.high)}] does not`;
    const [unsure, pointSays] = spread!.undecided;
    rules.push({
      metric,
      scope,
      rule,
      value: point,
      bound,
      ...champion,
      interval: { ...interval, confidence, resamples, held },
      ...rows,
      passed,
      ...(!passed && holds(point) ? { undecided: `${unsure} on ${resampled!.rows} test rows: ${pointSays}, ${range}` } : {}),
    });
  };
  const value = metricValue(candidate, metric, "the candidate's");
  const onInterval = resampled?.settings.valueOn === 'interval';
  const own = (worse: 'low' | 'high') =>
    onInterval
      ? {
          values: resampled!.candidate,
          worse,
          undecided: ['cannot tell whether the candidate clears the bound', 'the point estimate does'] as [string, string],
        }
      : undefined;
  if (t.lower !== undefined) rule('lower', t.lower, value, (v) => v >= t.lower!, undefined, own('low'));
  if (t.upper !== undefined) rule('upper', t.upper, value, (v) => v <= t.upper!, undefined, own('high'));
  if (!t.change || !champion) return rules;
  const base = metricValue(champion, metric, against ? `the ${against} baseline's` : "the champion's");
  const better = higherIsBetter(metric, t.direction);
  // Both measured in the better direction: the interval's low end is always the one to hold.
  const change = (v: number, b: number) => (better ? v - b : b - v);
  // From a champion's 0, no worse is no change, and a drop has no relative size.
  const relative = (d: number, b: number): Judgeable =>
    b !== 0 ? d / Math.abs(b) : d >= 0 ? 0 : { unjudged: `the champion's ${metric} is 0: a drop from it has no relative size` };
  const paired = (f: (c: number, b: number) => number) => {
    if (!resampled?.champion) return undefined;
    const { candidate: c, champion: b } = resampled;
    const apart = against ? `cannot tell the candidate from the ${against} baseline` : 'cannot tell the models apart';
    const undecided: [string, string] = [apart, 'the point difference clears the bound'];
    return { values: c.map((v, i) => f(v, b[i]!)), worse: 'low' as const, undecided };
  };
  const delta = combine(value, base, change);
  const { absolute, relative: rel } = t.change;
  // Beating a baseline is strictly better: a model no better than a constant does not beat it by 0.
  if (absolute !== undefined && against) rule('baseline', absolute, delta, (d) => d > absolute, base, paired(change));
  else if (absolute !== undefined) rule('change.absolute', absolute, delta, (d) => d >= absolute, base, paired(change));
  if (rel !== undefined) {
    const ratio = combine(delta, base, relative);
    const each = (v: number, b: number) => {
      const r = relative(change(v, b), b);
      return typeof r === 'number' ? r : NaN;
    };
    rule('change.relative', rel, ratio, (r) => r >= rel, base, paired(each));
  }
  return rules;
}

/** The baseline rules: `gates.baseline`, and the constant baseline on the first gated metric with margin 0 unless it is against the constant. */
export function baselineRules(
  gates: Config['gates'],
  thresholds: MetricName[],
): { against: BaselineName; metric: MetricName; margin: number }[] {
  const first = thresholds.find((m) => !wholeModel.has(m));
  const configured = gates?.baseline && { ...gates.baseline, metric: gates.baseline.metric ?? first };
  const constant = configured?.against === 'constant' ? [] : [{ against: 'constant' as const, metric: first, margin: 0 }];
  return [...constant, ...(configured ? [configured] : [])].filter(
    (r): r is { against: BaselineName; metric: MetricName; margin: number } => Boolean(r.metric),
  );
}

/**
 * Each baseline rule on the whole test set: the candidate's lead over the baseline, on the paired
 * bootstrap of the two when the per-row predictions are given.
 */
function judgeBaselines(
  gates: Config['gates'],
  thresholds: [MetricName, Threshold][],
  evaluation: EvaluateOutputs,
  settings: BootstrapSettings,
  predictions?: TestPredictions,
): RuleResult[] {
  const baselines = evaluation.baselines!;
  return baselineRules(
    gates,
    thresholds.map(([m]) => m),
  ).flatMap(({ against, metric, margin }) => {
    const t: Threshold = { change: { absolute: margin }, direction: gates?.thresholds[metric]?.direction };
    const scored = baselines[against];
    if (!scored || 'skipped' in scored) {
      const why = scored ? `the ${against} baseline was not trained: ${scored.skipped}` : `the evaluation has no ${against} baseline`;
      return [
        {
          metric,
          scope: 'all',
          rule: 'baseline',
          value: null,
          bound: margin,
          baseline: { name: against, value: null },
          passed: false,
          notJudged: why,
        },
      ];
    }
    const n = evaluation.rows;
    const paired =
      predictions?.baselines?.[against] &&
      pairedResamples([scorerOf(predictions, 'candidate'), scorerOf(predictions, against)], n, [metric], settings);
    const resampled = paired ? { rows: n, candidate: paired[0]!.get(metric)!, champion: paired[1]!.get(metric)!, settings } : undefined;
    return judge(metric, t, 'all', evaluation.metrics, scored.metrics, undefined, resampled, against);
  });
}

/** The metrics each scope resamples: those with a change rule against a champion, and with value_on: interval every bounded one. */
function resampledMetrics(thresholds: [MetricName, Threshold][], settings: BootstrapSettings, champion: boolean): MetricName[] {
  return thresholds
    .filter(
      ([m, t]) => !wholeModel.has(m) && ((champion && t.change) || (settings.valueOn === 'interval' && (t.lower ?? t.upper) !== undefined)),
    )
    .map(([m]) => m);
}

/** The resampled values of `metrics` on `rows` of the test split (all of them when undefined). */
function resample(p: TestPredictions, metrics: MetricName[], settings: BootstrapSettings, rows?: number[]): Map<MetricName, Resampled> {
  const n = rows?.length ?? p.labels.length;
  const scorers = [scorerOf(p, 'candidate', rows), ...(p.champion ? [scorerOf(p, 'champion', rows)] : [])];
  const [candidate, champion] = pairedResamples(scorers, n, metrics, settings);
  return new Map(metrics.map((m) => [m, { rows: n, candidate: candidate!.get(m)!, champion: champion?.get(m), settings }]));
}

export function decide(
  gates: Config['gates'],
  evaluation: EvaluateOutputs,
  { force, predictions }: { force?: { reason: string }; predictions?: TestPredictions } = {},
): Decision {
  const thresholds = Object.entries(gates?.thresholds ?? {}) as [MetricName, Threshold][];
  if (thresholds.length === 0) {
    throw configError(
      'gates.thresholds: no thresholds configured; a gate that checks nothing would pass every model',
      'add at least one, e.g. gates.thresholds.accuracy.lower: 0.8',
    );
  }
  if (force && !force.reason.trim()) throw configError('a forced release needs a reason', 'pass --force "<why this model must ship>"');
  const minRows = gates?.min_slice_rows ?? 20;
  const champion = evaluation.champion;
  if (predictions && Boolean(champion) !== Boolean(predictions.champion))
    throw configError(
      "the evaluation and its per-row predictions disagree on the champion: they are not one evaluate step's output",
      'rerun the evaluate step for this run',
    );
  const settings = bootstrapSettings(gates);
  const metrics = predictions ? resampledMetrics(thresholds, settings, Boolean(champion)) : [];
  const bootstrapped = metrics.length > 0;
  const slices = sliceRows(predictions ?? { labels: [] });
  const resampled = (rows?: number[]) =>
    bootstrapped ? resample(predictions!, metrics, settings, rows) : new Map<MetricName, Resampled>();
  const all = resampled();
  const perSlice = new Map(
    Object.entries(evaluation.slices).map(([slice, { rows }]) => [
      slice,
      rows >= minRows && slices.has(slice) ? resampled(slices.get(slice)) : undefined,
    ]),
  );

  const rules: RuleResult[] = [];
  for (const [metric, t] of thresholds) {
    rules.push(...judge(metric, t, 'all', evaluation.metrics, champion?.metrics, undefined, all.get(metric)));
    if (wholeModel.has(metric)) continue;
    for (const [slice, { rows, metrics }] of Object.entries(evaluation.slices)) {
      const small = rows < minRows ? `${rows} test rows, fewer than gates.min_slice_rows (${minRows})` : undefined;
      // The champion is scored on the same test rows: its slice is as large.
      const base = champion && (champion.slices[slice]?.metrics ?? {});
      rules.push(...judge(metric, t, `${evaluation.sliceColumn}=${slice}`, metrics, base, small, perSlice.get(slice)?.get(metric)));
    }
  }
  // A re-evaluation on fresh rows has no baselines: it judges the value thresholds alone.
  const baselineResults = evaluation.baselines ? judgeBaselines(gates, thresholds, evaluation, settings, predictions) : [];
  rules.push(...baselineResults);
  const passed = rules.every((r) => r.passed);
  const note = champion
    ? undefined
    : `no champion to compare with${evaluation.championSkipped ? ` (${skippedText(evaluation.championSkipped)})` : ''}: checked on value thresholds${evaluation.baselines ? ' and the baselines' : ''} only`;
  return {
    blessed: passed || Boolean(force),
    passed,
    forced: force,
    championVersion: champion?.version,
    note,
    ...(bootstrapped || baselineResults.some((r) => r.interval) ? { bootstrap: settings } : {}),
    rules,
  };
}

/** The gate step: judge `evaluation.json` on the per-row predictions beside it, write `decision.json`. A rejection is the caller's to report. */
export async function gate(ctx: StepContext, { force }: { force?: { reason: string } } = {}): Promise<Decision> {
  const [evaluation, predictions] = await Promise.all([readArtifact(ctx, evaluationFile), readArtifact(ctx, testPredictionsFile)]);
  const decision = decide(ctx.config.gates, evaluation, { force, predictions });
  await writeArtifact(ctx, decisionFile, decision);
  return decision;
}

/** The quality error a run ends with when its model is not blessed. */
export function rejection(decision: Decision): MlopsError {
  const failed = decision.rules.filter((r) => !r.passed).map(ruleText);
  return new MlopsError('quality', `the model failed the gate: ${failed.join(', ')}`, {
    hint: 'the champion stays; see gate/decision.json',
  });
}
