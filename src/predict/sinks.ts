import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PredictSinkConfig } from '../config/schema.js';
import { resolvePath } from '../data/extract.js';
import { describe, ident, literal, rows } from '../data/duckdb.js';
import { configError, MlopsError } from '../errors.js';
import { postgresSink } from './postgres-sink.js';
import { checkTableColumns, type Sink } from './sink.js';

/** One file per as_of in a folder, written under a temporary name and renamed over the previous one. */
function fileSink(dir: string, format: 'parquet' | 'csv'): Sink {
  const file = (asOf: string) => join(dir, `as_of=${asOf}.${format}`);
  return {
    where: file,
    async write({ db, select, asOf, runId }) {
      await mkdir(dir, { recursive: true });
      const temp = join(dir, `.as_of=${asOf}.${runId}.tmp`);
      try {
        const options = format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT parquet';
        const written = (await db.run(`COPY (${select}) TO ${literal(temp)} (${options})`)).rowsChanged;
        await rename(temp, file(asOf));
        return written;
      } finally {
        await rm(temp, { force: true });
      }
    },
  };
}

/** A table of a DuckDB database attached as `catalog`: the as_of's rows deleted and the batch inserted in one transaction. */
function duckdbSink(database: string, table: string, catalog: string): Sink {
  const [schema, name] = table.includes('.') ? table.split('.') : ['main', table];
  const target = `${ident(catalog)}.${ident(schema!)}.${ident(name!)}`;
  return {
    where: () => `${database} table ${table}`,
    async write({ db, select, asOf }) {
      const columns = await describe(db, select);
      const existing = await rows<{ column_name: string }>(
        db,
        `SELECT column_name FROM duckdb_columns() WHERE database_name = ${literal(catalog)} AND schema_name = ${literal(schema!)} AND table_name = ${literal(name!)} ORDER BY column_index`,
      );
      checkTableColumns(
        table,
        existing.map((c) => c.column_name),
        columns.map((c) => c.name),
      );
      await db.run('BEGIN TRANSACTION');
      try {
        await db.run(`CREATE TABLE IF NOT EXISTS ${target} (${columns.map((c) => `${ident(c.name)} ${c.type}`).join(', ')})`);
        await db.run(`DELETE FROM ${target} WHERE as_of = DATE ${literal(asOf)}`);
        const written = (await db.run(`INSERT INTO ${target} BY NAME ${select}`)).rowsChanged;
        await db.run('COMMIT');
        return written;
      } catch (err) {
        await db.run('ROLLBACK').catch(() => {});
        if (err instanceof MlopsError) throw err;
        throw configError(
          `writing the batch to ${database} table ${table} failed: ${(err as Error).message.split('\n')[0]}`,
          'check predict.sink',
        );
      }
    },
  };
}

/** The DuckDB catalog a duckdb sink writes to: the source's database when it is the same file (attached once, writable). */
export const SINK_CATALOG = 'sink';

/** The sink predict.sink describes, its paths resolved against the config's folder. */
export function sinkFor(settings: PredictSinkConfig, configDir: string, sinkCatalog = SINK_CATALOG): Sink {
  switch (settings.kind) {
    case 'parquet':
    case 'csv':
      return fileSink(resolvePath(configDir, settings.path), settings.kind);
    case 'duckdb':
      return duckdbSink(resolvePath(configDir, settings.database), settings.table, sinkCatalog);
    case 'postgres':
      return postgresSink(settings.url!, settings.table);
  }
}
