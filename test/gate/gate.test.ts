import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { gateSummary } from '../../src/actions/summary.js';
import { decide, rejection } from '../../src/gate/gate.js';
import { decisionLines } from '../../src/report.js';
import type { EvaluateOutputs } from '../../src/step-outputs.js';

const metrics = (accuracy: number, log_loss: number) => ({
  accuracy,
  log_loss,
  precision: accuracy,
  recall: accuracy,
  macro_f1: accuracy,
  roc_auc: accuracy,
  confusion: [],
});

const evaluation = (
  candidate: [number, number],
  champion?: [number, number],
  slices: Record<string, [number, number, number]> = {},
): EvaluateOutputs => ({
  rows: 100,
  sliceColumn: 'island',
  metrics: metrics(...candidate),
  slices: Object.fromEntries(Object.entries(slices).map(([k, [rows, a, l]]) => [k, { rows, metrics: metrics(a, l) }])),
  ...(champion ? { champion: { version: 'v1', metrics: metrics(...champion), slices: {} } } : {}),
});

/** `evaluation` with one whole-test-set metric replaced. */
const withMetric = (e: EvaluateOutputs, metric: string, value: number): EvaluateOutputs => ({
  ...e,
  metrics: { ...e.metrics, [metric]: value },
});

type Gates = NonNullable<Config['gates']>;
const gates = (thresholds: Gates['thresholds']): Gates => ({ thresholds, min_slice_rows: 20 });

describe('the gate', () => {
  const cases: { name: string; gates: Gates; evaluation: EvaluateOutputs; passed: boolean; failing?: string[] }[] = [
    {
      name: 'passes a value above its lower bound',
      gates: gates({ accuracy: { lower: 0.8 } }),
      evaluation: evaluation([0.9, 0.3]),
      passed: true,
    },
    {
      name: 'fails a value below its lower bound',
      gates: gates({ accuracy: { lower: 0.95 } }),
      evaluation: evaluation([0.9, 0.3]),
      passed: false,
      failing: ['accuracy all lower'],
    },
    {
      name: 'fails a value above its upper bound',
      gates: gates({ log_loss: { upper: 0.2 } }),
      evaluation: evaluation([0.9, 0.3]),
      passed: false,
      failing: ['log_loss all upper'],
    },
    {
      name: 'passes a small allowed drop against the champion (higher is better)',
      gates: gates({ accuracy: { change: { absolute: -0.02 } } }),
      evaluation: evaluation([0.89, 0.3], [0.9, 0.3]),
      passed: true,
    },
    {
      name: 'fails a larger drop against the champion',
      gates: gates({ accuracy: { change: { absolute: -0.02 } } }),
      evaluation: evaluation([0.85, 0.3], [0.9, 0.3]),
      passed: false,
      failing: ['accuracy all change.absolute'],
    },
    {
      name: 'measures lower-is-better metrics in the better direction',
      gates: gates({ log_loss: { change: { relative: 0 } } }),
      evaluation: evaluation([0.9, 0.35], [0.9, 0.3]),
      passed: false,
      failing: ['log_loss all change.relative'],
    },
    {
      name: 'checks slices with enough rows, and lists the small ones as not judged without failing them',
      gates: gates({ accuracy: { lower: 0.8 } }),
      evaluation: evaluation([0.9, 0.3], undefined, { Biscoe: [50, 0.95, 0.1], Dream: [30, 0.7, 0.5], Torgersen: [5, 0.1, 2] }),
      passed: false,
      failing: ['accuracy island=Dream lower'],
    },
    {
      name: 'fails a NaN metric on the whole test set: no rules left to judge is not a pass',
      gates: gates({ roc_auc: { lower: 0.8 } }),
      evaluation: withMetric(evaluation([0.9, 0.3]), 'roc_auc', NaN),
      passed: false,
      failing: ['roc_auc all lower'],
    },
    {
      name: 'fails a null metric (NaN after a JSON round trip) against an upper bound, where null <= bound would hold',
      gates: gates({ log_loss: { upper: 0.5 } }),
      evaluation: JSON.parse(JSON.stringify(withMetric(evaluation([0.9, 0.3]), 'log_loss', NaN))) as EvaluateOutputs,
      passed: false,
      failing: ['log_loss all upper'],
    },
    {
      name: 'fails an infinite metric, whichever side its bound is on',
      gates: gates({ log_loss: { lower: 0, upper: 0.5 } }),
      evaluation: withMetric(evaluation([0.9, 0.3]), 'log_loss', -Infinity),
      passed: false,
      failing: ['log_loss all lower', 'log_loss all upper'],
    },
    {
      name: 'fails a gated metric the evaluation does not have',
      gates: gates({ rmse: { upper: 1 } }),
      evaluation: evaluation([0.9, 0.3]),
      passed: false,
      failing: ['rmse all upper'],
    },
    {
      name: "fails a change rule when the champion's value is NaN",
      gates: gates({ accuracy: { change: { absolute: -0.02 } } }),
      evaluation: evaluation([0.9, 0.3], [NaN, 0.3]),
      passed: false,
      failing: ['accuracy all change.absolute'],
    },
    {
      name: 'reports a metric undefined on a slice (ROC AUC of one class) without failing it',
      gates: gates({ roc_auc: { lower: 0.8 } }),
      evaluation: evaluation([0.9, 0.3], undefined, { Biscoe: [50, NaN, 0.1], Dream: [30, 0.95, 0.2] }),
      passed: true,
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const d = decide(c.gates, c.evaluation);
      expect(d.passed).toBe(c.passed);
      expect(d.rules.filter((r) => !r.passed).map((r) => `${r.metric} ${r.scope} ${r.rule}`)).toEqual(c.failing ?? []);
    });
  }

  it('lists every rule with its value, bound and result, and the champion version', () => {
    const d = decide(gates({ accuracy: { lower: 0.8, change: { absolute: 0 } } }), evaluation([0.9, 0.3], [0.85, 0.3]));
    expect(d.championVersion).toBe('v1');
    expect(d.rules).toEqual([
      { metric: 'accuracy', scope: 'all', rule: 'lower', value: 0.9, bound: 0.8, passed: true },
      {
        metric: 'accuracy',
        scope: 'all',
        rule: 'change.absolute',
        value: expect.closeTo(0.05, 10),
        bound: 0,
        champion: 0.85,
        passed: true,
      },
    ]);
  });

  it('never drops a rule it cannot judge: it is listed with the reason, and fails only on the whole test set', () => {
    const d = decide(
      gates({ roc_auc: { lower: 0.8 } }),
      withMetric(evaluation([0.9, 0.3], undefined, { Biscoe: [50, NaN, 0.1], Torgersen: [5, 0.9, 0.2] }), 'roc_auc', NaN),
    );
    expect(d).toMatchObject({ passed: false, blessed: false });
    expect(d.rules).toEqual([
      {
        metric: 'roc_auc',
        scope: 'all',
        rule: 'lower',
        value: null,
        bound: 0.8,
        passed: false,
        notJudged: "the candidate's roc_auc is NaN (undefined on these rows)",
      },
      {
        metric: 'roc_auc',
        scope: 'island=Biscoe',
        rule: 'lower',
        value: null,
        bound: 0.8,
        passed: true,
        notJudged: "the candidate's roc_auc is NaN (undefined on these rows)",
      },
      {
        metric: 'roc_auc',
        scope: 'island=Torgersen',
        rule: 'lower',
        value: null,
        bound: 0.8,
        passed: true,
        notJudged: '5 test rows, fewer than gates.min_slice_rows (20)',
      },
    ]);
    expect(rejection(d).message).toBe(
      "the model failed the gate: roc_auc (all) lower: not judged, the candidate's roc_auc is NaN (undefined on these rows)",
    );
    expect(decisionLines(d)).toEqual([
      'gate REJECTED',
      '  no champion to compare with: checked on value thresholds only',
      "  FAIL  roc_auc (all) lower: not judged, the candidate's roc_auc is NaN (undefined on these rows)",
      "  note  roc_auc (island=Biscoe) lower: not judged, the candidate's roc_auc is NaN (undefined on these rows)",
      '  note  roc_auc (island=Torgersen) lower: not judged, 5 test rows, fewer than gates.min_slice_rows (20)',
    ]);
    expect(gateSummary(d)).toContain(
      "| ❌ | roc_auc | all | lower | not judged: the candidate's roc_auc is NaN (undefined on these rows) | 0.8000 | – |",
    );
  });

  it('judges a first model on value thresholds only, and says so', () => {
    const d = decide(gates({ accuracy: { lower: 0.8, change: { absolute: 0 } } }), evaluation([0.9, 0.3]));
    expect(d.rules.map((r) => r.rule)).toEqual(['lower']);
    expect(d.note).toContain('checked on value thresholds only');
  });

  it('refuses to run without thresholds: that would pass every model', () => {
    expect(() => decide(undefined, evaluation([0.9, 0.3]))).toThrow(/no thresholds configured/);
    expect(() => decide(gates({}), evaluation([0.9, 0.3]))).toThrow(/no thresholds configured/);
  });

  it('blesses a rejected model only when forced with a reason, and records the reason', () => {
    const g = gates({ accuracy: { lower: 0.99 } });
    expect(decide(g, evaluation([0.9, 0.3]), { force: { reason: 'hotfix for the new island' } })).toMatchObject({
      passed: false,
      blessed: true,
      forced: { reason: 'hotfix for the new island' },
    });
    expect(() => decide(g, evaluation([0.9, 0.3]), { force: { reason: ' ' } })).toThrow(/needs a reason/);
  });
});
