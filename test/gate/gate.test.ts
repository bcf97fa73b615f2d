import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { EvaluateOutputs } from '../../src/evaluate/evaluate.js';
import { decide } from '../../src/gate/gate.js';

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
      name: 'checks slices with enough rows, and skips the small ones',
      gates: gates({ accuracy: { lower: 0.8 } }),
      evaluation: evaluation([0.9, 0.3], undefined, { Biscoe: [50, 0.95, 0.1], Dream: [30, 0.7, 0.5], Torgersen: [5, 0.1, 2] }),
      passed: false,
      failing: ['accuracy island=Dream lower'],
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
    expect(decide(g, evaluation([0.9, 0.3]), { reason: 'hotfix for the new island' })).toMatchObject({
      passed: false,
      blessed: true,
      forced: { reason: 'hotfix for the new island' },
    });
    expect(() => decide(g, evaluation([0.9, 0.3]), { reason: ' ' })).toThrow(/needs a reason/);
  });
});
