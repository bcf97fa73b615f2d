import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { describe, ident, literal } from '../data/duckdb.js';
import { pgTypeOf } from '../data/load-postgres.js';
import { postgresError } from '../data/sources/postgres.js';
import { MlopsError } from '../errors.js';
import { redact } from '../secrets.js';
import { checkTableColumns, tableIdent, type Sink } from './sink.js';

/** Shown in pg_stat_activity, so a DBA can tell the batch's session from others. */
const APPLICATION = 'mlops predict';

/**
 * A PostgreSQL table, partitioned by as_of: a day's batch is one partition. DuckDB writes the batch
 * as CSV in the run's scratch folder; it is streamed with COPY into a staging table of its own,
 * which no reader sees, and then swapped in within one transaction: the day's old partition dropped,
 * the staging table attached in its place (its CHECK on as_of spares PostgreSQL a scan). The rows
 * are written once. Readers see the previous batch until the commit and the whole new one after it;
 * a connection lost before the commit leaves the previous batch, and a staging table that the next
 * batch of the day drops. A table that exists unpartitioned (made by hand) takes the batch the same
 * way, its day's rows deleted and the staged ones inserted, in one transaction.
 */
export function postgresSink(url: string, table: string): Sink {
  const [schema, name] = table.includes('.') ? (table.split('.') as [string, string]) : [undefined, table];
  const target = tableIdent(table);
  const sibling = (suffix: string) => `${schema ? `${ident(schema)}.` : ''}${ident(`${name}_${suffix}`.slice(0, 63))}`;
  return {
    where: () => `PostgreSQL table ${table}`,
    async write({ db, select, asOf, tempDir }) {
      const columns = await describe(db, select);
      const csv = join(tempDir, 'predictions.csv');
      await db.run(`COPY (${select}) TO ${literal(csv)} (FORMAT csv, HEADER true)`);
      const list = columns.map((c) => ident(c.name)).join(', ');
      const definition = columns.map((c) => `${ident(c.name)} ${pgTypeOf[c.type] ?? 'text'}`).join(', ');
      const day = asOf.replaceAll('-', '');
      const partition = sibling(day);
      const staging = sibling(`${day}_staging`);
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
        if (!existing.rows.length) await client.query(`CREATE TABLE IF NOT EXISTS ${target} (${definition}) PARTITION BY LIST (as_of)`);
        const [{ partitioned }] = (
          await client.query<{ partitioned: boolean }>(`SELECT relkind = 'p' AS partitioned FROM pg_class WHERE oid = $1::regclass`, [
            target,
          ])
        ).rows as [{ partitioned: boolean }];
        // A staging table left by a batch of this day that lost its connection goes first.
        await client.query(`DROP TABLE IF EXISTS ${staging}`);
        await client.query(`CREATE TABLE ${staging} (${definition}, CHECK (as_of = DATE ${literal(asOf)}))`);
        const copy = client.query(copyFrom(`COPY ${staging} (${list}) FROM STDIN WITH (FORMAT csv, HEADER true)`));
        await pipeline(createReadStream(csv), copy);
        await client.query('BEGIN');
        let written: number;
        if (partitioned) {
          await client.query(`DROP TABLE IF EXISTS ${partition}`);
          await client.query(`ALTER TABLE ${staging} RENAME TO ${ident(`${name}_${day}`.slice(0, 63))}`);
          await client.query(`ALTER TABLE ${target} ATTACH PARTITION ${partition} FOR VALUES IN (DATE ${literal(asOf)})`);
          written = copy.rowCount ?? 0;
        } else {
          await client.query(`DELETE FROM ${target} WHERE as_of = $1`, [asOf]);
          written = (await client.query(`INSERT INTO ${target} (${list}) SELECT ${list} FROM ${staging}`)).rowCount ?? 0;
          await client.query(`DROP TABLE ${staging}`);
        }
        await client.query('COMMIT');
        return written;
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
