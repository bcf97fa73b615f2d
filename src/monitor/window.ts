import { durationPattern } from '../config/schema.js';
import { configError } from '../errors.js';

const unitMs = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export interface TimeWindow {
  duration: string;
  /** ISO times, start inclusive, end exclusive: log lines compare as strings, with no date parsing. */
  start: string;
  end: string;
}

/** The window of `duration` (30m, 1h, 7d) ending at `until`. */
export function timeWindow(duration: string, until = new Date()): TimeWindow {
  const m = durationPattern.exec(duration);
  if (!m) throw configError(`--window: expected a duration such as 30m, 1h or 7d, got "${duration}"`);
  const ms = Number(m[1]) * unitMs[m[2] as keyof typeof unitMs];
  if (Number.isNaN(until.getTime())) throw configError('--until: expected an ISO time such as 2026-11-21T16:00:00Z');
  return { duration, start: new Date(until.getTime() - ms).toISOString(), end: until.toISOString() };
}
