import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { MlopsError } from '../../errors.js';
import { redact } from '../../secrets.js';
import { literal } from '../duckdb.js';
import type { Source } from './source.js';

/** PostgreSQL type OIDs and the DuckDB types their CSV text is read back as. */
const duckTypeOf: Record<number, string> = {
  16: 'BOOLEAN',
  20: 'BIGINT',
  21: 'INTEGER',
  23: 'INTEGER',
  700: 'DOUBLE',
  701: 'DOUBLE',
  1700: 'DOUBLE',
  1082: 'DATE',
  1114: 'TIMESTAMP',
  1184: 'TIMESTAMPTZ',
};

/** Connection problems (refused, reset, timed out, server shutting down) are worth a retry. */
const transientCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300']);

/** Classifies a PostgreSQL failure: connection trouble is transient, the rest is the user's to fix. */
export function postgresError(err: unknown, key = 'data.source.query'): MlopsError {
  if (err instanceof MlopsError) return err;
  const e = err as { code?: string; message?: string };
  const message = redact(e.message ?? String(err));
  if ((e.code && (transientCodes.has(e.code) || e.code.startsWith('08'))) || /terminated unexpectedly|Connection terminated|timeout/i.test(message)) {
    return new MlopsError('transient', `PostgreSQL is unreachable: ${message}`, {
      hint: 'a transient error, worth a retry; check that the database is up and MLOPS_PG_URL points at it',
    });
  }
  if (e.code === '28P01' || e.code === '28000' || e.code === '3D000') {
    return new MlopsError('config', `PostgreSQL refused the connection: ${message}`, { hint: 'check the user, password and database in MLOPS_PG_URL' });
  }
  return new MlopsError('config', `the source query failed in PostgreSQL: ${message}`, { hint: `check the SQL in ${key}` });
}

/**
 * The scale-out warehouse. Rows stream out with COPY into a CSV file in the run's temp folder and
 * DuckDB scans that file; no row ever becomes a JS object.
 */
export function postgresSource(url: string, key?: string): Source {
  return {
    async open(sql, { tempDir, progress }) {
      const file = join(tempDir, 'postgres-extract.csv');
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
      client.on('error', () => {}); // a dropped connection surfaces through the pending query instead
      let columns: string;
      try {
        await client.connect();
        const probe = await client.query(`SELECT * FROM (${sql}) AS q LIMIT 0`);
        columns = probe.fields.map((f) => `${literal(f.name)}: ${literal(duckTypeOf[f.dataTypeID] ?? 'VARCHAR')}`).join(', ');
        const task = progress.start('extract: streaming from PostgreSQL');
        let lines = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _enc, done) {
            for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
            task.update(Math.max(0, lines - 1));
            done(null, chunk);
          },
        });
        await pipeline(client.query(copyTo(`COPY (${sql}) TO STDOUT WITH (FORMAT csv, HEADER true)`)), counter, createWriteStream(file));
        task.finish(`${Math.max(0, lines - 1).toLocaleString('en-US')} rows`);
      } catch (err) {
        await rm(file, { force: true });
        throw postgresError(err, key);
      } finally {
        await client.end().catch(() => {});
      }
      // Read back with the column types PostgreSQL declared; the file lives until the temp folder goes.
      return `read_csv(${literal(file)}, header = true, allow_quoted_nulls = false, columns = {${columns}})`;
    },
  };
}
