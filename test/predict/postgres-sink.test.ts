import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { loadIntoPostgres } from '../../src/data/load-postgres.js';
import { MlopsError } from '../../src/errors.js';
import { predictBatch } from '../../src/predict/predict.js';
import { isolatedConfig, trainedRun } from '../helpers/model.js';
import { postgresUrl } from '../helpers/services.js';
import { batchConfig, batchContext, parquetOf, query } from './batch.js';

const url = postgresUrl();

describe.skipIf(!url)('mlops predict with PostgreSQL: the source and the sink', () => {
  let root: string;
  let config: Config;
  let client: pg.Client;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-predict-pg-'));
    config = await isolatedConfig(root);
    await trainedRun(config, 'train');
    await loadIntoPostgres(url!, 'predict_penguins', 'data/penguins_raw.csv');
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('DROP TABLE IF EXISTS predict_scores, predict_clash');
  });
  afterAll(async () => {
    await client?.query('DROP TABLE IF EXISTS predict_scores, predict_clash, predict_penguins');
    await client?.end();
    await rm(root, { recursive: true, force: true });
  });

  /** The shipped predict query, reading the same rows from the PostgreSQL table. */
  const pgConfig = (table = 'predict_scores') => {
    const c = batchConfig(config, { kind: 'postgres', table, url });
    c.predict!.source = { kind: 'postgres', url, query: c.predict!.source.query.replace(/read_csv\([^)]*\)/, 'predict_penguins') };
    return c;
  };
  const batches = async () =>
    (
      await client.query<{ run_id: string; as_of: string; n: string }>(
        `SELECT run_id, to_char(as_of, 'YYYY-MM-DD') AS as_of, count(*) AS n FROM predict_scores GROUP BY 1, 2 ORDER BY 2, 1`,
      )
    ).rows;

  it('writes the rows the Parquet sink writes, and replaces a day scored again', async () => {
    const dir = join(root, 'parquet');
    await predictBatch(await batchContext(batchConfig(config, { kind: 'parquet', path: dir }), 'parquet'), { asOf: '2010-01-01' });
    const out = await predictBatch(await batchContext(pgConfig(), 'pg-first'), { asOf: '2010-01-01' });
    expect(out.rows).toMatchObject({ read: 344, scored: 344, written: 344 });
    expect(out.source).toBe('postgres');

    const fromPg = await client.query<{ study: string; individual_id: string; label: string; probabilities: Record<string, number> }>(
      'SELECT study, individual_id, label, probabilities FROM predict_scores ORDER BY study, individual_id',
    );
    const fromParquet = await query<{ study: string; individual_id: string; label: string; probabilities: string }>(
      `SELECT study, individual_id, label, probabilities FROM '${parquetOf(dir, '2010-01-01')}' ORDER BY study, individual_id`,
    );
    expect(fromPg.rows).toEqual(fromParquet.map((r) => ({ ...r, probabilities: JSON.parse(r.probabilities) as unknown })));

    await predictBatch(await batchContext(pgConfig(), 'pg-other-day'), { asOf: '2008-06-01' });
    await predictBatch(await batchContext(pgConfig(), 'pg-again'), { asOf: '2010-01-01' });
    expect((await batches()).map((b) => [b.as_of, b.run_id])).toEqual([
      ['2008-06-01', 'pg-other-day'],
      ['2010-01-01', 'pg-again'],
    ]);
  });

  it('leaves the previous batch whole when the connection is lost mid-write, as a transient error', async () => {
    const before = await batches();
    // Hold the table so the swap waits inside its transaction, then cut the batch's connection there.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE predict_scores IN ACCESS EXCLUSIVE MODE');
    const writing = predictBatch(await batchContext(pgConfig(), 'pg-cut'), { asOf: '2010-01-01' });
    let cut = false;
    for (let i = 0; i < 200 && !cut; i++) {
      const waiting = await client.query(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'mlops predict' AND wait_event_type = 'Lock'`,
      );
      for (const { pid } of waiting.rows as { pid: number }[])
        cut = (await client.query('SELECT pg_terminate_backend($1)', [pid])).rowCount === 1;
      if (!cut) await new Promise((r) => setTimeout(r, 50));
    }
    expect(cut).toBe(true);
    const error = await writing.catch((err: unknown) => err);
    await holder.query('ROLLBACK');
    await holder.end();
    expect(error).toBeInstanceOf(MlopsError);
    expect(error).toMatchObject({ errorClass: 'transient' });
    expect((error as Error).message).toMatch(/PostgreSQL is unreachable/);
    expect(await batches()).toEqual(before);
    // The next batch of the day drops the staging table the cut one left, and swaps its own in.
    await predictBatch(await batchContext(pgConfig(), 'pg-after-cut'), { asOf: '2010-01-01' });
    expect((await batches()).map((b) => b.run_id)).toEqual(['pg-other-day', 'pg-after-cut']);
    const tables = await client.query(`SELECT tablename FROM pg_tables WHERE tablename LIKE 'predict_scores%' ORDER BY 1`);
    expect(tables.rows.map((r: { tablename: string }) => r.tablename)).toEqual([
      'predict_scores',
      'predict_scores_20080601',
      'predict_scores_20100101',
    ]);
  });

  it("refuses a table whose columns are not the batch's, naming both", async () => {
    await client.query('CREATE TABLE predict_clash (study text, individual_id text, score double precision, as_of date)');
    const error = await predictBatch(await batchContext(pgConfig('predict_clash'), 'pg-clash'), { asOf: '2010-01-01' }).catch(
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ errorClass: 'config' });
    expect((error as Error).message).toMatch(
      /predict.sink.table predict_clash has the columns study, individual_id, score, as_of, but a batch writes study, individual_id, label, probabilities, model_version, run_id, scored_at, as_of/,
    );
    expect((await client.query('SELECT count(*) AS n FROM predict_clash')).rows).toEqual([{ n: '0' }]);
  });
});
