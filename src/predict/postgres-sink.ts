import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { describe, literal } from '../data/duckdb.js';
import { pgTypeOf } from '../data/load-postgres.js';
import { postgresError } from '../data/sources/postgres.js';
import { MlopsError } from '../errors.js';
import { redact } from '../secrets.js';
import { checkTableColumns, tableIdent, type Sink } from './sink.js';

/** Shown in pg_stat_activity, so a DBA can tell the batch's session from others. */
const APPLICATION = 'mlops predict';

/**
 * A PostgreSQL table. DuckDB writes the batch as CSV in the run's scratch folder; it is streamed with
 * COPY into a temp table (session-local and unlogged: a lost connection leaves nothing behind), then
 * swapped in within one transaction, the as_of's old rows deleted and the new ones inserted. Readers
 * see the previous batch until the commit, and the whole new one after it.
 */
export function postgresSink(url: string, table: string): Sink {
  const [schema, name] = table.includes('.') ? table.split('.') : [undefined, table];
  const target = tableIdent(table);
  return {
    where: () => `PostgreSQL table ${table}`,
    async write({ db, select, asOf, tempDir }) {
      const columns = await describe(db, select);
      const csv = join(tempDir, 'predictions.csv');
      await db.run(`COPY (${select}) TO ${literal(csv)} (FORMAT csv, HEADER true)`);
      const list = columns.map((c) => `"${c.name}"`).join(', ');
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: APPLICATION });
      client.on('error', () => {}); // a dropped connection surfaces through the pending query instead
      try {
        await client.connect();
        const existing = await client.query<{ column_name: string }>(
          `SELECT column_name FROM information_schema.columns WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position`,
          [schema ?? null, name],
        );
        checkTableColumns(
          table,
          existing.rows.map((r) => r.column_name),
          columns.map((c) => c.name),
        );
        const definition = columns.map((c) => `"${c.name}" ${pgTypeOf[c.type] ?? 'text'}`).join(', ');
        await client.query(`CREATE TEMP TABLE mlops_batch (${definition}) ON COMMIT PRESERVE ROWS`);
        await pipeline(
          createReadStream(csv),
          client.query(copyFrom(`COPY mlops_batch (${list}) FROM STDIN WITH (FORMAT csv, HEADER true)`)),
        );
        await client.query('BEGIN');
        await client.query(`CREATE TABLE IF NOT EXISTS ${target} (${definition})`);
        await client.query(`DELETE FROM ${target} WHERE as_of = $1`, [asOf]);
        const inserted = await client.query(`INSERT INTO ${target} (${list}) SELECT ${list} FROM mlops_batch`);
        await client.query('COMMIT');
        return inserted.rowCount ?? 0;
      } catch (err) {
        throw sinkError(err, table);
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}

/** A lost connection is transient (the step retries it); anything else PostgreSQL refused names the table. */
function sinkError(err: unknown, table: string): MlopsError {
  if (err instanceof MlopsError) return err;
  const classified = postgresError(err, 'predict.sink');
  if (classified.errorClass === 'transient' || /refused the connection/.test(classified.message)) return classified;
  return new MlopsError('config', `writing the batch to PostgreSQL table ${table} failed: ${redact((err as Error).message)}`, {
    hint: "check predict.sink.table and the user's rights on it (CREATE on its schema, INSERT and DELETE on the table)",
  });
}
