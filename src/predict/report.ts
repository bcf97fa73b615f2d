import { count, rate as percent } from '../format.js';
import type { PredictOutputs } from '../step-outputs.js';

/** Rows a minute over the whole batch, read to write. */
export const rowsPerMinute = (out: PredictOutputs) => (out.seconds.total ? (out.rows.scored / out.seconds.total) * 60 : 0);

/** A scored batch for people: what was read, scored and written, and the predictions against the training labels. */
export function predictLines(out: PredictOutputs): string[] {
  const lines = [
    `batch     as_of ${out.window.asOf}, model ${out.version} (${out.engine}), run ${out.runId}`,
    `rows      ${count(out.rows.read)} read, ${count(out.rows.quarantined)} quarantined (${percent(out.quarantinedShare)}), ${count(out.rows.scored)} scored, ${count(out.rows.written)} written`,
    `sink      ${out.sink.where}`,
    `took      ${out.seconds.total.toFixed(1)}s (scoring ${out.seconds.score.toFixed(1)}s, writing ${out.seconds.write.toFixed(1)}s): ${count(Math.round(rowsPerMinute(out)))} rows/min`,
    `outliers  ${percent(out.outlierRate)}`,
  ];
  if (out.classes) {
    lines.push('', 'class                          predicted   share  training');
    for (const [name, c] of Object.entries(out.classes))
      lines.push(
        `${name.padEnd(30)} ${count(c.predicted).padStart(9)}  ${percent(c.share).padStart(6)}  ${percent(c.training).padStart(8)}`,
      );
  }
  if (out.values) lines.push(`values    min ${out.values.min}, mean ${out.values.mean.toPrecision(6)}, max ${out.values.max}`);
  const rules = Object.entries(out.rules);
  if (rules.length)
    lines.push(
      '',
      `quarantined by rule: ${rules
        .slice(0, 5)
        .map(([rule, n]) => `${rule} ${count(n)}`)
        .join(', ')}`,
    );
  return lines;
}
