import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlError } from '../duckdb.js';
import type { Source } from './source.js';

/** The embedded warehouse: the query runs in the same DuckDB that cleanses, so nothing is copied. */
export const duckdbSource: Source = {
  async load(db: DuckDBConnection, sql: string) {
    try {
      await db.run(`CREATE OR REPLACE TEMP TABLE raw AS SELECT row_number() OVER () AS __row, * FROM (${sql}) AS q`);
    } catch (err) {
      throw sqlError(err, 'the source query');
    }
  },
};
