import type { Source } from './source.js';

/** The embedded warehouse: the query runs inside the DuckDB that cleanses, so nothing is copied. */
export const duckdbSource: Source = {
  open: async (sql) => `(${sql})`,
};
