import { count } from '../format.js';
import { columns } from '../report.js';
import type { RunDigest } from './recent.js';

/** `mlops status`: the last batch scoring runs, with the day, the version, the rows and where they went. */
export function batchTable(batches: RunDigest[]): string {
  const rows = batches.map((r) => [
    r.runId,
    r.status,
    r.batch?.asOf ?? '-',
    r.batch?.version ?? '-',
    r.batch?.scored === undefined ? '-' : count(r.batch.scored),
    r.batch?.quarantined === undefined ? '-' : count(r.batch.quarantined),
    r.failure ? `failed in ${r.failure.step}: ${r.failure.errorClass}: ${r.failure.message}` : (r.batch?.sink ?? '-'),
  ]);
  return columns(['batch run', 'status', 'as_of', 'version', 'scored', 'quarantined', 'written to'], rows);
}
