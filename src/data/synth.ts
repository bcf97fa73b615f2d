import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { ColumnConfig } from '../config/schema.js';
import { configError } from '../errors.js';
import type { Progress } from '../progress.js';
import { literal, openDuck, rows } from './duckdb.js';

/**
 * A seeded synthetic data set with the anomalies real warehouses have, for scale tests and
 * benchmarks: 20 columns, a learnable 3-class label, and per-row injected defects. Generated in
 * DuckDB from hashes of (row, seed, column), so it is identical for the same seed on any machine.
 */
export interface SynthOptions {
  rows: number;
  seed?: number;
  /** Folder for `synthetic.<format>` and a matching `mlops.config.yaml`. */
  out: string;
  format?: 'csv' | 'parquet';
  progress?: Progress;
}

/** Rates of the injected anomalies, per row. */
export const anomalyRates = {
  numberAsPaddedText: 0.005, // x01: " 42.1 "          -> coerced, kept
  garbageNumber: 0.001, //      x02: "#REF!"           -> type, quarantined
  sentinel: 0.002, //           x03: -999              -> range, quarantined
  missingValue: 0.01, //        x04: blank (nullable)  -> kept, imputed later
  missingLabel: 0.002, //       label: blank           -> not_null, quarantined
  duplicateId: 0.001, //        id repeats the row before -> duplicate, quarantined
  oddBoolean: 0.01, //          flag: "TRUE", "yes", "0" -> coerced, kept
  unknownCategory: 0.001, //    c1: "??"               -> allowed, quarantined
};

const start = '2025-01-01';
const days = 365;

/** Uniform in (0, 1) from a hash; `k` picks an independent stream per use. */
const u = (k: number, seed: number) => `((hash(i, ${seed}, ${k}) % 1000003) + 0.5) / 1000003.0`;
/** Standard normal via Box-Muller. */
const z = (k: number, seed: number) => `(sqrt(-2 * ln(${u(k, seed)})) * cos(2 * pi() * ${u(k + 100, seed)}))`;

export function synthSql(n: number, seed: number): string {
  const r = anomalyRates;
  const floats = Array.from({ length: 12 }, (_, j) => {
    const name = `x${String(j + 1).padStart(2, '0')}`;
    const value = `round(${(j + 1) * 10} + ${j + 1} * z${j + 1}, 4)`;
    const a = u(200 + j, seed);
    if (j === 0) return `CASE WHEN ${a} < ${r.numberAsPaddedText} THEN '  ' || ${value} || ' ' ELSE CAST(${value} AS VARCHAR) END AS ${name}`;
    if (j === 1) return `CASE WHEN ${a} < ${r.garbageNumber} THEN (['#REF!', 'n/a?', 'twelve'])[1 + CAST(hash(i, ${seed}) % 3 AS BIGINT)] ELSE CAST(${value} AS VARCHAR) END AS ${name}`;
    if (j === 2) return `CASE WHEN ${a} < ${r.sentinel} THEN -999 ELSE ${value} END AS ${name}`;
    if (j === 3) return `CASE WHEN ${a} < ${r.missingValue} THEN NULL ELSE ${value} END AS ${name}`;
    return `${value} AS ${name}`;
  });
  // The label depends on several features, non-linearly, with noise: learnable but not trivial.
  const score = [`z1 + 0.8 * z2 - 0.5 * z5`, `z3 - 0.7 * z1 + 0.6 * (c1 = 'b')::INT`, `0.9 * z4 + 0.4 * z6 * z7`];
  const label = `(['alpha', 'beta', 'gamma'])[1 + CASE WHEN s0 >= s1 AND s0 >= s2 THEN 0 WHEN s1 >= s2 THEN 1 ELSE 2 END]`;
  return `
WITH base AS (
  SELECT i, ${Array.from({ length: 12 }, (_, j) => `${z(j + 1, seed)} AS z${j + 1}`).join(', ')},
    (['a', 'b', 'c', 'd', 'e'])[1 + CAST(hash(i, ${seed}, 300) % 5 AS BIGINT)] AS c1,
    'cat_' || lpad(CAST(hash(i, ${seed}, 301) % 20 AS VARCHAR), 2, '0') AS c2
  FROM range(${n}) t(i)
), scored AS (
  SELECT *, ${score.map((s, k) => `${s} + 0.5 * ${z(20 + k, seed)} AS s${k}`).join(', ')} FROM base
)
SELECT
  CASE WHEN i > 0 AND ${u(400, seed)} < ${r.duplicateId} THEN i ELSE i + 1 END AS id,
  TIMESTAMP '${start}' + to_seconds(CAST(floor(i * ${days * 86400}.0 / ${n}) AS BIGINT)) AS event_time,
  ${floats.join(',\n  ')},
  CAST(floor(${u(500, seed)} * 100) AS BIGINT) AS n1,
  CAST(floor(exp(z5) * 10) AS BIGINT) AS n2,
  CASE WHEN ${u(401, seed)} < ${r.unknownCategory} THEN '??' ELSE c1 END AS c1,
  c2,
  CASE WHEN ${u(402, seed)} < ${r.oddBoolean} THEN (['TRUE', 'yes', '0'])[1 + CAST(hash(i, ${seed}, 403) % 3 AS BIGINT)]
       ELSE CAST(${u(404, seed)} < 0.3 AS VARCHAR) END AS flag,
  CASE WHEN ${u(405, seed)} < ${r.missingLabel} THEN NULL ELSE ${label} END AS label
FROM scored
ORDER BY i`;
}

/** The contract that goes with the data: what a team would write for such a table. */
export function synthContract(): Record<string, Partial<ColumnConfig>> {
  const columns: Record<string, Partial<ColumnConfig>> = {
    id: { type: 'integer', key: true },
    event_time: { type: 'timestamp' },
  };
  for (let j = 1; j <= 12; j++) {
    const name = `x${String(j).padStart(2, '0')}`;
    columns[name] = { type: 'float', ...(j === 3 ? { range: [-100, 200] } : {}), ...(j === 4 ? { nullable: true } : {}) };
  }
  Object.assign(columns, {
    n1: { type: 'integer', range: [0, 99] },
    n2: { type: 'integer', range: [0, 100000] },
    c1: { type: 'category', values: ['a', 'b', 'c', 'd', 'e'] },
    c2: { type: 'category' },
    flag: { type: 'boolean' },
    label: { type: 'label', values: ['alpha', 'beta', 'gamma'] },
  });
  return columns;
}

/** The config for the generated data, reading the file (DuckDB) or a table (PostgreSQL). */
export function synthConfig(source: { file: string } | { table: string }): Record<string, unknown> {
  const window = `WHERE event_time >= $window_start AND event_time < $as_of`;
  const query =
    'file' in source
      ? `SELECT * FROM ${source.file.endsWith('.parquet') ? 'read_parquet' : 'read_csv'}(${literal(source.file)}) ${window}`
      : `SELECT * FROM ${source.table} ${window}`;
  return {
    version: 1,
    project: 'synthetic',
    data: {
      source: { kind: 'file' in source ? 'duckdb' : 'postgres', query },
      window: { as_of: '2026-01-01', days },
      contract: { max_quarantine_ratio: 0.05, columns: synthContract() },
    },
    model: { task: 'multiclass' },
  };
}

export async function synth(options: SynthOptions): Promise<{ file: string; config: string; rows: number }> {
  const { rows: n, seed = 42, format = 'csv' } = options;
  if (!Number.isInteger(n) || n < 1) throw configError(`--rows: expected a positive whole number, got ${n}`);
  const out = resolve(options.out);
  await mkdir(out, { recursive: true });
  const name = `synthetic.${format}`;
  const file = join(out, name);
  const task = options.progress?.start(`synth: ${n.toLocaleString('en-US')} rows`);
  const db = await openDuck({ tempDir: join(out, '.tmp') });
  try {
    const opts = format === 'csv' ? '(FORMAT csv, HEADER true)' : '(FORMAT parquet)';
    await db.run(`COPY (${synthSql(n, seed)}) TO ${literal(file)} ${opts}`);
    const [written] = await rows<{ n: number }>(db, `SELECT count(*) AS n FROM ${format === 'csv' ? 'read_csv' : 'read_parquet'}(${literal(file)})`);
    task?.finish(`${Number(written!.n).toLocaleString('en-US')} rows to ${file}`);
  } finally {
    db.closeSync();
  }
  const config = join(out, 'mlops.config.yaml');
  await writeFile(config, `# Generated by \`mlops data synth\`: the contract for synthetic.${format}.\n${stringify(synthConfig({ file: name }))}`);
  return { file, config, rows: n };
}
