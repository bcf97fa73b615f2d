import type { Config, MetricName } from '../config/schema.js';
import { readArtifact, writeArtifact } from '../artifacts.js';
import type { StepContext } from '../context.js';
import { configError, MlopsError } from '../errors.js';
import type { EvaluateOutputs } from '../evaluate/evaluate.js';

/**
 * The metric gate, with TFX's blessing semantics: value thresholds (lower and upper bounds) on the
 * candidate, change thresholds against the champion on the same test rows, and the same value
 * thresholds on every slice large enough to judge. A first model (no champion) is judged on value
 * thresholds alone, and the decision says so.
 */

export interface RuleResult {
  metric: MetricName;
  /** `all` or `<slice column>=<value>`. */
  scope: string;
  rule: 'lower' | 'upper' | 'change.absolute' | 'change.relative';
  value: number;
  bound: number;
  /** For change rules: the champion's value. */
  champion?: number;
  passed: boolean;
}

export interface Decision {
  /** The model may be released: every rule passed, or a release was forced. */
  blessed: boolean;
  /** Every rule passed. */
  passed: boolean;
  forced?: { reason: string };
  championVersion?: string;
  note?: string;
  rules: RuleResult[];
}

const lowerIsBetter = new Set<MetricName>(['log_loss', 'rmse', 'mae', 'latency_p50_ms', 'latency_p95_ms']);

export function decide(gates: Config['gates'], evaluation: EvaluateOutputs, force?: { reason: string }): Decision {
  const thresholds = Object.entries(gates?.thresholds ?? {}) as [
    MetricName,
    NonNullable<NonNullable<Config['gates']>['thresholds'][MetricName]>,
  ][];
  if (thresholds.length === 0) {
    throw configError(
      'gates.thresholds: no thresholds configured; a gate that checks nothing would pass every model',
      'add at least one, e.g. gates.thresholds.accuracy.lower: 0.8',
    );
  }
  if (force && !force.reason.trim()) throw configError('a forced release needs a reason', 'pass --force "<why this model must ship>"');
  const rules: RuleResult[] = [];
  const value = (m: object, metric: MetricName) => (m as Record<string, unknown>)[metric] as number | undefined;
  const check = (metric: MetricName, scope: string, candidate: object, champion?: object) => {
    const t = thresholds.find(([m]) => m === metric)![1];
    const v = value(candidate, metric);
    if (v === undefined || Number.isNaN(v)) return;
    if (t.lower !== undefined) rules.push({ metric, scope, rule: 'lower', value: v, bound: t.lower, passed: v >= t.lower });
    if (t.upper !== undefined) rules.push({ metric, scope, rule: 'upper', value: v, bound: t.upper, passed: v <= t.upper });
    const base = champion && value(champion, metric);
    if (t.change && base !== undefined && !Number.isNaN(base)) {
      const better = (t.direction ?? (lowerIsBetter.has(metric) ? 'lower_is_better' : 'higher_is_better')) === 'higher_is_better';
      const delta = better ? v - base : base - v;
      if (t.change.absolute !== undefined)
        rules.push({
          metric,
          scope,
          rule: 'change.absolute',
          value: delta,
          bound: t.change.absolute,
          champion: base,
          passed: delta >= t.change.absolute,
        });
      if (t.change.relative !== undefined) {
        const relative = base === 0 ? (delta >= 0 ? 0 : -Infinity) : delta / Math.abs(base);
        rules.push({
          metric,
          scope,
          rule: 'change.relative',
          value: relative,
          bound: t.change.relative,
          champion: base,
          passed: relative >= t.change.relative,
        });
      }
    }
  };
  const champion = evaluation.champion;
  for (const [metric] of thresholds) {
    check(metric, 'all', evaluation.metrics, champion?.metrics);
    for (const [slice, { rows, metrics }] of Object.entries(evaluation.slices)) {
      if (rows < (gates?.min_slice_rows ?? 20) || metric.startsWith('latency')) continue;
      const championSlice = champion?.slices[slice];
      check(
        metric,
        `${evaluation.sliceColumn}=${slice}`,
        metrics,
        championSlice && championSlice.rows >= (gates?.min_slice_rows ?? 20) ? championSlice.metrics : undefined,
      );
    }
  }
  const passed = rules.every((r) => r.passed);
  const note = champion
    ? undefined
    : `no champion to compare with${evaluation.championSkipped ? ` (${evaluation.championSkipped})` : ''}: checked on value thresholds only`;
  return { blessed: passed || Boolean(force), passed, forced: force, championVersion: champion?.version, note, rules };
}

/** Step 5: judge `evaluation.json`, write `decision.json`. A rejection is the caller's to report. */
export async function gate(ctx: StepContext, { force }: { force?: { reason: string } } = {}): Promise<Decision> {
  const evaluation = await readArtifact<EvaluateOutputs>(ctx, 'evaluate', 'evaluation.json');
  const decision = decide(ctx.config.gates, evaluation, force);
  await writeArtifact(ctx, 'gate', 'decision.json', decision);
  return decision;
}

/** The quality error a run ends with when its model is not blessed. */
export function rejection(decision: Decision): MlopsError {
  const failed = decision.rules
    .filter((r) => !r.passed)
    .map((r) => `${r.metric} (${r.scope}) ${r.rule} ${r.value.toFixed(4)} vs ${r.bound}`);
  return new MlopsError('quality', `the model failed the gate: ${failed.join(', ')}`, {
    hint: 'the champion stays; see gate/decision.json',
  });
}
