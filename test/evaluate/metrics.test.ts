import { describe, expect, it } from 'vitest';
import { classificationMetrics, regressionMetrics, rocAuc } from '../../src/evaluate/metrics.js';

describe('classification metrics, checked by hand', () => {
  // 4 rows, binary. Truth: 0, 0, 1, 1. P(class 1): 0.1, 0.6, 0.4, 0.8.
  // Predicted: 0, 1, 0, 1 -> TN, FP, FN, TP.
  const truth = [0, 0, 1, 1];
  const probs = [0.9, 0.1, 0.4, 0.6, 0.6, 0.4, 0.2, 0.8];
  const m = classificationMetrics(truth, probs, 2);

  it('counts the confusion matrix as [true][predicted]', () => {
    expect(m.confusion).toEqual([
      [1, 1],
      [1, 1],
    ]);
  });

  it('gives accuracy, precision and recall of the positive class, and macro F1', () => {
    expect(m.accuracy).toBe(0.5);
    expect(m.precision).toBe(0.5); // TP / (TP + FP) = 1 / 2
    expect(m.recall).toBe(0.5); // TP / (TP + FN) = 1 / 2
    expect(m.macro_f1).toBe(0.5);
  });

  it('gives ROC AUC as the share of (positive, negative) pairs ranked right', () => {
    // pairs: (0.4 vs 0.1) right, (0.4 vs 0.6) wrong, (0.8 vs 0.1) right, (0.8 vs 0.6) right -> 3/4
    expect(m.roc_auc).toBe(0.75);
  });

  it('gives log loss as the mean negative log probability of the true class', () => {
    expect(m.log_loss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.4) + Math.log(0.4) + Math.log(0.8)) / 4, 12);
  });

  it('averages one-vs-rest for three classes', () => {
    const three = classificationMetrics([0, 1, 2], [0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8], 3);
    expect(three).toMatchObject({ accuracy: 1, precision: 1, recall: 1, macro_f1: 1, roc_auc: 1 });
  });

  it('shares the rank of tied scores', () => {
    expect(rocAuc([0, 1], [0.5, 0.5])).toBe(0.5);
  });
});

describe('regression metrics, checked by hand', () => {
  it('gives RMSE, MAE and R²', () => {
    // errors: 1, -1, 0, 2 -> squared 1, 1, 0, 4; truth mean 2.5, total sum of squares 5
    const m = regressionMetrics([1, 2, 3, 4], [0, 3, 3, 2]);
    expect(m.rmse).toBeCloseTo(Math.sqrt(6 / 4), 12);
    expect(m.mae).toBe(1);
    expect(m.r2).toBeCloseTo(1 - 6 / 5, 12);
  });
});

describe('macro averages', () => {
  it('leave out classes that neither occur nor are predicted, as scikit-learn does', () => {
    // Three classes, but the slice only has classes 0 and 2, all right.
    const m = classificationMetrics([0, 2], [0.9, 0.05, 0.05, 0.05, 0.05, 0.9], 3);
    expect(m).toMatchObject({ macro_f1: 1, precision: 1, recall: 1, roc_auc: 1 });
  });
});
