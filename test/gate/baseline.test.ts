import { describe, expect, it } from 'vitest';
import { gateSummary } from '../../src/actions/summary.js';
import type { Config } from '../../src/config/schema.js';
import { evaluationOf } from '../../src/evaluate/test-predictions.js';
import { decide, rejection } from '../../src/gate/gate.js';
import { decisionLines } from '../../src/report.js';
import type { EvaluateOutputs, TestPredictions } from '../../src/step-outputs.js';

/** 100 binary test rows, 60 of class 0: the constant baseline predicts the train shares, 60/40, on every row. */
const labels = Array.from({ length: 100 }, (_, i) => (i < 60 ? 0 : 1));
/** Probabilities of a model that gets the first `right` rows of each class right (in proportion) and the rest wrong. */
const model = (right: number): number[] =>
  labels.flatMap((y, i) => {
    const correct = (y === 0 ? i : i - 60) < (y === 0 ? 60 : 40) * right;
    const p1 = correct === (y === 1) ? 0.8 : 0.2;
    return [1 - p1, p1];
  });

function run(candidate: number, gates: NonNullable<Config['gates']>, linear = 0.9) {
  const predictions: TestPredictions = {
    task: 'binary',
    width: 2,
    labels,
    candidate: model(candidate),
    baselines: { constant: labels.flatMap(() => [0.6, 0.4]), linear: model(linear) },
  };
  const evaluation: EvaluateOutputs = {
    rows: 100,
    ...evaluationOf(predictions, 'candidate'),
    baselines: { constant: evaluationOf(predictions, 'constant'), linear: evaluationOf(predictions, 'linear') },
  };
  return decide(gates, evaluation, { predictions });
}

const loose: NonNullable<Config['gates']> = { thresholds: { accuracy: { lower: 0.5 } }, min_slice_rows: 20 };

describe('the baseline rules', () => {
  it('rejects a first model that does not beat the constant baseline, naming it and the interval, though the value thresholds pass', () => {
    // 63% right against the constant's 60%: the point estimate leads, the interval cannot tell them apart.
    const d = run(0.62, loose);
    expect(d).toMatchObject({ passed: false, blessed: false });
    const rule = d.rules.find((r) => r.rule === 'baseline')!;
    expect(rule).toMatchObject({ metric: 'accuracy', scope: 'all', bound: 0, baseline: { name: 'constant', value: 0.6 }, passed: false });
    expect(rule.interval!.low).toBeLessThan(0);
    expect(rule.undecided).toContain('cannot tell the candidate from the constant baseline');
    expect(d.rules.filter((r) => r.rule !== 'baseline').every((r) => r.passed)).toBe(true);
    const message = rejection(d).message;
    expect(message).toContain(
      'accuracy (all) baseline constant: 0.0300, 95% interval [-0.1000, 0.1600] on 100 test rows: -0.1000 vs bound 0 (constant 0.6000)',
    );
    expect(decisionLines(d).join('\n')).toContain('FAIL  accuracy (all) baseline constant');
    expect(gateSummary(d)).toContain('| baseline constant |');
  });

  it('passes a model that clearly beats the constant', () => {
    const d = run(0.95, loose);
    expect(d.passed).toBe(true);
    expect(d.rules.find((r) => r.rule === 'baseline')!.interval!.held).toBeGreaterThan(0);
  });

  it('a model that predicts the constant itself does not beat it by 0', () => {
    const predictions = labels.flatMap(() => [0.6, 0.4]);
    const p: TestPredictions = { task: 'binary', width: 2, labels, candidate: predictions, baselines: { constant: predictions } };
    const evaluation: EvaluateOutputs = {
      rows: 100,
      ...evaluationOf(p, 'candidate'),
      baselines: { constant: evaluationOf(p, 'constant') },
    };
    expect(decide(loose, evaluation, { predictions: p }).passed).toBe(false);
  });

  it('gates.baseline holds the candidate to the linear baseline by its margin, and the constant rule stays', () => {
    const gates = { ...loose, baseline: { against: 'linear' as const, metric: 'log_loss' as const, margin: 0.02 } };
    // As good as the linear model: beats the constant, not the linear model by 0.02.
    const d = run(0.9, gates);
    const [constant, linear] = d.rules.filter((r) => r.rule === 'baseline');
    expect(constant).toMatchObject({ metric: 'accuracy', baseline: { name: 'constant' }, passed: true });
    expect(linear).toMatchObject({ metric: 'log_loss', bound: 0.02, baseline: { name: 'linear' }, passed: false });
    expect(run(0.99, gates).passed).toBe(true);
  });

  it('fails a rule against a baseline that could not be trained, with the reason', () => {
    const evaluation: EvaluateOutputs = {
      rows: 100,
      metrics: evaluationOf({ task: 'binary', width: 2, labels, candidate: model(1) }, 'candidate').metrics,
      slices: {},
      baselines: {
        constant: { metrics: evaluationOf({ task: 'binary', width: 2, labels, candidate: model(0.6) }, 'candidate').metrics },
        linear: { skipped: 'training did not converge' },
      },
    };
    const d = decide({ ...loose, baseline: { against: 'linear', margin: 0 } }, evaluation);
    expect(d.rules.find((r) => r.baseline?.name === 'linear')).toMatchObject({
      passed: false,
      notJudged: 'the linear baseline was not trained: training did not converge',
    });
  });
});
