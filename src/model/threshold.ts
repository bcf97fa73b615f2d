import type { Config } from '../config/schema.js';
import { classificationMetrics } from '../evaluate/metrics.js';
import { dataError } from '../errors.js';
import type { ModelCard } from './model-card.js';

/**
 * model.threshold, for a binary model: the probability of the second class above which it is
 * predicted. A number is taken as given; `f1` and `youden` choose it on the validation split (the
 * test split stays the gate's), over every cut between two distinct scores: `f1` the one with the
 * best macro F1 (both classes' F1 averaged, so it does not matter which class is called positive),
 * `youden` the one with the best sensitivity + specificity − 1. Ties go to the cut nearest 0.5.
 */

export type ThresholdRecord = NonNullable<ModelCard['threshold']>;
type Rule = NonNullable<Config['model']['threshold']>;

/** The metrics the choice is reported with: what a threshold changes (ROC AUC and log loss it does not). */
const reported = ['accuracy', 'precision', 'recall', 'macro_f1'] as const;

const safeDiv = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** The objective of a rule at a cut: `tp`, `fp` of the rows predicted positive, out of `p` positives and `n` negatives. */
const objectives = {
  f1: (tp: number, fp: number, p: number, n: number) => {
    const [fn, tn] = [p - tp, n - fp];
    return (safeDiv(2 * tp, 2 * tp + fp + fn) + safeDiv(2 * tn, 2 * tn + fn + fp)) / 2;
  },
  youden: (tp: number, fp: number, p: number, n: number) => tp / p - fp / n,
};

/** The cut of `scores` (P(second class) per row) that maximises `rule` against `truth` (0 or 1 per row). */
function bestCut(rule: keyof typeof objectives, scores: ArrayLike<number>, truth: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const p = order.reduce((s, r) => s + truth[r]!, 0);
  const n = order.length - p;
  // Predicting nothing positive: a cut halfway between the highest score and 1.
  let best = { value: (scores[order[0]!]! + 1) / 2, score: objectives[rule](0, 0, p, n) };
  let [tp, fp] = [0, 0];
  for (let i = 0; i < order.length;) {
    const s = scores[order[i]!]!;
    for (; i < order.length && scores[order[i]!] === s; i++) {
      if (truth[order[i]!]) tp++;
      else fp++;
    }
    // Every row scored s or more is predicted positive: the cut is halfway down to the next score.
    const value = i < order.length ? (s + scores[order[i]!]!) / 2 : s / 2;
    const score = objectives[rule](tp, fp, p, n);
    if (score > best.score || (score === best.score && Math.abs(value - 0.5) < Math.abs(best.value - 0.5))) best = { value, score };
  }
  // Inside (0, 1), where a saved threshold must be, even when the scores reach 0 or 1.
  return Math.min(Math.max(best.value, 1e-9), 1 - 1e-9);
}

/**
 * The threshold `rule` gives for a binary model whose decoded outputs on the labelled rows of
 * `split` are `probabilities` (two per row), with the metrics at it and at 0.5. A rule that chooses
 * needs both classes among the rows: a data error otherwise.
 */
export function chooseThreshold(
  rule: Rule,
  probabilities: Float32Array,
  truth: ArrayLike<number>,
  on: { split: ThresholdRecord['split']; classes: string[] },
): ThresholdRecord {
  const rows = truth.length;
  const positives = Array.from(truth).filter((t) => t === 1).length;
  if (typeof rule === 'string' && (positives === 0 || positives === rows))
    throw dataError(
      `model.threshold: ${rule} needs both classes in the ${on.split} split, and its ${rows} rows are all "${on.classes[positives ? 1 : 0]}"`,
      'give the data more rows of the rarer class (or a longer window), or set model.threshold to a number',
    );
  const scores = Float32Array.from({ length: rows }, (_, r) => probabilities[r * 2 + 1]!);
  const value = typeof rule === 'number' ? rule : bestCut(rule, scores, truth);
  const at = (threshold: number) => {
    const m = classificationMetrics(truth, probabilities, 2, threshold);
    return Object.fromEntries(reported.map((k) => [k, m[k]]));
  };
  return {
    rule: typeof rule === 'number' ? 'fixed' : rule,
    positive: on.classes[1]!,
    value,
    split: on.split,
    rows,
    metrics: at(value),
    atDefault: at(0.5),
  };
}

const metricsText = (m: Record<string, number>) => reported.map((k) => `${k} ${m[k]!.toFixed(4)}`).join(', ');

/** The threshold in a line, with the metrics at it and at 0.5: for the log, the CLI and the job summary. */
export const thresholdText = (t: ThresholdRecord): string =>
  `decision threshold ${+t.value.toPrecision(4)} on P(${t.positive}) (${t.rule === 'fixed' ? 'model.threshold' : `${t.rule}, chosen`} on ${t.rows} ${t.split} rows): ${metricsText(t.metrics)}; at 0.5: ${metricsText(t.atDefault)}`;
