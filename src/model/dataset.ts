import { JSDuckDBValueConverter } from '@duckdb/node-api';
import { join } from 'node:path';
import type { ExtractOutputs } from '../step-outputs.js';
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

/** A column as JavaScript reads it: numbers arrive as JS numbers (BIGINT would arrive as bigint). */
const columnSql = (extract: ExtractOutputs, name: string) =>
  numeric.has(extract.schema[name]!) ? `CAST(${ident(name)} AS DOUBLE)` : ident(name);

const filesOf = (extractDir: string, extract: ExtractOutputs, split: SplitName | readonly SplitName[]) =>
  `read_parquet([${[split]
    .flat()
    .map((name) => literal(join(extractDir, extract.files[name])))
    .join(', ')}])`;

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
    const select = [
      'CAST(source_row AS DOUBLE) AS __source_row',
      `${columnSql(extract, extract.label)} AS __label`,
      ...features.map((f) => `${columnSql(extract, f)} AS ${ident(f)}`),
    ];
    const reader = await db.runAndReadAll(`SELECT ${select.join(', ')} FROM ${filesOf(extractDir, extract, split)} ORDER BY source_row`);
    const all = reader.getColumnsObjectJS() as Record<string, Value[]>;
    const { __source_row, __label, ...columns } = all;
    return { rows: reader.currentRowCount, columns, label: __label ?? [], sourceRows: (__source_row ?? []) as number[] };
  } finally {
    db.closeSync();
  }
}

/** One split read a column at a time, in the source order readSplit gives: memory for a column, not the table. */
export interface SplitColumns {
  rows: number;
  /** A feature, the label or `source_row`, whole. */
  column(name: string): Promise<Value[]>;
  /** The same column in consecutive pieces, `each` given a piece and the row it starts at: memory for a piece. */
  pieces(name: string, each: (values: Value[], start: number) => void): Promise<void>;
  close(): void;
}

export async function openSplit(extractDir: string, extract: ExtractOutputs, split: SplitName): Promise<SplitColumns> {
  const db = await openDuck();
  const sql = (name: string) => `SELECT ${columnSql(extract, name)} FROM ${filesOf(extractDir, extract, split)} ORDER BY source_row`;
  return {
    rows: extract.split[split],
    column: async (name) => ((await db.runAndReadAll(sql(name))).getColumnsJS()[0] ?? []) as Value[],
    pieces: async (name, each) => {
      const result = await db.stream(sql(name));
      for (let start = 0, chunk = await result.fetchChunk(); chunk?.rowCount; chunk = await result.fetchChunk()) {
        each(chunk.convertColumnValues(0, JSDuckDBValueConverter) as Value[], start);
        start += chunk.rowCount;
      }
    },
    close: () => db.closeSync(),
  };
}
