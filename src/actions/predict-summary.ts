import { count, rate } from '../format.js';
import { rowsPerMinute } from '../predict/report.js';
import type { PredictOutputs } from '../step-outputs.js';
import { table } from './summary.js';

/** A class's predicted share beside its share of the training labels: a chart a reviewer reads at a glance. */
function classChart(classes: NonNullable<PredictOutputs['classes']>): string {
  const names = Object.keys(classes);
  const series = (vs: number[]) => `[${vs.map((v) => Number((v * 100).toFixed(2))).join(', ')}]`;
  return [
    '```mermaid',
    'xychart-beta',
    '  title "predicted share (bars) against the training labels (line), %"',
    `  x-axis [${names.map((n) => JSON.stringify(n)).join(', ')}]`,
    `  bar ${series(names.map((n) => classes[n]!.share))}`,
    `  line ${series(names.map((n) => classes[n]!.training ?? 0))}`,
    '```',
  ].join('\n');
}

/** The predict job's summary: rows scored and quarantined, where they went, and the predictions against training. */
export function predictSummary(out: PredictOutputs): string {
  const rules = Object.entries(out.rules).slice(0, 10);
  return [
    `### predict: ${count(out.rows.scored)} rows scored for ${out.window.asOf} with model ${out.version}`,
    `Written to ${out.sink.where} (${out.sink.kind}), replacing that day's batch; run \`${out.runId}\`, ${out.seconds.total.toFixed(1)} s (${count(Math.round(rowsPerMinute(out)))} rows/min).`,
    table(
      ['rows', 'count'],
      [
        ['read', count(out.rows.read)],
        ['quarantined, not scored', `${count(out.rows.quarantined)} (${rate(out.quarantinedShare)})`],
        ['scored', count(out.rows.scored)],
        ['written', count(out.rows.written)],
        ['outliers', rate(out.outlierRate)],
      ],
    ),
    out.classes
      ? `**Predicted classes against the training labels**\n\n${table(
          ['class', 'predicted', 'share', 'training'],
          Object.entries(out.classes).map(([name, c]) => [name, count(c.predicted), rate(c.share), rate(c.training)]),
        )}\n\n${classChart(out.classes)}`
      : '',
    out.values ? `**Predicted values**: min ${out.values.min}, mean ${out.values.mean.toPrecision(6)}, max ${out.values.max}.` : '',
    rules.length
      ? `**Quarantine reasons** (rows in \`predict/quarantine.jsonl\` of the run's artifact)\n\n${table(
          ['column:rule', 'rows'],
          rules.map(([k, v]) => [`\`${k}\``, count(v)]),
        )}`
      : '',
  ]
    .filter(Boolean)
    .join('\n\n');
}
