import type { Progress } from '../../progress.js';

/**
 * A warehouse. A source turns the window's query into a relation DuckDB can scan once (the query
 * itself, or a file the rows were streamed to), so cleansing, splitting and everything downstream
 * never know which one ran. BigQuery or Snowflake would be one more implementation of this.
 */
export interface Source {
  open(sql: string, io: { tempDir: string; progress: Progress }): Promise<string>;
}
