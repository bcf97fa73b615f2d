import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { monitor } from '../../src/monitor/monitor.js';
import { rekick } from '../../src/pipeline.js';
import { predictBatch } from '../../src/predict/predict.js';
import { runPredict } from '../../src/predict/run.js';
import { statusTable } from '../../src/report.js';
import { batchTable } from '../../src/runs/batch-table.js';
import { asItStands } from '../../src/runs/interrupted.js';
import { listRuns, readRun } from '../../src/runs/ledger.js';
import { recentRuns } from '../../src/runs/recent.js';
import type { RunningServer } from '../../serving/server.js';
import { championServer, isolatedConfig, trainedRun } from '../helpers/model.js';
import { batchConfig, batchContext, copiedQuery, parquetOf, query } from './batch.js';

type Scored = { study: string; individual_id: string; label: string; probabilities: string; run_id: string; as_of: unknown };

describe('mlops predict: a batch scored into files and DuckDB', () => {
  let root: string;
  let config: Config;
  let server: RunningServer;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-predict-'));
    config = await isolatedConfig(root);
    await trainedRun(config, 'train');
    server = await championServer(config);
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('writes every row of the day to Parquet with the predictions /predict gives for the same rows, digit for digit', async () => {
    const dir = join(root, 'parquet');
    const ctx = await batchContext(batchConfig(config, { kind: 'parquet', path: dir }), 'parquet');
    const out = await runPredict(ctx, { asOf: '2010-01-01' });
    expect(out.rows).toEqual({ read: 344, quarantined: 0, scored: 344, written: 344 });
    expect(out.version).toBe('v1');

    const rows = await query<Scored & Record<string, unknown>>(
      `SELECT * FROM '${parquetOf(dir, '2010-01-01')}' ORDER BY study, individual_id`,
    );
    expect(Object.keys(rows[0]!)).toEqual([
      'study',
      'individual_id',
      'label',
      'probabilities',
      'model_version',
      'run_id',
      'scored_at',
      'as_of',
    ]);
    expect(rows[0]).toMatchObject({ model_version: 'v1', run_id: 'parquet' });

    // The same rows as clients send them: the contract's types (a boolean, numbers, nulls), 256 a request.
    const records = await query(`
      SELECT "Island" AS island, "Clutch Completion" = 'Yes' AS clutch_completion,
        "Culmen Length (mm)"::DOUBLE AS culmen_length_mm, "Culmen Depth (mm)"::DOUBLE AS culmen_depth_mm,
        "Flipper Length (mm)"::DOUBLE AS flipper_length_mm, "Body Mass (g)"::DOUBLE AS body_mass_g, "Sex" AS sex,
        "Delta 15 N (o/oo)"::DOUBLE AS delta_15_n, "Delta 13 C (o/oo)"::DOUBLE AS delta_13_c
      FROM read_csv('data/penguins_raw.csv', nullstr = 'NA') ORDER BY "studyName", "Individual ID"`);
    const served: { label: string; probabilities: Record<string, number> }[] = [];
    for (let i = 0; i < records.length; i += 256) {
      const res = await fetch(`${server.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: records.slice(i, i + 256) }),
      });
      served.push(...((await res.json()) as { predictions: typeof served }).predictions);
    }
    expect(rows.map((r) => ({ label: r.label, probabilities: JSON.parse(r.probabilities) as unknown }))).toEqual(served);
  });

  it('scores a day again by replacing its batch, and a failure half way leaves the batch before it in place', async () => {
    const database = join(root, 'scores.duckdb');
    const sinkConfig = batchConfig(config, { kind: 'duckdb', database, table: 'scores' }, copiedQuery(), [
      'study',
      'individual_id',
      'copy',
    ]);
    const byRun = () =>
      query<{ run_id: string; as_of: unknown; n: bigint }>(
        `ATTACH '${database}' AS s (READ_ONLY); SELECT run_id, CAST(as_of AS VARCHAR) AS as_of, count(*) AS n FROM s.scores GROUP BY ALL ORDER BY as_of, run_id`,
      );
    await runPredict(await batchContext(sinkConfig, 'first'), { asOf: '2010-01-01' });
    await runPredict(await batchContext(sinkConfig, 'other-day'), { asOf: '2009-06-01' });
    await runPredict(await batchContext(sinkConfig, 'again'), { asOf: '2010-01-01' });
    const [otherDay, again] = await byRun();
    expect(again).toMatchObject({ run_id: 'again', as_of: '2010-01-01', n: 2752n });
    expect(otherDay).toMatchObject({ run_id: 'other-day', as_of: '2009-06-01' });
    expect(await byRun()).toHaveLength(2);

    // A failure after the first of the two chunks: nothing of this run reaches the table.
    const ctx = await batchContext(sinkConfig, 'broken');
    const broken = predictBatch(ctx, {
      asOf: '2010-01-01',
      onChunk: () => {
        throw new Error('injected: the process died half way');
      },
    });
    await expect(broken).rejects.toThrow(/injected/);
    expect(await byRun()).toEqual([otherDay, again]);
  });

  it('quarantines rows that break the contract with their reasons, and scores the others', async () => {
    const dir = join(root, 'csv');
    const bad = copiedQuery(1).replace(
      '"Body Mass (g)" AS body_mass_g',
      `CASE WHEN "Individual ID" = 'N1A1' THEN -999 ELSE "Body Mass (g)" END AS body_mass_g`,
    );
    const ctx = await batchContext(batchConfig(config, { kind: 'csv', path: dir }, bad, ['study', 'individual_id']), 'quarantine');
    const out = await runPredict(ctx, { asOf: '2010-01-01' });
    // N1A1 is in two of the studies.
    expect(out.rows).toMatchObject({ read: 344, quarantined: 2, scored: 342, written: 342 });
    expect(out.rules).toEqual({ 'body_mass_g:range': 2 });
    const written = await query<{ n: bigint; n1a1: bigint }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE individual_id = 'N1A1') AS n1a1 FROM read_csv('${join(dir, 'as_of=2010-01-01.csv')}')`,
    );
    expect(written[0]).toEqual({ n: 342n, n1a1: 0n });
    expect(await readdir(dir)).toEqual(['as_of=2010-01-01.csv']);
  });

  it('is a run of its own in the ledger that a rekick resumes, and the monitor counts its rows', async () => {
    const dir = join(root, 'ledger');
    const ctx = await batchContext(batchConfig(config, { kind: 'parquet', path: dir }), 'ledger');
    // A first attempt that fails as a killed run would leave it: predict running, no batch written.
    await expect(
      runPredict({ ...ctx, config: { ...ctx.config, predict: { ...ctx.config.predict!, version: 'v9' } } }, { asOf: '2010-01-01' }),
    ).rejects.toThrow(/the registry has no version v9 to score with \(it has v1\)/);
    expect(await readRun(ctx.runDir)).toMatchObject({ kind: 'predict', status: 'failed', options: { asOf: '2010-01-01' } });

    const resumed = await rekick(ctx);
    expect(resumed && 'predict' in resumed && resumed.predict.rows.written).toBe(344);
    expect(await readRun(ctx.runDir)).toMatchObject({
      kind: 'predict',
      status: 'succeeded',
      steps: [{ name: 'predict', status: 'succeeded' }],
    });
    expect(await rekick(ctx)).toBeUndefined();
    // mlops status lists it with the training runs, and below them as one of the last batch runs.
    const listed = (await listRuns(join(config.workdir, 'runs'))).map(asItStands);
    expect(statusTable(listed)).toMatch(/^ledger\s+\S+ \S+\s+batch\s+succeeded\s+\S+\s+predict$/m);
    const batches = (await recentRuns(join(config.workdir, 'runs'))).filter((r) => r.kind === 'predict');
    expect(batchTable(batches)).toMatch(
      new RegExp(`^ledger\\s+succeeded\\s+2010-01-01\\s+v1\\s+344\\s+0\\s+${dir}/as_of=2010-01-01.parquet$`, 'm'),
    );

    const report = await monitor(await batchContext(config, 'monitor'), { window: '1h' });
    const v1 = report.versions.find((v) => v.version === 'v1')!;
    // The registry keeps the last batch of each day of this file's tests; the server's requests add theirs.
    expect(v1.predictions).toBeGreaterThanOrEqual(344);
    // The day's line alone: exactly its rows, and no request.
    const alone = await monitor(await batchContext(config, 'monitor-day'), {
      window: '1h',
      logs: [join(config.registry.path, 'batches', '2010-01-01.jsonl')],
    });
    expect(alone.versions).toMatchObject([{ version: 'v1', predictions: 344, requests: 0, errorRate: null }]);
    expect(Object.keys(v1.psi)).toContain('body_mass_g');
    expect(v1.classes).not.toBeNull();
  });
});
