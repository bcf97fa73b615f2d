import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { configError } from '../errors.js';
import { ident, literal, openDuck, rows } from './duckdb.js';
import { postgresError } from './sources/postgres.js';

/** DuckDB's types and the PostgreSQL types a table gets for them; text for any other. */
export const pgTypeOf: Record<string, string> = {
  BIGINT: 'bigint',
  INTEGER: 'integer',
  DOUBLE: 'double precision',
  BOOLEAN: 'boolean',
  DATE: 'date',
  TIMESTAMP: 'timestamp',
  JSON: 'jsonb',
};

/** The DuckDB relation for a data file: CSV (with `NA` and blanks as missing) or Parquet. */
const fileRelation = (file: string) =>
  file.endsWith('.parquet') ? `read_parquet(${literal(file)})` : `read_csv(${literal(file)}, nullstr = ['NA', ''])`;

/**
 * Loads a data file into a new PostgreSQL table, typed as DuckDB reads the file and streamed with
 * COPY. For trying the scale-out warehouse with the sample or synthetic data, and for its tests.
 */
export async function loadIntoPostgres(url: string, table: string, file: string): Promise<number> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw configError(`--table: expected a table name of letters, digits and _, got "${table}"`);
  const temp = await mkdtemp(join(tmpdir(), 'mlops-load-'));
  const csv = join(temp, 'rows.csv');
  const db = await openDuck({ tempDir: temp });
  let columns: { column_name: string; column_type: string }[];
  try {
    columns = await rows(db, `DESCRIBE SELECT * FROM ${fileRelation(file)}`);
    await db.run(`COPY (SELECT * FROM ${fileRelation(file)}) TO ${literal(csv)} (FORMAT csv, HEADER true)`);
  } finally {
    db.closeSync();
  }
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query(`DROP TABLE IF EXISTS ${ident(table)}`);
    await client.query(`CREATE TABLE ${ident(table)} (${columns.map((c) => `${ident(c.column_name)} ${pgTypeOf[c.column_type] ?? 'text'}`).join(', ')})`);
    const copy = client.query(copyFrom(`COPY ${ident(table)} FROM STDIN WITH (FORMAT csv, HEADER true)`));
    await pipeline(createReadStream(csv), copy);
    return copy.rowCount ?? 0;
  } catch (err) {
    throw postgresError(err);
  } finally {
    await client.end().catch(() => {});
    await rm(temp, { recursive: true, force: true });
  }
}
