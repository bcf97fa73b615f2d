import { DuckDBInstance } from '@duckdb/node-api';
import { join } from 'node:path';
import type { Config, PredictSinkConfig } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { contextFor } from '../helpers/model.js';

/** The sample penguins, eight times over with a `copy` key: 2,752 rows, two DuckDB chunks. */
export const copiedQuery = (copies = 8) => `
  SELECT "studyName" AS study, "Individual ID" AS individual_id, c.range AS copy,
    "Island" AS island, "Clutch Completion" AS clutch_completion,
    "Culmen Length (mm)" AS culmen_length_mm, "Culmen Depth (mm)" AS culmen_depth_mm,
    "Flipper Length (mm)" AS flipper_length_mm, "Body Mass (g)" AS body_mass_g, "Sex" AS sex,
    "Delta 15 N (o/oo)" AS delta_15_n, "Delta 13 C (o/oo)" AS delta_13_c
  FROM read_csv('data/penguins_raw.csv', nullstr = 'NA') CROSS JOIN range(${copies}) c
  WHERE "Date Egg" < $as_of`;

/** A copy of the trained config whose batches read `query` (the shipped one by default) and go to `sink`. */
export function batchConfig(config: Config, sink: PredictSinkConfig, query?: string, keys?: string[]): Config {
  const c = structuredClone(config);
  c.predict!.sink = sink;
  if (query) c.predict!.source = { kind: 'duckdb', query, database: ':memory:' };
  if (keys) c.predict!.keys = keys;
  return c;
}

export const batchContext = (config: Config, runId: string): Promise<StepContext> => contextFor(config, runId);

/** Rows of a DuckDB query, as plain JS values. */
export async function query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  try {
    return (await db.runAndReadAll(sql)).getRowObjectsJS() as T[];
  } finally {
    db.closeSync();
  }
}

export const parquetOf = (dir: string, asOf: string) => join(dir, `as_of=${asOf}.parquet`);
