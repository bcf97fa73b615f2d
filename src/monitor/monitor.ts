import { writeArtifact } from '../artifacts.js';
import { monitorReportFile } from '../artifact-files.js';
import type { StepContext } from '../context.js';
import { describeError } from '../errors.js';
import { alertFor, notifyFailure } from '../notify/notify.js';
import { MONITOR_STEP, sendMonitorAlerts } from './alerts.js';
import { judge } from './judge.js';
import { batchSources, logSources } from './log-sources.js';
import { readWindow } from './read-window.js';
import { historyEntries, type MonitorReport } from './report.js';
import { versionReference } from './version-reference.js';
import { VersionStats } from './version-stats.js';
import { timeWindow } from './window.js';

export interface MonitorOptions {
  /** A duration such as 1h; monitoring.window by default. */
  window?: string;
  /** The window's end; now by default. */
  until?: Date;
  /** Prediction log files, folders or wildcards; the deployed servers' logs by default. */
  logs?: string[];
}

/**
 * `mlops monitor`: the prediction log over a window, per model version: volume, error rate,
 * latency percentiles, PSI drift per feature against the training reference, outlier rate and the
 * shift of the predicted classes, each judged against `monitoring.thresholds`. Writes the report
 * (`runs/<run-id>/monitor/report.json`), adds each version's results to its history on the
 * registry, and alerts on breaches. A breach is the monitor working, not failing: it returns the
 * report; only a monitor that cannot do its work throws (and alerts as such).
 */
export async function monitor(ctx: StepContext, options: MonitorOptions = {}): Promise<MonitorReport> {
  try {
    return await monitorWindow(ctx, options);
  } catch (err) {
    const alert = alertFor(ctx, MONITOR_STEP, err);
    await notifyFailure(ctx, {
      ...alert,
      rekick: 'mlops monitor',
      title: 'mlops: the prediction monitor failed',
      advice: [
        `The monitor failed (${alert.errorClass}) and judged nothing. Fix the cause, then choose **Re-run failed jobs** on the workflow run, or run \`mlops monitor\`; the next monitor run that works closes this issue.`,
      ],
    });
    throw err;
  }
}

async function monitorWindow(ctx: StepContext, options: MonitorOptions): Promise<MonitorReport> {
  const { config, registry } = ctx;
  const window = timeWindow(options.window ?? config.monitoring.window, options.until);
  // Scored batches are traffic of their versions too, unless the logs to read were named.
  const sources = [...(await logSources(ctx, window, options.logs)), ...(options.logs?.length ? [] : await batchSources(registry))];
  const stats: { version: VersionStats; redacted: string[] }[] = [];
  const lines = await readWindow(ctx, sources, window, async (name) => {
    const reference = await versionReference(registry, name, ctx.log);
    const redacted = (reference?.features ?? []).map((f) => f.name).filter((f) => config.serving.log.redact.includes(f));
    const version = new VersionStats(name, reference, new Set(redacted), config.serving.outlier_z);
    stats.push({ version, redacted });
    return version;
  });
  const judged: Omit<MonitorReport, 'unalerted'> = {
    format: 'mlops-monitor-report/1',
    runId: ctx.runId,
    project: config.project,
    generatedAt: new Date().toISOString(),
    window,
    sources: sources.map((s) => s.name),
    lines,
    versions: stats
      .map(({ version, redacted }) => judge(version.measures(), config.monitoring, redacted))
      .sort((a, b) => a.version.localeCompare(b.version, 'en', { numeric: true })),
  };
  if (!lines.inWindow) {
    const where = sources.length ? sources.map((s) => s.name).join(', ') : 'any prediction log';
    ctx.log.warn(`monitor: no predictions logged from ${window.start} to ${window.end} in ${where}: nothing was judged`);
  }
  // The alerts first, so that the report says which breaches reached nobody (they never throw).
  const report: MonitorReport = { ...judged, unalerted: await sendMonitorAlerts(ctx, judged) };
  await writeArtifact(ctx, monitorReportFile, report);
  await recordHistory(ctx, report);
  return report;
}

/** Best effort, like the run ledger on the registry branch: the report and the alerts stand without it. */
async function recordHistory(ctx: StepContext, report: MonitorReport): Promise<void> {
  const entries = historyEntries(report);
  if (!entries.length) return;
  await ctx.registry
    .recordMonitoring(entries)
    .catch((err: unknown) =>
      ctx.log.warn(`monitor: could not add this run to the monitoring history on the registry: ${describeError(err)}`),
    );
}
