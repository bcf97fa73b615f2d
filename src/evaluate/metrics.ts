import { decide } from '../model/decision.js';

/**
 * Model metrics from predictions, as plain functions over arrays so they can be checked by hand.
 * Classification takes the true class index per row and a row-major matrix of class probabilities.
 *
 * Each metric is computed under row weights, so that a bootstrap can score a resample from its
 * multiplicity counts without copying or re-sorting the rows: a scorer prepares the predictions once
 * (arg max, per-row loss, the rows sorted by each class's score), then scores any weighting in O(n).
 * Unweighted metrics are the weighting of 1 per row.
 */

export interface ClassificationMetrics {
  accuracy: number;
  /** Binary: of the positive (second) class. Multiclass: macro averages. */
  precision: number;
  recall: number;
  macro_f1: number;
  /** Binary: ROC AUC. Multiclass: the macro average of one-vs-rest AUCs. */
  roc_auc: number;
  log_loss: number;
  /** confusion[true][predicted] */
  confusion: number[][];
}

export interface RegressionMetrics {
  rmse: number;
  mae: number;
  r2: number;
}

export type Metrics = ClassificationMetrics | RegressionMetrics;

/** Metrics of fixed predictions under a weighting of the rows (one weight per row). */
export type Scorer<M extends Metrics = Metrics> = (weights: ArrayLike<number>) => M;

const EPS = 1e-15;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const safeDiv = (a: number, b: number) => (b === 0 ? 0 : a / b);
const ones = (n: number) => new Float64Array(n).fill(1);

/** Row indices in ascending order of `scores`, and where each run of tied scores ends. */
function sortedRuns(scores: ArrayLike<number>): { order: Uint32Array; runEnd: Uint32Array } {
  const order = Uint32Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const runEnd = new Uint32Array(order.length);
  for (let i = order.length - 1; i >= 0; i--)
    runEnd[i] = i + 1 < order.length && scores[order[i + 1]!] === scores[order[i]!] ? runEnd[i + 1]! : i + 1;
  return { order, runEnd };
}

/**
 * Weighted ROC AUC over a fixed sort: the weight of (positive, negative) pairs ranked right, ties
 * counting half (the Mann-Whitney statistic with average ranks). NaN without both classes.
 */
function weightedAuc(positive: Uint8Array, { order, runEnd }: ReturnType<typeof sortedRuns>, w: ArrayLike<number>): number {
  let negativesBelow = 0;
  let pairs = 0;
  let positives = 0;
  for (let i = 0; i < order.length;) {
    const end = runEnd[i]!;
    let pos = 0;
    let neg = 0;
    for (; i < end; i++) {
      const r = order[i]!;
      if (positive[r]) pos += w[r]!;
      else neg += w[r]!;
    }
    pairs += pos * (negativesBelow + neg / 2);
    negativesBelow += neg;
    positives += pos;
  }
  return positives === 0 || negativesBelow === 0 ? NaN : pairs / (positives * negativesBelow);
}

/** The scorer of fixed class probabilities; a binary model's decision `threshold` decides the classes the confusion counts. */
export function classificationScorer(
  truth: ArrayLike<number>,
  probs: ArrayLike<number>,
  classes: number,
  threshold?: number,
): Scorer<ClassificationMetrics> {
  const n = truth.length;
  const k = classes;
  // Each row's cell of the flat confusion matrix, and its log loss.
  const cell = new Uint32Array(n);
  const loss = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    cell[r] = truth[r]! * k + decide(probs, r, k, threshold);
    loss[r] = -Math.log(Math.min(1 - EPS, Math.max(EPS, probs[r * k + truth[r]!]!)));
  }
  const binary = k === 2;
  // A binary AUC is the positive class's alone; multiclass averages one-vs-rest.
  const aucs = (binary ? [1] : Array.from({ length: k }, (_, c) => c)).map((c) => ({
    positive: Uint8Array.from({ length: n }, (_, r) => (truth[r] === c ? 1 : 0)),
    sorted: sortedRuns(Float64Array.from({ length: n }, (_, r) => probs[r * k + c]!)),
  }));
  return (w) => {
    const flat = new Float64Array(k * k);
    let logLoss = 0;
    let total = 0;
    for (let r = 0; r < n; r++) {
      const wr = w[r]!;
      flat[cell[r]!]! += wr;
      logLoss += wr * loss[r]!;
      total += wr;
    }
    const confusion = Array.from({ length: k }, (_, t) => Array.from(flat.subarray(t * k, t * k + k)));
    // Macro averages run over the classes that occur in the truth or the predictions, as scikit-learn's
    // do: a slice without a class should not score zero for it.
    const present = confusion.map((row, c) => row.reduce((a, b) => a + b, 0) + confusion.reduce((s, rr) => s + rr[c]!, 0) > 0);
    const perClass = confusion.map((row, c) => {
      const tp = row[c]!;
      const precision = safeDiv(
        tp,
        confusion.reduce((s, rr) => s + rr[c]!, 0),
      );
      const recall = safeDiv(
        tp,
        row.reduce((a, b) => a + b, 0),
      );
      return { precision, recall, f1: safeDiv(2 * precision * recall, precision + recall) };
    });
    const macro = (pick: (p: (typeof perClass)[number]) => number) => mean(perClass.filter((_, c) => present[c]).map(pick));
    const defined = aucs.map((a) => weightedAuc(a.positive, a.sorted, w)).filter((a) => !Number.isNaN(a));
    return {
      accuracy: safeDiv(
        confusion.reduce((s, row, c) => s + row[c]!, 0),
        total,
      ),
      precision: binary ? perClass[1]!.precision : macro((p) => p.precision),
      recall: binary ? perClass[1]!.recall : macro((p) => p.recall),
      macro_f1: macro((p) => p.f1),
      // Undefined (NaN) where no class has both positives and negatives: a slice of one class, say.
      roc_auc: defined.length ? mean(defined) : NaN,
      log_loss: safeDiv(logLoss, total),
      confusion,
    };
  };
}

export function classificationMetrics(
  truth: ArrayLike<number>,
  probs: ArrayLike<number>,
  classes: number,
  threshold?: number,
): ClassificationMetrics {
  return classificationScorer(truth, probs, classes, threshold)(ones(truth.length));
}

/** ROC AUC by the rank statistic (Mann-Whitney U), with ties sharing their average rank. */
export function rocAuc(labels: number[], scores: number[]): number {
  return weightedAuc(
    Uint8Array.from(labels, (l) => (l === 1 ? 1 : 0)),
    sortedRuns(scores),
    ones(labels.length),
  );
}

export function regressionScorer(truth: ArrayLike<number>, predicted: ArrayLike<number>): Scorer<RegressionMetrics> {
  const n = truth.length;
  return (w) => {
    let se = 0;
    let ae = 0;
    let sum = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const e = truth[i]! - predicted[i]!;
      se += w[i]! * e * e;
      ae += w[i]! * Math.abs(e);
      sum += w[i]! * truth[i]!;
      total += w[i]!;
    }
    const m = safeDiv(sum, total);
    let ss = 0;
    for (let i = 0; i < n; i++) ss += w[i]! * (truth[i]! - m) ** 2;
    return { rmse: Math.sqrt(safeDiv(se, total)), mae: safeDiv(ae, total), r2: ss === 0 ? 0 : 1 - se / ss };
  };
}

export function regressionMetrics(truth: ArrayLike<number>, predicted: ArrayLike<number>): RegressionMetrics {
  return regressionScorer(truth, predicted)(ones(truth.length));
}
