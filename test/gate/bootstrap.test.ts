import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { classificationScorer, rocAuc } from '../../src/evaluate/metrics.js';
import { drawCounts, pairedResamples, percentileInterval } from '../../src/gate/bootstrap.js';
import { decide } from '../../src/gate/gate.js';
import { evaluationOf } from '../../src/evaluate/test-predictions.js';
import { seededRandom } from '../../src/model/random.js';
import type { EvaluateOutputs, TestPredictions } from '../../src/step-outputs.js';

const random = seededRandom(5);
const rows = 400;
const truth = Float64Array.from({ length: rows }, () => (random() < 0.5 ? 1 : 0));
/** Binary probabilities, sharper toward the truth with `skill`. */
const model = (skill: number) =>
  Float64Array.from({ length: rows * 2 }, (_, i) => {
    const p1 = Math.min(0.99, Math.max(0.01, 0.5 + (truth[i >> 1] ? skill : -skill) + (random() - 0.5) * 0.6));
    return i % 2 ? p1 : 1 - p1;
  });
const candidate = model(0.15);
// The champion: the candidate's scores, a little noisier. Models of one project err on much the same
// rows, which is what pairing takes out of the difference.
const champion = new Float64Array(rows * 2);
for (let r = 0; r < rows; r++) {
  champion[r * 2 + 1] = Math.min(0.99, Math.max(0.01, candidate[r * 2 + 1]! + (random() - 0.5) * 0.3));
  champion[r * 2] = 1 - champion[r * 2 + 1]!;
}
const scorers = [classificationScorer(truth, candidate, 2), classificationScorer(truth, champion, 2)];

describe('the paired bootstrap', () => {
  it('draws n rows with replacement', () => {
    const counts = new Uint32Array(1000);
    drawCounts(seededRandom(1), counts);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1000);
    // About 1/e of the rows are left out of a draw.
    expect(counts.filter((c) => c === 0).length / 1000).toBeCloseTo(Math.exp(-1), 1);
  });

  it('scores a draw from its counts as it would the rows repeated that many times', () => {
    const counts = new Uint32Array(rows);
    drawCounts(seededRandom(2), counts);
    const repeated = [...counts].flatMap((c, r) => Array<number>(c).fill(r));
    const auc = rocAuc(
      repeated.map((r) => truth[r]!),
      repeated.map((r) => candidate[r * 2 + 1]!),
    );
    expect(scorers[0]!(counts).roc_auc).toBeCloseTo(auc, 12);
  });

  it('is reproducible: the same seed gives the same resamples, another seed others', () => {
    const run = (seed: number) => pairedResamples(scorers, rows, ['roc_auc'], { resamples: 200, seed })[0]!.get('roc_auc')!;
    expect(run(7)).toEqual(run(7));
    expect(run(8)).not.toEqual(run(7));
  });

  it('is paired: a model against itself differs by exactly 0 on every resample, though each value varies', () => {
    const [a, b] = pairedResamples([scorers[0]!, scorers[0]!], rows, ['accuracy'], { resamples: 200, seed: 1 });
    const values = a!.get('accuracy')!;
    expect(values).toEqual(b!.get('accuracy'));
    expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(0.02);
  });

  it("gives an interval of the difference that covers the point difference, narrower than either model's own", () => {
    const [a, b] = pairedResamples(scorers, rows, ['roc_auc'], { resamples: 1000, seed: 1 });
    const diff = a!.get('roc_auc')!.map((v, i) => v - b!.get('roc_auc')![i]!);
    const point =
      rocAuc(
        [...truth],
        [...candidate].filter((_, i) => i % 2),
      ) -
      rocAuc(
        [...truth],
        [...champion].filter((_, i) => i % 2),
      );
    const interval = percentileInterval(diff, 0.95)!;
    expect(interval.low).toBeLessThan(point);
    expect(interval.high).toBeGreaterThan(point);
    const own = percentileInterval(a!.get('roc_auc')!, 0.95)!;
    expect(interval.high - interval.low).toBeLessThan(own.high - own.low);
    // A higher confidence widens it.
    const wider = percentileInterval(diff, 0.99)!;
    expect(wider.low).toBeLessThanOrEqual(interval.low);
    expect(wider.high).toBeGreaterThanOrEqual(interval.high);
  });

  it('leaves out resamples where a metric is undefined, and has no interval when it is undefined on all', () => {
    expect(percentileInterval([NaN, 1, 2, 3, NaN], 0.5)).toEqual({ low: 1.5, high: 2.5 });
    expect(percentileInterval([NaN, NaN], 0.95)).toBeUndefined();
  });
});

describe('the gate with value_on: interval', () => {
  // 30 rows, the candidate right on 27: a point accuracy of 0.9 over a lower bound of 0.85.
  const labels = Array.from({ length: 30 }, (_, r) => r % 2);
  const predictions: TestPredictions = {
    task: 'binary',
    width: 2,
    labels,
    candidate: labels.flatMap((l, r) => (r < 3 ? [l, 1 - l] : [1 - l, l]).map((p) => p * 0.8 + 0.1)),
  };
  const evaluation: EvaluateOutputs = { rows: 30, ...evaluationOf(predictions, 'candidate') };
  const gates = { thresholds: { accuracy: { lower: 0.85 } }, min_slice_rows: 20 };

  it('judges value thresholds on the point estimate by default', () => {
    const d = decide(gates, evaluation, { predictions });
    expect(d.rules[0]).toMatchObject({ rule: 'lower', value: 0.9, passed: true });
    expect(d.rules[0]!.interval).toBeUndefined();
    expect(d.bootstrap).toBeUndefined();
  });

  it('holds the worse end of the interval to the bound when asked, and says it cannot tell', () => {
    const d = decide({ ...gates, value_on: 'interval' }, evaluation, { predictions });
    expect(d.rules[0]).toMatchObject({ rule: 'lower', value: 0.9, rows: 30, passed: false });
    expect(d.rules[0]!.interval!.held).toBe(d.rules[0]!.interval!.low);
    expect(d.rules[0]!.interval!.low).toBeLessThan(0.85);
    expect(d.rules[0]!.undecided).toMatch(/^cannot tell whether the candidate clears the bound on 30 test rows: the point estimate does/);
  });
});

describe('the bootstrap settings', () => {
  it('refuses a bad confidence or too few resamples, naming the key and what to write', async () => {
    const { config } = await loadConfig('mlops.config.yaml', process.env);
    const withGates = (gates: object) => () => parseConfig({ ...config, gates: { ...config.gates, ...gates } }, process.env);
    expect(withGates({ confidence: 95 })).toThrow(/gates\.confidence: expected a confidence between 0 and 1, e\.g\. 0\.95/);
    expect(withGates({ bootstrap: { resamples: 10 } })).toThrow(/gates\.bootstrap\.resamples: expected at least 100 resamples/);
    expect(withGates({ value_on: 'median' })).toThrow(/gates\.value_on/);
  });
});
