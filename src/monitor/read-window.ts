import type { StepContext } from '../context.js';
import type { LogSource } from './log-sources.js';
import { parseLine, quickTime } from './log-lines.js';
import type { MonitorReport } from './report.js';
import type { VersionStats } from './version-stats.js';
import type { TimeWindow } from './window.js';

/** Malformed lines named one by one; past this, only counted. */
const NAMED = 10;

/**
 * Reads every source's lines and counts those in the window into their version's stats. A line
 * that cannot be read is counted and skipped with a warning naming where it is, never fatal: a log
 * being written has a half-written last line, and one bad line must not blind the monitor.
 */
export async function readWindow(
  ctx: StepContext,
  sources: LogSource[],
  window: TimeWindow,
  statsFor: (version: string) => Promise<VersionStats>,
): Promise<MonitorReport['lines']> {
  const counts = { read: 0, inWindow: 0, malformed: 0 };
  const task = ctx.progress.start('monitor: reading the prediction logs', { unit: 'lines' });
  const stats = new Map<string, VersionStats>();
  for (const source of sources) {
    let n = 0;
    let lastRequest: string | undefined;
    for await (const line of source.lines()) {
      n++;
      if (++counts.read % 50_000 === 0) task.update(counts.read);
      if (!line.trim()) continue;
      // The server writes UTC times first in every line: most lines outside the window skip the parse.
      const quick = quickTime(line);
      if (quick?.length === 24 && quick.endsWith('Z') && (quick < window.start || quick >= window.end)) continue;
      const r = parseLine(line);
      if ('problem' in r) {
        if (++counts.malformed <= NAMED) ctx.log.warn(`monitor: ${source.where(n)}: ${r.problem}; the line is skipped`);
        continue;
      }
      const time = new Date(r.time).toISOString();
      if (time < window.start || time >= window.end) continue;
      counts.inWindow++;
      let version = stats.get(r.version);
      if (!version) stats.set(r.version, (version = await statsFor(r.version)));
      if ('status' in r) version.addFailure(r.status);
      else if ('batch' in r) version.addBatch(r.batch);
      // The records of one batch request are consecutive lines with its request id.
      else version.addPrediction(r, !r.requestId || r.requestId !== lastRequest);
      lastRequest = 'inputs' in r ? r.requestId : undefined;
    }
  }
  if (counts.malformed > NAMED) ctx.log.warn(`monitor: ${counts.malformed - NAMED} more malformed lines skipped`);
  task.finish(`${counts.read} lines, ${counts.inWindow} in the window, ${counts.malformed} malformed`);
  return counts;
}
