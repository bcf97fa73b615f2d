import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { predictBatch } from '../../src/predict/predict.js';
import { mlopsFromSources } from '../helpers/cli.js';
import { isolatedConfig, trainedRun } from '../helpers/model.js';
import { batchConfig, batchContext, copiedQuery, query } from './batch.js';

describe('mlops predict refuses bad input with the cause and the fix, writing nothing', () => {
  let root: string;
  let config: Config;
  let dir: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-predict-bad-'));
    config = await isolatedConfig(root);
    await trainedRun(config, 'train');
    dir = join(root, 'batches');
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  /** The error a batch of `query` and `keys` into Parquet ends with; the sink must stay empty. */
  const refusal = async (name: string, query?: string, keys?: string[], change?: (c: Config) => void) => {
    const c = batchConfig(config, { kind: 'parquet', path: dir }, query, keys);
    change?.(c);
    const error = await predictBatch(await batchContext(c, name), { asOf: '2010-01-01' }).then(
      () => undefined,
      (err: unknown) => err as Error & { errorClass: string; hint?: string },
    );
    expect(existsSync(dir), 'nothing written').toBe(false);
    return error!;
  };

  it('a query that returns none of the features, or lacks some', async () => {
    const none = await refusal('none', `SELECT 'a' AS study, 'b' AS individual_id, 1 AS weight`);
    expect(none).toMatchObject({ errorClass: 'config' });
    expect(none.message).toMatch(
      /predict.source.query returns none of model v1's features \(island, clutch_completion, .*\); the query returns: study, individual_id, weight/,
    );
    const some = await refusal('some', copiedQuery(1).replace(`"Sex" AS sex,`, ''), ['study', 'individual_id', 'copy']);
    expect(some.message).toMatch(/predict.source.query lacks model v1's features sex;/);
  });

  it('a key that is not unique, or missing', async () => {
    const repeated = await refusal('repeated', copiedQuery(2), ['study', 'individual_id']);
    expect(repeated).toMatchObject({ errorClass: 'data' });
    expect(repeated.message).toMatch(
      /the key study, individual_id is not unique: 344 values repeat, e\.g\. \{"study":"PAL0708","individual_id":"N10A1"\} 2 times, /,
    );
    const absent = await refusal('absent', undefined, ['penguin_id']);
    expect(absent.message).toMatch(
      /predict.keys: penguin_id not returned by predict.source.query; the query returns: study, individual_id, island/,
    );
  });

  it('a key named like a column the batch writes', async () => {
    const clash = await refusal('clash', copiedQuery(1).replace('c.range AS copy', 'c.range AS label'), [
      'study',
      'individual_id',
      'label',
    ]);
    expect(clash).toMatchObject({ errorClass: 'config' });
    expect(clash.message).toMatch(
      /predict.keys: label is also a column the batch writes \(label, probabilities, model_version, run_id, scored_at, as_of\)/,
    );
  });

  it('too many rows that break the contract: the quarantine is kept, nothing is scored', async () => {
    const bad = copiedQuery(1).replace(
      '"Body Mass (g)" AS body_mass_g',
      `CASE WHEN "Individual ID" LIKE 'N1%' THEN -999 ELSE "Body Mass (g)" END AS body_mass_g`,
    );
    const error = await refusal('quarantine', bad, ['study', 'individual_id']);
    expect(error).toMatchObject({ errorClass: 'data' });
    expect(error.message).toMatch(
      /% of the batch's rows quarantined, above data.contract.max_quarantine_ratio 0.05; top reasons: body_mass_g:range/,
    );
    expect(
      await query(`SELECT count(*) AS n FROM read_json('${join(config.workdir, 'runs', 'quarantine', 'predict', 'quarantine.jsonl')}')`),
    ).not.toEqual([{ n: 0n }]);
  });

  it("a DuckDB table whose columns are not the batch's", async () => {
    const database = join(root, 'clash.duckdb');
    await query(`ATTACH '${database}' AS d; CREATE TABLE d.scores (study VARCHAR, prediction DOUBLE)`);
    const c = batchConfig(config, { kind: 'duckdb', database, table: 'scores' });
    const error = await predictBatch(await batchContext(c, 'duckdb-clash'), { asOf: '2010-01-01' }).catch((err: unknown) => err);
    expect(error).toMatchObject({ errorClass: 'config' });
    expect((error as Error).message).toMatch(
      /predict.sink.table scores has the columns study, prediction, but a batch writes study, individual_id, label/,
    );
  });

  it('through the CLI: one line naming the version that does not exist, exit code 2', async () => {
    const ctx = await batchContext(batchConfig(config, { kind: 'parquet', path: dir }), 'cli');
    const result = mlopsFromSources(
      '--config',
      join(dirname(config.workdir), 'mlops.config.yaml'),
      'predict',
      '--version',
      'v7',
      '--run-id',
      ctx.runId,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error[config]: the registry has no version v7 to score with (it has v1)');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('a config without a predict section', async () => {
    const error = await refusal('unset', undefined, undefined, (c) => (c.predict = undefined));
    expect(error.message).toMatch(/the config has no predict section/);
    expect(error.hint).toMatch(/add predict.source, predict.keys and predict.sink/);
  });
});
