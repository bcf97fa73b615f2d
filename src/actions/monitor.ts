import * as core from '@actions/core';
import { join } from 'node:path';
import { MlopsError } from '../errors.js';
import { describeBreach } from '../monitor/alerts.js';
import { monitor } from '../monitor/monitor.js';
import type { HistoryEntry, MonitorReport } from '../monitor/report.js';
import { runAction } from './action.js';
import { monitorSummary } from './monitor-summary.js';

/** Runs shown in each version's charts. */
const HISTORY = 48;

/** The monitor action: judge the prediction logs over a window, alert on breaches, report with charts. */
export const run = () =>
  runAction<MonitorReport>({
    steps: {},
    task: (ctx) => monitor(ctx, { window: core.getInput('window') || undefined, logs: core.getMultilineInput('log') }),
    outputs: (report, ctx) => ({
      breached: report.versions
        .filter((v) => v.breaches.length)
        .map((v) => v.version)
        .join(','),
      breaches: report.versions.reduce((n, v) => n + v.breaches.length, 0),
      report: join(ctx.runDir, 'monitor', 'report.json'),
    }),
    // A breach that reached an alert sink leaves the job green (a red run would read as a broken
    // monitor); one that reached nobody fails it, since the red run is then the only alert.
    failure: (report) =>
      report.unalerted.length
        ? new MlopsError(
            'quality',
            `${report.unalerted.join(', ')} breached monitoring thresholds and no alert reached anyone: no webhook is set and no GitHub issue could be written`,
            { hint: 'turn on Issues in the repository settings (forks start with them off), or set the MLOPS_WEBHOOK_URL secret' },
          )
        : undefined,
    annotate: (report) => {
      for (const v of report.versions)
        for (const b of v.breaches) core.error(describeBreach(b), { title: `monitor: model ${v.version} breached` });
    },
    summary: async (report, ctx) => {
      const { registry } = ctx;
      const history: Record<string, HistoryEntry[]> = {};
      for (const v of report.versions.filter((v) => v.inRegistry))
        history[v.version] = await registry.monitoringHistory(v.version, HISTORY);
      return monitorSummary(report, history, ctx.config.monitoring.thresholds);
    },
  });
