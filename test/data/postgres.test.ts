import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createContext } from '../../src/context.js';
import { extract } from '../../src/data/extract.js';
import { loadIntoPostgres } from '../../src/data/load-postgres.js';
import { MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { silentProgress } from '../../src/progress.js';
import { postgresUrl } from '../helpers/services.js';

const url = postgresUrl();
const password = url ? decodeURIComponent(new URL(url).password) : '';

describe.skipIf(!url)('the PostgreSQL source', () => {
  let root: string;
  let duckdbConfig: Config;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-pg-'));
    await loadIntoPostgres(url!, 'penguins_raw', 'data/penguins_raw.csv');
    duckdbConfig = (await loadConfig('mlops.config.yaml', process.env)).config;
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  /** The shipped config, reading the same rows from the PostgreSQL table instead of the CSV file. */
  const postgresConfig = (query?: string, env = { MLOPS_PG_URL: url }) => {
    const raw = structuredClone(duckdbConfig) as unknown as { data: { source: Record<string, unknown> } };
    raw.data.source = {
      kind: 'postgres',
      query: query ?? (duckdbConfig.data.source.query.replace(/read_csv\([^)]*\)/, 'penguins_raw') as string),
    };
    return parseConfig(raw, env);
  };

  const run = async (config: Config, name: string) => {
    const log = memoryLogger();
    const ctx = createContext({ config, file: join(process.cwd(), 'mlops.config.yaml'), dir: process.cwd(), env: process.env }, { runId: name, log, progress: silentProgress });
    ctx.runDir = join(root, name);
    try {
      return { log, outputs: await extract(ctx), error: undefined };
    } catch (error) {
      return { log, outputs: undefined, error: error as MlopsError };
    }
  };

  it('writes the same clean data, split and hash as the DuckDB source', async () => {
    const fromDuck = await run(duckdbConfig, 'duckdb');
    const fromPg = await run(postgresConfig(), 'postgres');
    expect(fromPg.error).toBeUndefined();
    expect(fromPg.outputs!.source).toBe('postgres');
    expect(fromPg.outputs!.rows).toEqual(fromDuck.outputs!.rows);
    expect(fromPg.outputs!.split).toEqual(fromDuck.outputs!.split);
    expect(fromPg.outputs!.schema).toEqual(fromDuck.outputs!.schema);
    expect(fromPg.outputs!.dataHash).toBe(fromDuck.outputs!.dataHash);
  });

  it('binds the training window, so an as_of in the past gives fewer rows', async () => {
    const config = postgresConfig();
    config.data.window.as_of = '2008-12-31';
    const { outputs } = await run(config, 'window');
    expect(outputs!.rows.read).toBeGreaterThan(0);
    expect(outputs!.rows.read).toBeLessThan(344);
  });

  it('shows the database message for an SQL error, as a config error', async () => {
    const { error } = await run(postgresConfig('SELECT nope FROM penguins_raw'), 'sql-error');
    expect(error).toBeInstanceOf(MlopsError);
    expect(error!.errorClass).toBe('config');
    expect(error!.message).toContain('column "nope" does not exist');
  });

  it('reports a database that is down as a transient error, without the connection string', async () => {
    const down = `postgres://mlops:${password}@127.0.0.1:1/mlops_test`;
    const { error, log } = await run(postgresConfig(undefined, { MLOPS_PG_URL: down }), 'down');
    expect(error!.errorClass).toBe('transient');
    expect(error!.message).toContain('ECONNREFUSED');
    expect(error!.message).not.toContain(password);
    expect(JSON.stringify(log.lines)).not.toContain(password);
  });

  it('reports a connection dropped mid-stream as a transient error', async () => {
    const slow = `SELECT g AS individual_id, 'PAL' AS study, 'Adelie' AS species, pg_sleep(0.002)::text AS island
                  FROM generate_series(1, 100000) g`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const killer = setTimeout(
      () => void admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT g AS individual_id%' AND pid <> pg_backend_pid()`),
      1500,
    );
    const { error } = await run(postgresConfig(slow), 'dropped');
    clearTimeout(killer);
    await admin.end();
    expect(error!.errorClass).toBe('transient');
  });

  it('refuses a bad password as a config error that does not echo it', async () => {
    const wrong = url!.replace(`:${encodeURIComponent(password)}@`, ':not-the-password@');
    const { error } = await run(postgresConfig(undefined, { MLOPS_PG_URL: wrong }), 'auth');
    expect(error!.errorClass).toBe('config');
    expect(error!.message).not.toContain('not-the-password');
  });
});
