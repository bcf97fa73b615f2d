import type { Metrics } from './evaluate/metrics.js';
import type { Decision } from './gate/gate.js';
import type { PipelineResult } from './pipeline.js';

const fmt = (n: number) => n.toLocaleString('en-US');
const num = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : '-');

/** The metrics table: candidate against the champion, scored on the same test rows. */
export function metricsTable(candidate: Metrics, champion?: Metrics): string[] {
  const rows = Object.entries(candidate).filter(([k]) => k !== 'confusion');
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    `${'metric'.padEnd(width)}  candidate  champion`,
    ...rows.map(
      ([k, v]) =>
        `${k.padEnd(width)}  ${num(v).padStart(9)}  ${num(champion && (champion as unknown as Record<string, unknown>)[k]).padStart(8)}`,
    ),
  ];
}

/** Every gate rule with its value, bound and result, failures first. */
export function decisionLines(decision: Decision): string[] {
  const verdict = decision.passed
    ? 'PASSED'
    : decision.forced
      ? `REJECTED, released anyway (forced: ${decision.forced.reason})`
      : 'REJECTED';
  return [
    `gate ${verdict}${decision.championVersion ? ` against champion ${decision.championVersion}` : ''}`,
    ...(decision.note ? [`  ${decision.note}`] : []),
    ...[...decision.rules]
      .sort((a, b) => Number(a.passed) - Number(b.passed))
      .map(
        (r) =>
          `  ${r.passed ? 'pass' : 'FAIL'}  ${r.metric} (${r.scope}) ${r.rule}: ${num(r.value)} vs bound ${num(r.bound)}${r.champion !== undefined ? ` (champion ${num(r.champion)})` : ''}`,
      ),
  ];
}

/** The closing summary of `mlops run`. */
export function runSummary(runId: string, runDir: string, result: PipelineResult): string {
  const { extract: e, train: t, evaluate: ev } = result;
  return [
    `run ${runId}`,
    `data      ${fmt(e.rows.read)} rows read, ${fmt(e.rows.quarantined)} quarantined; train ${fmt(e.split.train)}, validation ${fmt(e.split.validation)}, test ${fmt(e.split.test)} (as_of ${e.window.asOf})`,
    `training  ${t.epochs} epochs on ${t.backend}, best epoch ${t.bestEpoch}, ${fmt(t.samplesPerSecond)} samples/s`,
    '',
    ...metricsTable(ev.metrics, ev.champion?.metrics),
    '',
    ...decisionLines(result.decision),
    '',
    result.record ? `released  registry version ${result.record.version} is the champion` : 'released  nothing: the champion stays',
    `artifacts ${runDir}`,
  ].join('\n');
}
