import type { DuckDBConnection } from '@duckdb/node-api';
import type { Progress } from '../../progress.js';

/**
 * A warehouse. Every source lands the window's rows in the DuckDB table `raw`, numbered by `__row`
 * in result order, so cleansing, splitting and everything downstream never knows which one ran.
 * BigQuery or Snowflake would be one more implementation of this.
 */
export interface Source {
  load(db: DuckDBConnection, sql: string, io: { tempDir: string; progress: Progress }): Promise<void>;
}
