import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createContext, stepDir } from '../../src/context.js';
import { openDuck, rows } from '../../src/data/duckdb.js';
import { extract } from '../../src/data/extract.js';
import type { ExtractOutputs } from '../../src/step-outputs.js';
import { memoryLogger } from '../../src/log.js';
import { silentProgress } from '../../src/progress.js';

/*
 * 200 rows made by DuckDB's range(): a key `id`, a feature `x`, a timestamp `t` that is NOT in
 * source order (i * 37 mod 200 hours after 2024-01-01, a permutation), and three classes of
 * different sizes: a = 120 rows, b = 60, c = 20.
 */
const rowsQuery = (order = 'i') => `
  SELECT i AS id,
         (i * 7 % 13)::DOUBLE AS x,
         TIMESTAMP '2024-01-01' + to_hours(i * 37 % 200) AS t,
         CASE WHEN i % 10 < 6 THEN 'a' WHEN i % 10 < 9 THEN 'b' ELSE 'c' END AS label
  FROM range(200) r(i) ORDER BY ${order}`;
const classSizes = { a: 120, b: 60, c: 20 };
const fractions = { train: 0.7, validation: 0.15, test: 0.15 } as const;

interface Setup {
  query?: string;
  split?: Record<string, unknown>;
  task?: string;
  label?: Record<string, unknown>;
}

interface Row {
  id: number;
  t: string;
  label: string | number;
  split: 'train' | 'validation' | 'test';
}

let root: string;
let duck: DuckDBConnection;
let runs = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-split-'));
  duck = await openDuck();
});
afterAll(async () => {
  duck.closeSync();
  await rm(root, { recursive: true, force: true });
});

/** Runs the extract and returns its outputs and every clean row with the split it landed in. */
async function extracted(setup: Setup = {}): Promise<{ outputs: ExtractOutputs; rows: Row[] }> {
  const config = parseConfig(
    {
      version: 1,
      project: 'split-test',
      data: {
        source: { kind: 'duckdb', query: setup.query ?? rowsQuery() },
        window: { as_of: '2024-06-30' },
        contract: {
          columns: {
            id: { type: 'integer', key: true },
            x: { type: 'float' },
            t: { type: 'timestamp' },
            label: setup.label ?? { type: 'label' },
          },
        },
        split: setup.split ?? {},
      },
      model: { task: setup.task ?? 'multiclass' },
    },
    {},
  );
  const dir = await mkdtemp(join(root, 'cfg-'));
  const ctx = createContext({ config, file: join(dir, 'mlops.config.yaml'), dir, env: process.env }, { runId: `run-${++runs}`, log: memoryLogger(), progress: silentProgress });
  const outputs = await extract(ctx);
  const out = stepDir(ctx, 'extract');
  const part = (split: string) => `SELECT CAST(id AS INTEGER) AS id, CAST(t AS VARCHAR) AS t, label, '${split}' AS split FROM read_parquet('${join(out, `${split}.parquet`)}')`;
  const all = await rows<Row>(duck, `${part('train')} UNION ALL ${part('validation')} UNION ALL ${part('test')} ORDER BY id`);
  return { outputs, rows: all };
}

/** id -> split. */
const assignment = (all: Row[]) => Object.fromEntries(all.map((r) => [r.id, r.split]));
const count = (all: Row[], where: (r: Row) => boolean) => all.filter(where).length;

describe('the seeded split', () => {
  it('is the same on every rerun: same rows in the same splits, same dataHash', async () => {
    const first = await extracted();
    const again = await extracted();
    expect(again.outputs.dataHash).toBe(first.outputs.dataHash);
    expect(assignment(again.rows)).toEqual(assignment(first.rows));
    expect(first.outputs.split).toEqual({ train: 140, validation: 30, test: 30 });
    expect(first.rows).toHaveLength(200);
  });

  it('depends on the keys, not on the order the warehouse returns rows in', async () => {
    const first = await extracted();
    const shuffled = await extracted({ query: rowsQuery('hash(i)') });
    expect(assignment(shuffled.rows)).toEqual(assignment(first.rows));
  });

  it('changes with the seed', async () => {
    const seed42 = await extracted({ split: { seed: 42 } });
    const seed7 = await extracted({ split: { seed: 7 } });
    const moved = seed42.rows.filter((r, i) => seed7.rows[i]!.split !== r.split);
    expect(moved.length).toBeGreaterThan(20);
    // The sizes depend only on the fractions and the classes, not on the seed.
    expect(seed7.outputs.split).toEqual(seed42.outputs.split);
  });

  it('keeps every class at its share of every split, to within one row', async () => {
    const { rows: all } = await extracted();
    for (const [label, size] of Object.entries(classSizes)) {
      for (const [split, fraction] of Object.entries(fractions)) {
        const n = count(all, (r) => r.label === label && r.split === split);
        expect(Math.abs(n - size * fraction), `class ${label} in ${split}: ${n} of ${size}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('follows the configured fractions', async () => {
    const { outputs } = await extracted({ split: { train: 0.5, validation: 0.25, test: 0.25 } });
    expect(outputs.split).toEqual({ train: 100, validation: 50, test: 50 });
  });
});

describe('split.time_column', () => {
  it('trains on the oldest rows, validates on the next and tests on the newest', async () => {
    const { outputs, rows: all } = await extracted({ split: { time_column: 't' } });
    expect(outputs.split).toEqual({ train: 140, validation: 30, test: 30 });
    const times = (split: Row['split']) => all.filter((r) => r.split === split).map((r) => r.t).sort();
    const [train, validation, test] = [times('train'), times('validation'), times('test')];
    expect(train.at(-1)! < validation[0]!).toBe(true);
    expect(validation.at(-1)! < test[0]!).toBe(true);
    expect(train[0]).toBe('2024-01-01 00:00:00');
    expect(test.at(-1)).toBe('2024-01-09 07:00:00'); // hour 199
  });

  it('never puts rows with the same time in different splits', async () => {
    // 200 rows in 29 groups of 7 (the last of 4) sharing a timestamp: the cuts fall inside groups.
    const query = `SELECT i AS id, 1.0 AS x, TIMESTAMP '2024-01-01' + to_days(i // 7) AS t, 'a' AS label FROM range(200) r(i)`;
    const { rows: all } = await extracted({ query, split: { time_column: 't' } });
    const splitsByTime = new Map<string, Set<string>>();
    for (const r of all) splitsByTime.set(r.t, (splitsByTime.get(r.t) ?? new Set()).add(r.split));
    expect([...splitsByTime.values()].every((s) => s.size === 1)).toBe(true);
  });
});

describe('regression', () => {
  it('splits without stratifying, since every label value may be unique', async () => {
    const query = `SELECT i AS id, i::DOUBLE AS x, TIMESTAMP '2024-01-01' AS t, (i * 1.5)::DOUBLE AS label FROM range(100) r(i)`;
    const first = await extracted({ query, task: 'regression' });
    expect(first.outputs.split).toEqual({ train: 70, validation: 15, test: 15 });
    expect(first.outputs.schema.label).toBe('DOUBLE');
    const again = await extracted({ query, task: 'regression' });
    expect(assignment(again.rows)).toEqual(assignment(first.rows));
  });
});
