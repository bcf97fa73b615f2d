import type { Config, MetricName } from '../config/schema.js';
import { readArtifact, writeArtifact } from '../artifacts.js';
import { decisionFile, evaluationFile } from '../artifact-files.js';
import type { StepContext } from '../context.js';
import { configError, MlopsError } from '../errors.js';
import { ruleText } from '../report.js';
import type { Decision, EvaluateOutputs, RuleResult } from '../step-outputs.js';

/**
 * The metric gate, with TFX's blessing semantics: value thresholds (lower and upper bounds) on the
 * candidate, change thresholds against the champion on the same test rows, and the same value
 * thresholds on every slice large enough to judge. A first model (no champion) is judged on value
 * thresholds alone, and the decision says so.
 */

type Threshold = NonNullable<NonNullable<Config['gates']>['thresholds'][MetricName]>;

/** A number to hold against a bound, or why there is none. */
type Judgeable = number | { unjudged: string };

const lowerIsBetter = new Set<MetricName>(['log_loss', 'rmse', 'mae', 'latency_p50_ms', 'latency_p95_ms']);

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
function judge(metric: MetricName, t: Threshold, scope: string, candidate: object, champion?: object, small?: string): RuleResult[] {
  const rules: RuleResult[] = [];
  const rule = (rule: RuleResult['rule'], bound: number, value: Judgeable, holds: (v: number) => boolean, base?: Judgeable) => {
    const unjudged = small ?? (typeof value === 'number' ? undefined : value.unjudged);
    const champion = base === undefined ? {} : { champion: typeof base === 'number' ? base : null };
    if (unjudged) rules.push({ metric, scope, rule, value: null, bound, ...champion, passed: scope !== 'all', notJudged: unjudged });
    else rules.push({ metric, scope, rule, value: value as number, bound, ...champion, passed: holds(value as number) });
  };
  const value = metricValue(candidate, metric, "the candidate's");
  if (t.lower !== undefined) rule('lower', t.lower, value, (v) => v >= t.lower!);
  if (t.upper !== undefined) rule('upper', t.upper, value, (v) => v <= t.upper!);
  if (!t.change || !champion) return rules;
  const base = metricValue(champion, metric, "the champion's");
  const better = (t.direction ?? (lowerIsBetter.has(metric) ? 'lower_is_better' : 'higher_is_better')) === 'higher_is_better';
  const delta = combine(value, base, (v, b) => (better ? v - b : b - v));
  const { absolute, relative } = t.change;
  if (absolute !== undefined) rule('change.absolute', absolute, delta, (d) => d >= absolute, base);
  if (relative !== undefined) {
    // From a champion's 0, no worse is no change, and a drop has no relative size.
    const ratio = combine(delta, base, (d, b) =>
      b !== 0 ? d / Math.abs(b) : d >= 0 ? 0 : { unjudged: `the champion's ${metric} is 0: a drop from it has no relative size` },
    );
    rule('change.relative', relative, ratio, (r) => r >= relative, base);
  }
  return rules;
}

export function decide(gates: Config['gates'], evaluation: EvaluateOutputs, force?: { reason: string }): Decision {
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
  const rules: RuleResult[] = [];
  for (const [metric, t] of thresholds) {
    rules.push(...judge(metric, t, 'all', evaluation.metrics, champion?.metrics));
    if (metric.startsWith('latency')) continue; // measured on the whole model, not per slice
    for (const [slice, { rows, metrics }] of Object.entries(evaluation.slices)) {
      const small = rows < minRows ? `${rows} test rows, fewer than gates.min_slice_rows (${minRows})` : undefined;
      // The champion is scored on the same test rows: its slice is as large.
      const base = champion && (champion.slices[slice]?.metrics ?? {});
      rules.push(...judge(metric, t, `${evaluation.sliceColumn}=${slice}`, metrics, base, small));
    }
  }
  const passed = rules.every((r) => r.passed);
  const note = champion
    ? undefined
    : `no champion to compare with${evaluation.championSkipped ? ` (${evaluation.championSkipped})` : ''}: checked on value thresholds only`;
  return { blessed: passed || Boolean(force), passed, forced: force, championVersion: champion?.version, note, rules };
}

/** The gate step: judge `evaluation.json`, write `decision.json`. A rejection is the caller's to report. */
export async function gate(ctx: StepContext, { force }: { force?: { reason: string } } = {}): Promise<Decision> {
  const evaluation = await readArtifact(ctx, evaluationFile);
  const decision = decide(ctx.config.gates, evaluation, force);
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
