import type { Command } from 'commander';
import { MlopsError } from '../errors.js';
import { monitor } from '../monitor/monitor.js';
import { reportText } from '../monitor/report-rows.js';
import { contextFrom, type GlobalOptions } from './context.js';

interface MonitorFlags {
  window?: string;
  until?: string;
  log?: string[];
  json?: boolean;
  failOnBreach?: boolean;
}

export function registerMonitor(cli: Command): void {
  cli
    .command('monitor')
    .description(
      "judge the prediction log over a window, per model version: volume, error rate, latency, drift (PSI), outliers and class shift against monitoring.thresholds; alert on breaches and add the results to each version's history on the registry",
    )
    .option('--window <duration>', 'how far back to look, e.g. 30m, 1h, 7d (default: monitoring.window)')
    .option('--until <time>', 'the end of the window, an ISO time (default: now)')
    .option('--log <file...>', "prediction log files, folders or wildcards (default: the deployed servers' logs)")
    .option('--json', 'print the report as JSON')
    .option('--fail-on-breach', 'exit 4 when a version breaches a threshold (by default a breach alerts and exits 0)')
    .action(async (opts: MonitorFlags, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>());
      const report = await monitor(ctx, { window: opts.window, until: opts.until ? new Date(opts.until) : undefined, logs: opts.log });
      process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : reportText(report)) + '\n');
      const breached = report.versions.filter((v) => v.breaches.length).map((v) => v.version);
      if (opts.failOnBreach && breached.length)
        throw new MlopsError('quality', `${breached.join(', ')} breached monitoring thresholds`, { hint: 'see the report above' });
    });
}
