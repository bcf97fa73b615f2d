import { describeBreach } from './alerts.js';
import type { MonitorReport, VersionReport } from './report.js';

const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(2)}%`);
const fixed = (v: number | null | undefined, digits = 3) => (v === null || v === undefined ? '–' : v.toFixed(digits));

/** The feature that drifted most, and its PSI. */
export const maxPsi = (v: VersionReport): [string, number] | undefined =>
  Object.entries(v.psi).reduce<[string, number] | undefined>((top, e) => (!top || e[1] > top[1] ? e : top), undefined);

const verdict = (v: VersionReport) =>
  v.breaches.length ? `${v.breaches.length} breached` : v.notJudged.length ? 'ok, partly judged' : 'ok';

/** One row per version, for the CLI's text table and the job summary's markdown table alike. */
export function versionRows(report: MonitorReport): { head: string[]; rows: string[][] } {
  return {
    head: ['version', 'verdict', 'predictions', 'requests', 'error rate', 'latency p50/p95/p99 ms', 'outliers', 'max PSI', 'class PSI'],
    rows: report.versions.map((v) => {
      const top = maxPsi(v);
      const l = v.latencyMs;
      return [
        v.version,
        verdict(v),
        String(v.predictions),
        String(v.requests),
        pct(v.errorRate),
        l ? `${fixed(l.p50, 1)} / ${fixed(l.p95, 1)} / ${fixed(l.p99, 1)}` : '–',
        pct(v.outlierRate),
        top ? `${top[1].toFixed(3)} (${top[0]})` : '–',
        fixed(v.classPsi),
      ];
    }),
  };
}

/** Every breach and every measure not judged, one line each, by version. */
export const findings = (report: MonitorReport): string[] =>
  report.versions.flatMap((v) => [
    ...v.breaches.map((b) => `${v.version}: ${describeBreach(b)}`),
    ...v.notJudged.map((n) => `${v.version}: not judged: ${n}`),
  ]);

/** The report for a terminal: the window, a padded table, the findings. */
export function reportText(report: MonitorReport): string {
  const { window, lines } = report;
  const head = `monitor: ${window.start} to ${window.end} (${window.duration}): ${lines.inWindow} of ${lines.read} lines in the window, ${lines.malformed} malformed`;
  if (!report.versions.length) return `${head}\nno predictions in the window: nothing to judge`;
  const { head: columns, rows } = versionRows(report);
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [head, '', line(columns), ...rows.map(line), '', ...findings(report)].join('\n').trimEnd();
}
