import type { DuckDBConnection } from '@duckdb/node-api';
import { ident } from '../data/duckdb.js';
import { configError } from '../errors.js';

/**
 * Where a batch's predictions are written. Every sink replaces the batch of the same as_of as a
 * whole, or leaves it as it was: a file renamed into place, or a table's rows of that as_of deleted
 * and inserted in one transaction. A rerun never appends a second copy, and a failure half way
 * leaves the previous batch in place.
 */
export interface Sink {
  /** Where a batch of this as_of goes, for messages and the report. */
  where(asOf: string): string;
  /** Writes the rows of `select` (keys, then the prediction columns); returns how many. */
  write(batch: BatchWrite): Promise<number>;
}

export interface BatchWrite {
  db: DuckDBConnection;
  select: string;
  asOf: string;
  runId: string;
  /** The run's scratch folder, removed after the step. */
  tempDir: string;
}

/** An existing table takes a batch only if it has the batch's columns, no more and no fewer. */
export function checkTableColumns(table: string, existing: string[], ours: string[]): void {
  if (existing.length === 0) return;
  const same = existing.length === ours.length && ours.every((c) => existing.includes(c));
  if (!same)
    throw configError(
      `predict.sink.table ${table} has the columns ${existing.join(', ')}, but a batch writes ${ours.join(', ')}`,
      'drop or rename that table (the next batch creates it), or point predict.sink.table at another',
    );
}

/** `schema.table` or `table` as a quoted SQL name. */
export const tableIdent = (table: string) => table.split('.').map(ident).join('.');
