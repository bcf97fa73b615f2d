/**
 * `npm run bench:extract`: extract and cleanse 1,000,000 synthetic rows x 20 columns through DuckDB
 * (Parquet and CSV files) and from PostgreSQL (when MLOPS_PG_URL or MLOPS_TEST_PG_URL is set).
 * Each case runs in a fresh process, so its peak RSS is its own; the median of the runs is printed.
 * Targets: DuckDB on Parquet >= 500,000 rows/s, PostgreSQL >= 100,000 rows/s, every case's peak
 * RSS <= 1 GiB; the run exits 1 when one is missed.
 *
 *   npm run bench:extract -- [--rows N] [--runs N]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { loadConfig, parseConfig } from '../src/config/load.js';
import { createContext } from '../src/context.js';
import { extract } from '../src/data/extract.js';
import { loadIntoPostgres } from '../src/data/load-postgres.js';
import { synth, synthConfig } from '../src/data/synth.js';
import { createLogger } from '../src/log.js';
import { silentProgress } from '../src/progress.js';
import { targets } from './targets.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '3' }, child: { type: 'string' } },
});

if (values.child) {
  // One measured run: the whole extract step, from opening the source to the written artifacts.
  const loaded = await loadConfig(values.child, process.env);
  const ctx = createContext(loaded, { runId: 'bench', log: createLogger({ write: () => {} }), progress: silentProgress });
  const began = performance.now();
  const out = await extract(ctx);
  const seconds = (performance.now() - began) / 1000;
  process.stdout.write(JSON.stringify({ rows: out.rows.read, seconds, rss: process.resourceUsage().maxRSS * 1024 }));
} else {
  const rows = Number(values.rows);
  const dir = resolve('.mlops/bench', `synthetic-${rows}`);
  for (const format of ['parquet', 'csv'] as const) {
    if (!existsSync(join(dir, `synthetic.${format}`))) await synth({ rows, out: dir, format });
  }
  /** minRowsPerSecond: docs/benchmarks.md's target, where it sets one. */
  const cases: { name: string; config: string; minRowsPerSecond?: number }[] = [];
  for (const format of ['parquet', 'csv']) {
    const config = join(dir, `${format}.config.yaml`);
    await writeFile(config, stringify(synthConfig({ file: `synthetic.${format}` })));
    cases.push({ name: `DuckDB, ${format} file`, config, ...(format === 'parquet' ? { minRowsPerSecond: 500_000 } : {}) });
  }
  const pgUrl = process.env.MLOPS_PG_URL ?? process.env.MLOPS_TEST_PG_URL;
  if (pgUrl) {
    const began = performance.now();
    await loadIntoPostgres(pgUrl, 'synthetic', join(dir, 'synthetic.csv'));
    console.log(
      `loaded ${rows.toLocaleString('en-US')} rows into PostgreSQL in ${((performance.now() - began) / 1000).toFixed(1)} s (setup, not measured)`,
    );
    const config = join(dir, 'postgres.config.yaml');
    const raw = synthConfig({ table: 'synthetic' });
    parseConfig(raw, { MLOPS_PG_URL: pgUrl }); // fail early on a bad config
    await writeFile(config, stringify(raw));
    cases.push({ name: 'PostgreSQL (COPY)', config, minRowsPerSecond: 100_000 });
  } else {
    console.log('PostgreSQL: skipped (set MLOPS_PG_URL to include it)');
  }

  console.log(`\nextract + cleanse + split + write, ${rows.toLocaleString('en-US')} rows x 20 columns, median of ${values.runs} runs`);
  const maxRss = 2 ** 30;
  const goals = targets();
  console.log('case                   rows/s      seconds   peak RSS   target');
  for (const c of cases) {
    const results = Array.from({ length: Number(values.runs) }, () => {
      const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/extract.ts', '--child', c.config], {
        encoding: 'utf8',
        env: { ...process.env, MLOPS_PG_URL: pgUrl },
      });
      if (child.status !== 0) throw new Error(`${c.name} failed: ${child.stderr}`);
      return JSON.parse(child.stdout) as { rows: number; seconds: number; rss: number };
    }).sort((a, b) => a.seconds - b.seconds);
    const median = results[Math.floor(results.length / 2)]!;
    const rss = Math.max(...results.map((r) => r.rss));
    const perSecond = Math.round(median.rows / median.seconds);
    const target = [c.minRowsPerSecond && `>= ${c.minRowsPerSecond.toLocaleString('en-US')} rows/s`, '<= 1 GiB'].filter(Boolean).join(', ');
    console.log(
      `${c.name.padEnd(22)} ${perSecond.toLocaleString('en-US').padStart(9)}   ${median.seconds.toFixed(2).padStart(7)}   ${(rss / 2 ** 20).toFixed(0).padStart(5)} MiB   ${target}`,
    );
    if (c.minRowsPerSecond)
      goals.check(
        perSecond >= c.minRowsPerSecond,
        `${c.name}: ${perSecond.toLocaleString('en-US')} rows/s < ${c.minRowsPerSecond.toLocaleString('en-US')}`,
      );
    goals.check(rss <= maxRss, `${c.name}: peak RSS ${(rss / 2 ** 20).toFixed(0)} MiB > 1024 MiB`);
  }
  goals.report();
}
