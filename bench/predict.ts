/**
 * `npm run bench:predict`: batch scoring (`mlops predict`) of 1,000,000 synthetic rows x 20 columns
 * from Parquet to Parquet with an MLP of the sample config's size (64, 32), beside the same rows
 * posted to a prediction server's /predict in batches of 256 (`mlops serve` in its own process, the
 * prediction log on); then 5,000,000 rows for the peak RSS, and the PostgreSQL sink when
 * MLOPS_PG_URL or MLOPS_TEST_PG_URL is set. Each batch runs in a fresh process, so its peak RSS is
 * its own. Targets: >= 1,000,000 rows/min Parquet to Parquet, peak RSS <= 1 GiB at 1M and no more at
 * 5M, the PostgreSQL sink >= 200,000 rows/s written; the run exits 1 when one is missed.
 *
 *   npm run bench:predict -- [--rows N] [--large N] [--runs N]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { stringify } from 'yaml';
import { loadConfig, parseConfig } from '../src/config/load.js';
import type { PredictSinkConfig } from '../src/config/schema.js';
import { createContext } from '../src/context.js';
import { literal } from '../src/data/duckdb.js';
import { synth, synthConfig } from '../src/data/synth.js';
import { createLogger } from '../src/log.js';
import { runPipeline } from '../src/pipeline.js';
import { predictBatch } from '../src/predict/predict.js';
import { silentProgress } from '../src/progress.js';
import { openRegistry } from '../src/registry/registry.js';
import { targets } from './targets.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    large: { type: 'string', default: '5000000' },
    runs: { type: 'string', default: '2' },
    child: { type: 'string' },
  },
});

const GiB = 1024 ** 3;
const silent = createLogger({ write: () => {} });

if (values.child) {
  // One measured batch: the whole step, from opening the source to the written sink.
  const loaded = await loadConfig(values.child, process.env);
  const ctx = createContext(loaded, { runId: `bench-${process.pid}`, log: silent, progress: silentProgress });
  const out = await predictBatch(ctx);
  process.stdout.write(JSON.stringify({ rows: out.rows.scored, seconds: out.seconds, rss: process.resourceUsage().maxRSS * 1024 }));
} else {
  const dir = resolve('.mlops/bench/predict');
  const rows = Number(values.rows);
  const large = Number(values.large);
  const config = await trainedConfig(dir);
  const t = targets();
  const fileOf = async (n: number) => {
    const out = join(dir, `synthetic-${n}`);
    if (!existsSync(join(out, 'synthetic.parquet'))) await synth({ rows: n, out, format: 'parquet' });
    return join(out, 'synthetic.parquet');
  };
  const batchConfig = async (name: string, file: string, sink: PredictSinkConfig) => {
    const path = join(dir, `${name}.config.yaml`);
    const c = structuredClone(config);
    // The synthetic id repeats on purpose (a duplicate-key anomaly): each row's position keys it.
    c.predict = {
      source: {
        kind: 'duckdb',
        database: ':memory:',
        query: `SELECT * EXCLUDE (id, label) FROM read_parquet(${literal(file)}, file_row_number = true)`,
      },
      keys: ['file_row_number'],
      as_of: '2026-01-01',
      days: 1,
      version: 'champion',
      sink,
    };
    await writeFile(path, stringify(c));
    return path;
  };
  const measure = (configFile: string) => {
    // The PostgreSQL URL goes to the child in its environment, never into a config file.
    const pgUrl = process.env.MLOPS_PG_URL ?? process.env.MLOPS_TEST_PG_URL;
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/predict.ts', '--child', configFile], {
      env: { ...process.env, ...(pgUrl && { MLOPS_PG_URL: pgUrl }) },
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (child.status !== 0) throw new Error(`the batch failed:\n${child.stderr}`);
    return JSON.parse(child.stdout) as { rows: number; seconds: { score: number; write: number; total: number }; rss: number };
  };
  const perMinute = (n: number, seconds: number) => Math.round((n / seconds) * 60);
  const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
  const count = (n: number) => n.toLocaleString('en-US');

  const small = await fileOf(rows);
  const parquet = await batchConfig('parquet', small, { kind: 'parquet', path: join(dir, 'out') });
  console.log(`\n${count(rows)} rows x 20 columns, Parquet to Parquet, the (64, 32) MLP; load average ${loadAverage()}`);
  const batches = Array.from({ length: Number(values.runs) }, () => measure(parquet));
  for (const [i, b] of batches.entries())
    console.log(
      `  mlops predict, run ${i + 1}: ${count(perMinute(b.rows, b.seconds.total))} rows/min (${b.seconds.total.toFixed(1)} s: scoring ${b.seconds.score.toFixed(1)} s, writing ${b.seconds.write.toFixed(1)} s), peak RSS ${mib(b.rss)}`,
    );
  const served = await postedToServer(dir, config, small, rows);
  console.log(
    `  /predict in batches of 256, 4 in flight: ${count(perMinute(served.rows, served.seconds))} rows/min (${served.seconds.toFixed(1)} s; ${served.failed} failed requests)`,
  );
  const best = Math.max(...batches.map((b) => perMinute(b.rows, b.seconds.total)));
  t.check(best >= 1_000_000, `Parquet to Parquet: ${count(best)} rows/min (target >= 1,000,000)`);
  const rss1 = Math.max(...batches.map((b) => b.rss));
  t.check(rss1 <= GiB, `peak RSS at ${count(rows)} rows: ${mib(rss1)} (target <= 1 GiB)`);

  if (large > 0) {
    const big = measure(await batchConfig('large', await fileOf(large), { kind: 'parquet', path: join(dir, 'out-large') }));
    console.log(
      `\n${count(large)} rows: ${count(perMinute(big.rows, big.seconds.total))} rows/min (${big.seconds.total.toFixed(1)} s), peak RSS ${mib(big.rss)} against ${mib(rss1)} at ${count(rows)}`,
    );
    // "No more": within the noise of a process's allocator, 10%.
    t.check(
      big.rss <= GiB && big.rss <= rss1 * 1.1,
      `peak RSS at ${count(large)} rows: ${mib(big.rss)} (target <= 1 GiB and no more than at ${count(rows)})`,
    );
  }

  const pgUrl = process.env.MLOPS_PG_URL ?? process.env.MLOPS_TEST_PG_URL;
  if (pgUrl) {
    const pgConfig = await batchConfig('postgres', small, { kind: 'postgres', table: 'bench_predictions' });
    const runs = Array.from({ length: Number(values.runs) }, () => measure(pgConfig));
    console.log(`\nPostgreSQL sink, ${count(rows)} rows`);
    for (const [i, r] of runs.entries())
      console.log(
        `  run ${i + 1}: ${count(Math.round(r.rows / r.seconds.write))} rows/s written (${r.seconds.write.toFixed(1)} s), ${count(perMinute(r.rows, r.seconds.total))} rows/min in all`,
      );
    const fastest = Math.max(...runs.map((r) => r.rows / r.seconds.write));
    t.check(fastest >= 200_000, `PostgreSQL sink: ${count(Math.round(fastest))} rows/s written (target >= 200,000)`);
  } else console.log('\nPostgreSQL sink: skipped (set MLOPS_PG_URL or MLOPS_TEST_PG_URL)');
  t.report();
}

function loadAverage(): string {
  return spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ').slice(0, 3).join(' ');
}

/** The synthetic config with a registry, a work folder and a champion of its own: trained once, on 50,000 other rows. */
async function trainedConfig(dir: string) {
  const data = join(dir, 'train-data');
  if (!existsSync(join(data, 'synthetic.parquet'))) await synth({ rows: 50_000, seed: 7, out: data, format: 'parquet' });
  const config = parseConfig(
    {
      ...synthConfig({ file: join(data, 'synthetic.parquet') }),
      workdir: join(dir, 'work'),
      registry: { path: join(dir, 'registry') },
      deploy: { target: 'none' },
      model: { task: 'multiclass', hidden: [64, 32], epochs: 5, batch_size: 256 },
      gates: { thresholds: { accuracy: { lower: 0.5 } } },
      serving: { log: { path: join(dir, 'predictions', 'predictions.jsonl') } },
    },
    process.env,
  );
  const file = join(dir, 'train.config.yaml');
  await writeFile(file, stringify(config));
  const ctx = createContext({ config, file, dir, env: process.env }, { runId: 'bench-train', log: silent, progress: silentProgress });
  if (!(await openRegistry(ctx).resolve('champion'))) {
    console.log('training the champion on 50,000 synthetic rows ...');
    await runPipeline(ctx, { retrain: true });
  }
  return config;
}

/** The same rows, typed as a client sends them, posted to `mlops serve` 256 a request with 4 requests in flight. */
async function postedToServer(dir: string, config: object, file: string, rows: number) {
  const configFile = join(dir, 'serve.config.yaml');
  await writeFile(configFile, stringify(config));
  const port = 18_000 + (process.pid % 1000);
  const server = spawn(process.execPath, ['bin/mlops.js', 'serve', '--config', configFile, '--port', String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      if ((await fetch(`${url}/ready`).catch(() => undefined))?.ok) break;
      if (i > 300) throw new Error('mlops serve did not become ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    const numbers = Array.from(
      { length: 12 },
      (_, j) => `TRY_CAST(trim(CAST(x${String(j + 1).padStart(2, '0')} AS VARCHAR)) AS DOUBLE) AS x${String(j + 1).padStart(2, '0')}`,
    );
    const select = `SELECT ${numbers.join(', ')}, CAST(n1 AS DOUBLE) AS n1, CAST(n2 AS DOUBLE) AS n2, c1, c2, lower(flag) IN ('true', 'yes', '1') AS flag FROM read_parquet(${literal(file)})`;
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    const result = await db.stream(select);
    const names = result.columnNames();
    let failed = 0;
    let sent = 0;
    const began = performance.now();
    for (let chunk = await result.fetchChunk(); chunk?.rowCount; chunk = await result.fetchChunk()) {
      const columns = chunk.getColumns();
      const records = Array.from({ length: chunk.rowCount }, (_, r) =>
        Object.fromEntries(names.map((n, c) => [n, columns[c]![r] ?? null])),
      );
      const bodies: string[] = [];
      for (let i = 0; i < records.length; i += 256) bodies.push(JSON.stringify({ instances: records.slice(i, i + 256) }));
      let next = 0;
      const post = async () => {
        while (next < bodies.length) {
          const res = await fetch(`${url}/predict`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: bodies[next++],
          });
          await res.arrayBuffer();
          if (!res.ok) failed++;
        }
      };
      await Promise.all([post(), post(), post(), post()]);
      sent += records.length;
    }
    db.closeSync();
    if (sent !== rows) throw new Error(`sent ${sent} rows, expected ${rows}`);
    return { rows: sent, seconds: (performance.now() - began) / 1000, failed };
  } finally {
    server.kill('SIGTERM');
  }
}
