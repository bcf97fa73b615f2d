/**
 * `npm run bench:bootstrap`: the gate's paired bootstrap on synthetic stored predictions, as the
 * gate runs it: draw counts, then every classification metric (ROC AUC included) of both models on
 * each draw. Target: 1,000 resamples of 10,000 binary test rows in <= 2 s. Also 3 classes (three
 * one-vs-rest AUCs) and regression, for scale.
 *
 *   npm run bench:bootstrap -- [--rows N] [--resamples N]
 */
import { parseArgs } from 'node:util';
import { classificationScorer, regressionScorer, type Scorer } from '../src/evaluate/metrics.js';
import { pairedResamples, percentileInterval } from '../src/gate/bootstrap.js';
import { seededRandom } from '../src/model/random.js';
import { targets } from './targets.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '10000' }, resamples: { type: 'string', default: '1000' } } });
const rows = Number(values.rows);
const resamples = Number(values.resamples);
const random = seededRandom(3);

/** Labels and two models' class probabilities, the candidate a little sharper than the champion. */
function classification(k: number): { scorers: Scorer[] } {
  const truth = Float64Array.from({ length: rows }, () => Math.floor(random() * k));
  const model = (sharpness: number) => {
    const probs = new Float64Array(rows * k);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let c = 0; c < k; c++) sum += probs[r * k + c] = Math.exp(random() * 2 + (c === truth[r] ? sharpness : 0));
      for (let c = 0; c < k; c++) probs[r * k + c]! /= sum;
    }
    return classificationScorer(truth, probs, k);
  };
  return { scorers: [model(1.2), model(1)] };
}

function regression(): { scorers: Scorer[] } {
  const truth = Float64Array.from({ length: rows }, () => random() * 10);
  const model = (noise: number) =>
    regressionScorer(
      truth,
      truth.map((t) => t + (random() - 0.5) * noise),
    );
  return { scorers: [model(1), model(1.2)] };
}

const check = targets();
console.log(`paired bootstrap, ${resamples.toLocaleString('en-US')} resamples of ${rows.toLocaleString('en-US')} test rows, two models:\n`);
const cases = [
  { name: 'binary, every classification metric incl. ROC AUC', setup: () => classification(2), metric: 'roc_auc' as const, target: 2 },
  { name: '3 classes, every metric (3 one-vs-rest AUCs)', setup: () => classification(3), metric: 'roc_auc' as const },
  { name: 'regression, rmse, mae, r2', setup: regression, metric: 'rmse' as const },
];
for (const c of cases) {
  const { scorers } = c.setup();
  const metrics =
    c.metric === 'rmse'
      ? (['rmse', 'mae', 'r2'] as const)
      : (['accuracy', 'precision', 'recall', 'macro_f1', 'roc_auc', 'log_loss'] as const);
  const began = performance.now();
  const cpu = process.cpuUsage();
  const [candidate, champion] = pairedResamples(scorers, rows, metrics, { resamples, seed: 1 });
  const seconds = (performance.now() - began) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  const a = candidate!.get(c.metric)!;
  const b = champion!.get(c.metric)!;
  const interval = percentileInterval(
    a.map((v, i) => v - b[i]!),
    0.95,
  )!;
  const met = c.target === undefined || check.check(seconds <= c.target, `${c.name}: ${seconds.toFixed(2)} s > ${c.target} s`);
  console.log(
    `${c.name.padEnd(52)} ${seconds.toFixed(2)} s (CPU ${((user + system) / 1e6).toFixed(2)} s)${c.target ? ` (target <= ${c.target} s${met ? '' : ', MISSED'})` : ''}; ${c.metric} difference 95% [${interval.low.toFixed(4)}, ${interval.high.toFixed(4)}]`,
  );
}
check.report();
