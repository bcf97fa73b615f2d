/**
 * Model metrics from predictions, as plain functions over arrays so they can be checked by hand.
 * Classification takes the true class index per row and a row-major matrix of class probabilities.
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

const EPS = 1e-15;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const safeDiv = (a: number, b: number) => (b === 0 ? 0 : a / b);

export function classificationMetrics(truth: ArrayLike<number>, probs: ArrayLike<number>, classes: number): ClassificationMetrics {
  const n = truth.length;
  const k = classes;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let logLoss = 0;
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[r * k + c]! > probs[r * k + best]!) best = c;
    confusion[truth[r]!]![best]!++;
    logLoss -= Math.log(Math.min(1 - EPS, Math.max(EPS, probs[r * k + truth[r]!]!)));
  }
  // Macro averages run over the classes that occur in the truth or the predictions, as scikit-learn's
  // do: a slice without a class should not score zero for it.
  const present = confusion.map((row, c) => row.reduce((a, b) => a + b, 0) + confusion.reduce((s, rr) => s + rr[c]!, 0) > 0);
  const perClass = confusion.map((row, c) => {
    const tp = row[c]!;
    const predicted = confusion.reduce((s, rr) => s + rr[c]!, 0);
    const actual = row.reduce((a, b) => a + b, 0);
    const precision = safeDiv(tp, predicted);
    const recall = safeDiv(tp, actual);
    return { precision, recall, f1: safeDiv(2 * precision * recall, precision + recall) };
  });
  const aucs = Array.from({ length: k }, (_, c) =>
    rocAuc(
      Array.from({ length: n }, (_, r) => (truth[r] === c ? 1 : 0)),
      Array.from({ length: n }, (_, r) => probs[r * k + c]!),
    ),
  );
  const binary = k === 2;
  return {
    accuracy: safeDiv(
      confusion.reduce((s, row, c) => s + row[c]!, 0),
      n,
    ),
    precision: binary ? perClass[1]!.precision : mean(perClass.filter((_, c) => present[c]).map((p) => p.precision)),
    recall: binary ? perClass[1]!.recall : mean(perClass.filter((_, c) => present[c]).map((p) => p.recall)),
    macro_f1: mean(perClass.filter((_, c) => present[c]).map((p) => p.f1)),
    // Undefined (NaN) where no class has both positives and negatives: a slice of one class, say.
    roc_auc: binary ? aucs[1]! : aucs.some((a) => !Number.isNaN(a)) ? mean(aucs.filter((a) => !Number.isNaN(a))) : NaN,
    log_loss: safeDiv(logLoss, n),
    confusion,
  };
}

/** ROC AUC by the rank statistic (Mann-Whitney U), with ties sharing their average rank. */
export function rocAuc(labels: number[], scores: number[]): number {
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(scores.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let t = i; t <= j; t++) ranks[order[t]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  const positives = labels.filter((l) => l === 1).length;
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  const rankSum = labels.reduce((s, l, i) => s + (l === 1 ? ranks[i]! : 0), 0);
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function regressionMetrics(truth: ArrayLike<number>, predicted: ArrayLike<number>): RegressionMetrics {
  const n = truth.length;
  let se = 0;
  let ae = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    se += (truth[i]! - predicted[i]!) ** 2;
    ae += Math.abs(truth[i]! - predicted[i]!);
    sum += truth[i]!;
  }
  const m = safeDiv(sum, n);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (truth[i]! - m) ** 2;
  return { rmse: Math.sqrt(safeDiv(se, n)), mae: safeDiv(ae, n), r2: ss === 0 ? 0 : 1 - se / ss };
}
