import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { MlopsError } from '../errors.js';

export interface DuckOptions {
  /** A database file, or `:memory:`. */
  database?: string;
  /** Folder that relative file paths in SQL resolve against (the config's folder). */
  searchPath?: string;
  /** Where DuckDB spills when a query outgrows memory_limit. */
  tempDir?: string;
  memoryLimit?: string;
}

/** A DuckDB with the settings every step wants: bounded memory, spilling, relative paths. */
export async function openDuckInstance(options: DuckOptions = {}): Promise<DuckDBInstance> {
  const settings: Record<string, string> = { memory_limit: options.memoryLimit ?? '768MB' };
  if (options.tempDir) settings.temp_directory = options.tempDir;
  if (options.searchPath) settings.file_search_path = options.searchPath;
  return DuckDBInstance.create(options.database ?? ':memory:', settings);
}

/** One connection to such a DuckDB, for the steps that need no second. */
export async function openDuck(options: DuckOptions = {}): Promise<DuckDBConnection> {
  return (await openDuckInstance(options)).connect();
}

/** Runs SQL and returns rows as plain objects. For small results only (reports, counts). */
export async function rows<T = Record<string, unknown>>(db: DuckDBConnection, sql: string): Promise<T[]> {
  const reader = await db.runAndReadAll(sql);
  return reader.getRowObjectsJson() as T[];
}

/** The name and DuckDB type of each column a query returns, found without running it. */
export async function describe(db: DuckDBConnection, sql: string): Promise<{ name: string; type: string }[]> {
  return (await rows<{ column_name: string; column_type: string }>(db, `DESCRIBE ${sql}`)).map((c) => ({ name: c.column_name, type: c.column_type }));
}

/** A SQL identifier, quoted. */
export const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
/** A SQL string literal. */
export const literal = (value: string | number | boolean) =>
  typeof value === 'string' ? `'${value.replaceAll("'", "''")}'` : String(value);

/** DuckDB's own message is what the user needs to fix their SQL; wrap it as a config error. */
export function sqlError(err: unknown, what: string, key = 'data.source.query'): MlopsError {
  const message = err instanceof Error ? err.message : String(err);
  return new MlopsError('config', `${what} failed: ${message.split('\n')[0]}`, {
    hint: `check the SQL in ${key}`,
    cause: err,
  });
}
