/** What one `mlops monitor` run found: written as `runs/<run-id>/monitor/report.json`. */

export const monitoredMetrics = ['psi', 'outlier_rate', 'error_rate', 'latency_p99_ms', 'class_psi'] as const;
export type MonitoredMetric = (typeof monitoredMetrics)[number];

/** A value above its `monitoring.thresholds` entry. */
export interface Breach {
  metric: MonitoredMetric;
  /** For psi: the feature that drifted. */
  feature?: string;
  value: number;
  threshold: number;
}

export interface VersionReport {
  version: string;
  /** False when the registry has no such version: drift and class shift cannot be measured. */
  inRegistry: boolean;
  predictions: number;
  /** Requests with predictions, and requests answered 4xx or 5xx, by status. */
  requests: number;
  failed: Record<string, number>;
  errorRate: number | null;
  /** The server's own time per successful request. */
  latencyMs: { p50: number; p95: number; p99: number } | null;
  outlierRate: number | null;
  /** PSI per feature against the training reference. */
  psi: Record<string, number>;
  /** Share of predictions per class, served and in the training labels. */
  classes: Record<string, { served: number; training: number }> | null;
  classPsi: number | null;
  /** Why some metrics were not judged: too little volume, an unknown version, redacted features. */
  notJudged: string[];
  breaches: Breach[];
}

export interface MonitorReport {
  format: 'mlops-monitor-report/1';
  runId: string;
  project: string;
  generatedAt: string;
  window: { duration: string; start: string; end: string };
  /** The logs read: files, or deployed servers. */
  sources: string[];
  lines: { read: number; inWindow: number; malformed: number };
  versions: VersionReport[];
  /** Versions that breached and whose alert reached no sink beyond the log: a breach nobody was told of. */
  unalerted: string[];
}

/** One version's entry in its monitoring history on the registry: what later runs and the dashboard plot. */
export interface HistoryEntry extends VersionReport {
  runId: string;
  generatedAt: string;
  window: MonitorReport['window'];
}

export const historyEntries = (report: MonitorReport): HistoryEntry[] =>
  report.versions
    .filter((v) => v.inRegistry)
    .map((v) => ({ ...v, runId: report.runId, generatedAt: report.generatedAt, window: report.window }));
