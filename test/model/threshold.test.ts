import { describe, expect, it } from 'vitest';
import { MlopsError } from '../../src/errors.js';
import { decide } from '../../src/model/decision.js';
import { chooseThreshold } from '../../src/model/threshold.js';

/** Decoded binary outputs (P(first), P(second) per row) from the second class's probabilities. */
const outputs = (yes: number[]) => Float32Array.from(yes.flatMap((p) => [1 - p, p]));
const on = { split: 'validation' as const, classes: ['no', 'yes'] };

describe('model.threshold', () => {
  // Six rows by descending score: yes, yes, no, yes, no, no. Cutting below the second row (at 0.5)
  // misses one "yes" and takes no "no"; cutting below the fourth (at 0.25) takes every "yes" and one
  // "no": both give a macro F1 of 0.83, the best, and the one nearer 0.5 is kept.
  const yes = [0.9, 0.6, 0.4, 0.3, 0.2, 0.1];
  const truth = [1, 1, 0, 1, 0, 0];

  it('chooses, with f1, the cut between two scores with the best macro F1, nearest 0.5 of equals', () => {
    const t = chooseThreshold('f1', outputs(yes), truth, on);
    expect(t.value).toBeCloseTo(0.5, 6);
    expect(t).toMatchObject({ rule: 'f1', positive: 'yes', split: 'validation', rows: 6 });
    expect(t.metrics.recall).toBeCloseTo(2 / 3, 6);
    expect(t.metrics.precision).toBe(1);
  });

  it('chooses, with youden, the cut with the best sensitivity + specificity − 1', () => {
    const t = chooseThreshold('youden', outputs([0.9, 0.6, 0.4, 0.35, 0.2, 0.1]), [1, 1, 1, 1, 0, 0], on);
    // Every "yes" is above 0.275, every "no" below: TPR 1, FPR 0.
    expect(t.value).toBeCloseTo(0.275, 6);
    expect(t.metrics).toMatchObject({ recall: 1, precision: 1, accuracy: 1 });
    expect(t.atDefault.recall).toBe(0.5);
  });

  it('keeps a number as given, and reports the metrics at it and at 0.5', () => {
    const t = chooseThreshold(0.25, outputs(yes), truth, on);
    expect(t).toMatchObject({ rule: 'fixed', value: 0.25 });
    expect(t.metrics).toMatchObject({ recall: 1, precision: 0.75 });
    expect(t.atDefault).toMatchObject({ recall: 2 / 3, precision: 1 });
  });

  it('is a data error when the split has one class only, naming it and the way out', () => {
    const err = (() => {
      try {
        chooseThreshold('f1', outputs([0.2, 0.3]), [0, 0], on);
      } catch (e) {
        return e as MlopsError;
      }
    })();
    expect(err).toBeInstanceOf(MlopsError);
    expect(err!.errorClass).toBe('data');
    expect(err!.message).toBe('model.threshold: f1 needs both classes in the validation split, and its 2 rows are all "no"');
    expect(err!.hint).toContain('set model.threshold to a number');
  });

  it('decides the second class above the threshold, and the most probable class without one', () => {
    const p = outputs([0.3, 0.5, 0.7]);
    expect([0, 1, 2].map((r) => decide(p, r, 2, 0.25))).toEqual([1, 1, 1]);
    expect([0, 1, 2].map((r) => decide(p, r, 2))).toEqual([0, 0, 1]);
    expect([0, 1, 2].map((r) => decide(p, r, 2, 0.5))).toEqual([0, 0, 1]); // 0.5 decides as none does
  });
});
