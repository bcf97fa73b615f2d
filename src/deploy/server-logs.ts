import { rotationOf } from '../prediction-log-files.js';

/** A file in a folder of prediction logs, with when it was last written. */
export interface LogFile {
  name: string;
  mtime: string;
}

/** One server's prediction log: its files by name, oldest first. */
export interface ServerLog {
  server: string;
  files: string[];
}

/**
 * The servers' prediction logs in a folder where each server writes `<server id>.jsonl` (rotated to
 * `<id>.1.jsonl`, `<id>.2.jsonl`, ...): the servers still there and the removed alike. Files last
 * written before `since` are left out, as every line in them is older.
 */
export function serverLogs(files: LogFile[], since = '', isServer: (id: string) => boolean = () => true): ServerLog[] {
  const logs = new Map<string, { name: string; n: number }[]>();
  for (const file of files) {
    const of = rotationOf(file.name);
    if (!of || !isServer(of.log) || file.mtime < since) continue;
    logs.set(of.log, [...(logs.get(of.log) ?? []), { name: file.name, n: of.n }]);
  }
  return [...logs]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([server, found]) => ({ server, files: found.sort((a, b) => b.n - a.n).map((f) => f.name) }));
}
