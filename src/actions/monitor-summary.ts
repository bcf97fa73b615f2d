import { findings, maxPsi, versionRows } from '../monitor/report-rows.js';
import type { HistoryEntry, MonitorReport, VersionReport } from '../monitor/report.js';
import { chart, table } from './summary.js';

/** One version's charts: drift per feature in this window; over its last runs, the largest drift and the p99 latency. */
function versionCharts(v: VersionReport, history: HistoryEntry[], thresholds: { psi: number; latency_p99_ms: number }): string[] {
  const parts = [`#### ${v.version}`];
  const features = Object.entries(v.psi);
  if (features.length)
    parts.push(
      chart(
        'PSI per feature',
        features.map(([f]) => f),
        'bar',
        features.map(([, p]) => p),
        thresholds.psi,
      ),
    );
  const runs = history.filter((h) => maxPsi(h) !== undefined);
  const when = (h: HistoryEntry) => h.window.end.slice(5, 16).replace('T', ' ');
  if (runs.length > 1)
    parts.push(
      chart(
        'largest feature PSI per run',
        runs.map(when),
        'line',
        runs.map((h) => maxPsi(h)![1]),
        thresholds.psi,
      ),
    );
  const timed = history.filter((h) => h.latencyMs);
  if (timed.length > 1) {
    parts.push(
      chart(
        'p99 latency per run, ms',
        timed.map(when),
        'line',
        timed.map((h) => h.latencyMs!.p99),
        thresholds.latency_p99_ms,
      ),
    );
  }
  return parts.length > 1 ? parts : [];
}

/** The monitor's job summary: the window, a row per version, every finding, and charts with each version's history. */
export function monitorSummary(
  report: MonitorReport,
  history: Record<string, HistoryEntry[]>,
  thresholds: { psi: number; latency_p99_ms: number },
): string {
  const { window, lines } = report;
  const breached = report.versions.filter((v) => v.breaches.length).length;
  const head = `### monitor: ${breached ? `❌ ${breached} of ${report.versions.length} versions breached` : `✅ ${report.versions.length} versions within thresholds`}`;
  const parts = [
    head,
    `The ${window.duration} from ${window.start} to ${window.end}: ${lines.inWindow} of ${lines.read} lines in the window, ${lines.malformed} malformed, from ${report.sources.join(', ') || 'no prediction log'}.`,
  ];
  if (!report.versions.length) return [...parts, 'No predictions in the window: nothing was judged.'].join('\n\n');
  const { head: columns, rows } = versionRows(report);
  parts.push(table(columns, rows));
  const found = findings(report);
  if (found.length) parts.push(found.map((f) => `- ${f}`).join('\n'));
  for (const v of report.versions) parts.push(...versionCharts(v, history[v.version] ?? [], thresholds));
  return parts.join('\n\n');
}
