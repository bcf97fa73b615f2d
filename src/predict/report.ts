import type { PredictOutputs } from '../step-outputs.js';

const count = (n: number) => n.toLocaleString('en-US');
const percent = (share: number | null) => (share === null ? '-' : `${(share * 100).toFixed(1)}%`);

/** A scored batch for people: what was read, scored and written, and the predictions against the training labels. */
export function predictLines(out: PredictOutputs): string[] {
  const perMinute = out.seconds.total ? (out.rows.scored / out.seconds.total) * 60 : 0;
  const lines = [
    `batch     as_of ${out.window.asOf}, model ${out.version} (${out.engine}), run ${out.runId}`,
    `rows      ${count(out.rows.read)} read, ${count(out.rows.quarantined)} quarantined (${percent(out.quarantinedShare)}), ${count(out.rows.scored)} scored, ${count(out.rows.written)} written`,
    `sink      ${out.sink.where}`,
    `took      ${out.seconds.total.toFixed(1)}s (scoring ${out.seconds.score.toFixed(1)}s, writing ${out.seconds.write.toFixed(1)}s): ${count(Math.round(perMinute))} rows/min`,
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
