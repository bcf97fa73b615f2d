import { configError } from '../errors.js';

/** The training window of a batch run: rows with window_start <= t < as_of. */
export interface Window {
  asOf: string;
  windowStart: string;
  days: number;
}

/** A run on day D is reproduced by a rerun with as_of D; `today` means the UTC date now. */
export function resolveWindow(asOf: string, days: number, now = new Date()): Window {
  const day = asOf === 'today' ? now.toISOString().slice(0, 10) : asOf;
  const t = Date.parse(`${day}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== day) {
    throw configError(`as_of: expected a date as YYYY-MM-DD, got "${asOf}"`);
  }
  const windowStart = new Date(t - days * 86_400_000).toISOString().slice(0, 10);
  return { asOf: day, windowStart, days };
}

/**
 * Replaces `$as_of`, `$window_start` and `$window_days` with literals. Literals rather than bind
 * parameters because PostgreSQL's COPY takes none; the values are validated dates and an integer,
 * so nothing a user typed reaches the SQL unchecked.
 */
export function bindWindow(sql: string, window: Window): string {
  return sql
    .replace(/\$as_of\b/g, `DATE '${window.asOf}'`)
    .replace(/\$window_start\b/g, `DATE '${window.windowStart}'`)
    .replace(/\$window_days\b/g, String(window.days));
}
