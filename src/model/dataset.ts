import { join } from 'node:path';
import type { ExtractOutputs } from '../data/extract.js';
import { ident, literal, openDuck } from '../data/duckdb.js';
import type { SplitName } from '../data/split.js';

export type Value = number | string | boolean | null;

/** One split of the extract step's output, column by column (never an array of row objects). */
export interface Dataset {
  rows: number;
  /** Feature columns by name: numbers for numeric features, strings and booleans as they are. */
  columns: Record<string, Value[]>;
  /** The label: class names as strings, or numbers for regression. */
  label: Value[];
  /** The source row of each row, for tracing a prediction back to the warehouse. */
  sourceRows: number[];
}

const numeric = new Set(['DOUBLE', 'BIGINT']);

/**
 * Reads a split (or several, as one data set) in source order, so training sees the same rows in
 * the same order on every rerun.
 */
export async function readSplit(
  extractDir: string,
  extract: ExtractOutputs,
  split: SplitName | readonly SplitName[],
  features: string[],
): Promise<Dataset> {
  const db = await openDuck();
  try {
    // Numbers arrive as JS numbers (BIGINT would arrive as bigint).
    const column = (name: string) => (numeric.has(extract.schema[name]!) ? `CAST(${ident(name)} AS DOUBLE)` : ident(name));
    const files = [split].flat().map((name) => literal(join(extractDir, extract.files[name])));
    const select = [
      'CAST(source_row AS DOUBLE) AS __source_row',
      `${column(extract.label)} AS __label`,
      ...features.map((f) => `${column(f)} AS ${ident(f)}`),
    ];
    const reader = await db.runAndReadAll(`SELECT ${select.join(', ')} FROM read_parquet([${files.join(', ')}]) ORDER BY source_row`);
    const all = reader.getColumnsObjectJS() as Record<string, Value[]>;
    const { __source_row, __label, ...columns } = all;
    return { rows: reader.currentRowCount, columns, label: __label ?? [], sourceRows: (__source_row ?? []) as number[] };
  } finally {
    db.closeSync();
  }
}
