import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createContext, stepDir } from '../../src/context.js';
import { openDuck, rows } from '../../src/data/duckdb.js';
import { extract } from '../../src/data/extract.js';
import type { ContractReport, ExtractOutputs } from '../../src/step-outputs.js';
import { MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { silentProgress } from '../../src/progress.js';

/*
 * Each test feeds the extract step a tiny inline table, `SELECT * FROM (VALUES ...) t(cols)`, so the
 * source types are exactly what the test says (quoted values arrive as VARCHAR, bare numbers as
 * numbers), then reads back what a user would look at: contract.json, quarantine.jsonl and the
 * train/validation/test parquet files.
 */

interface Setup {
  /** The source query; `$as_of` and `$window_start` are bound to the window. */
  query: string;
  /** data.contract.columns; every test names its label column `label`. */
  columns: Record<string, Record<string, unknown>>;
  contract?: { max_quarantine_ratio?: number; undeclared_columns?: 'warn' | 'error' };
  window?: { as_of?: string; days?: number };
  asOf?: string;
}

/** A line of quarantine.jsonl: the row's 1-based position in the source, the rules it broke, its raw values. */
interface QuarantinedRow {
  source_row: number;
  rules: string;
  values: Record<string, unknown>;
}

interface Run {
  dir: string;
  log: ReturnType<typeof memoryLogger>;
  outputs?: ExtractOutputs;
  error?: MlopsError;
}

let root: string;
let duck: DuckDBConnection;
let runs = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-contract-'));
  duck = await openDuck();
});
afterAll(async () => {
  duck.closeSync();
  await rm(root, { recursive: true, force: true });
});

async function run(setup: Setup): Promise<Run> {
  const config = parseConfig(
    {
      version: 1,
      project: 'contract-test',
      data: {
        source: { kind: 'duckdb', query: setup.query },
        window: { as_of: '2024-06-30', days: 365, ...setup.window },
        // These tests quarantine on purpose; the ratio gets a test of its own.
        contract: { max_quarantine_ratio: 1, ...setup.contract, columns: setup.columns },
      },
    },
    {},
  );
  const dir = await mkdtemp(join(root, 'cfg-'));
  const log = memoryLogger();
  const ctx = createContext({ config, file: join(dir, 'mlops.config.yaml'), dir, env: process.env }, { runId: `run-${++runs}`, log, progress: silentProgress });
  try {
    const outputs = await extract(ctx, setup.asOf ? { asOf: setup.asOf } : {});
    return { dir: stepDir(ctx, 'extract'), log, outputs };
  } catch (err) {
    if (!(err instanceof MlopsError)) throw err;
    return { dir: stepDir(ctx, 'extract'), log, error: err };
  }
}

/** Runs the extract and expects it to succeed. */
async function extracted(setup: Setup) {
  const r = await run(setup);
  if (r.error) throw r.error;
  return {
    ...r,
    outputs: r.outputs!,
    report: await report(r.dir),
    quarantine: await quarantine(r.dir),
    clean: await clean(r.dir),
  };
}

/** Runs the extract and expects it to fail. */
async function failed(setup: Setup): Promise<Run & { error: MlopsError }> {
  const r = await run(setup);
  if (!r.error) throw new Error('expected the extract to fail');
  return r as Run & { error: MlopsError };
}

async function report(dir: string): Promise<ContractReport> {
  return JSON.parse(await readFile(join(dir, 'contract.json'), 'utf8')) as ContractReport;
}

async function quarantine(dir: string): Promise<QuarantinedRow[]> {
  const text = await readFile(join(dir, 'quarantine.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as QuarantinedRow);
}

/**
 * The clean rows of all three splits in source order. Values are DuckDB's JSON form: DOUBLE and
 * BOOLEAN as themselves, BIGINT and TIMESTAMP as text (so big integers stay exact).
 */
async function clean(dir: string): Promise<Record<string, unknown>[]> {
  const part = (split: string) => `SELECT *, '${split}' AS split FROM read_parquet('${join(dir, `${split}.parquet`)}')`;
  return rows(
    duck,
    `SELECT * REPLACE (CAST(source_row AS INTEGER) AS source_row)
     FROM (${part('train')} UNION ALL ${part('validation')} UNION ALL ${part('test')}) ORDER BY source_row`,
  );
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** The values of one column of the clean rows, in source order. */
const values = (rowsOf: Record<string, unknown>[], column: string) => rowsOf.map((r) => r[column]);
/** source_row -> rules, for quarantined rows. */
const reasons = (q: QuarantinedRow[]) => Object.fromEntries(q.map((r) => [r.source_row, r.rules]));

const label = { type: 'label' };

describe('float columns', () => {
  it('read numbers from text, trimming spaces, and count them as coerced', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (' 42 ', 'a'), ('3.5', 'b'), ('-7', 'a')) t(x, label)`,
      columns: { x: { type: 'float' }, label },
    });
    expect(values(r.clean, 'x')).toEqual([42, 3.5, -7]);
    expect(r.quarantine).toEqual([]);
    expect(r.report.columns.x).toMatchObject({ type: 'float', sourceType: 'VARCHAR', coerced: 3, missing: 0 });
    expect(r.outputs.schema.x).toBe('DOUBLE');
  });

  it('take numeric sources as they are, with nothing coerced', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (1.5, 'a'), (2, 'b')) t(x, label)`,
      columns: { x: { type: 'float' }, label },
    });
    expect(values(r.clean, 'x')).toEqual([1.5, 2]);
    expect(r.report.columns.x!.coerced).toBe(0);
  });

  it('quarantine text that is not a number, under rule x:type', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('abc', 'a'), ('12 kg', 'b'), ('1.5', 'a'), ('n/a', 'b')) t(x, label)`,
      columns: { x: { type: 'float' }, label },
    });
    expect(reasons(r.quarantine)).toEqual({ 1: 'x:type', 2: 'x:type', 4: 'x:type' });
    expect(values(r.clean, 'x')).toEqual([1.5]);
    expect(r.report.rules).toEqual({ 'x:type': 3 });
    expect(r.report.columns.x!.violations).toMatchObject({ type: 3 });
  });

  it('quarantine NaN and Infinity, which are not usable numbers', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('NaN', 'a'), ('Infinity', 'b'), ('-inf', 'a'), ('1e400', 'b'), ('1e3', 'a')) t(x, label)`,
      columns: { x: { type: 'float' }, label },
    });
    expect(reasons(r.quarantine)).toEqual({ 1: 'x:type', 2: 'x:type', 3: 'x:type', 4: 'x:type' });
    expect(values(r.clean, 'x')).toEqual([1000]);
  });
});

describe('integer columns', () => {
  it('accept whole numbers written as decimals and reject fractions', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('42.0', 'a'), ('3.5', 'b'), (' 7 ', 'a'), ('-2', 'b')) t(n, label)`,
      columns: { n: { type: 'integer' }, label },
    });
    expect(reasons(r.quarantine)).toEqual({ 2: 'n:type' });
    expect(values(r.clean, 'n')).toEqual(['42', '7', '-2']);
    expect(r.report.columns.n!.coerced).toBe(3);
    expect(r.outputs.schema.n).toBe('BIGINT');
  });

  it('quarantine a number too big for a 64-bit integer instead of failing the run', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('1e20', 'a'), ('99999999999999999999', 'b'), ('5', 'a')) t(n, label)`,
      columns: { n: { type: 'integer' }, label },
    });
    expect(reasons(r.quarantine)).toEqual({ 1: 'n:type', 2: 'n:type' });
    expect(values(r.clean, 'n')).toEqual(['5']);
  });

  it('keep integers above 2^53 exact, whether they arrive as numbers or as text', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (9007199254740993::BIGINT, '9007199254740993', 'a'), (1::BIGINT, '1', 'b')) t(id, id_text, label)`,
      columns: { id: { type: 'integer', key: true }, id_text: { type: 'integer' }, label },
    });
    expect(values(r.clean, 'id')).toEqual(['9007199254740993', '1']);
    expect(values(r.clean, 'id_text')).toEqual(['9007199254740993', '1']);
    expect(r.report.columns.id!.coerced).toBe(0);
  });

  it('check allowed values', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (4, 'a')) t(n, label)`,
      columns: { n: { type: 'integer', values: [1, 2, 3] }, label },
    });
    expect(reasons(r.quarantine)).toEqual({ 3: 'n:allowed' });
  });
});

describe('boolean columns', () => {
  it('read true/false spelled in the usual ways, case-insensitively, and quarantine the rest', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('TRUE', 'a'), ('yes', 'b'), ('0', 'a'), (' n ', 'b'), ('maybe', 'a'), ('F', 'b')) t(flag, label)`,
      columns: { flag: { type: 'boolean' }, label },
    });
    expect(values(r.clean, 'flag')).toEqual([true, true, false, false, false]);
    expect(reasons(r.quarantine)).toEqual({ 5: 'flag:type' });
    expect(r.quarantine[0]!.values.flag).toBe('maybe');
    expect(r.report.columns.flag!.coerced).toBe(5);
  });

  it('take a BOOLEAN source as it is', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (true, 'a'), (false, 'b')) t(flag, label)`,
      columns: { flag: { type: 'boolean' }, label },
    });
    expect(values(r.clean, 'flag')).toEqual([true, false]);
    expect(r.report.columns.flag!.coerced).toBe(0);
  });
});

describe('category columns', () => {
  it('trim padded text, counting only the padded values as coerced', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (' red ', 'a'), ('green', 'b'), ('red\t', 'a')) t(color, label)`,
      columns: { color: { type: 'category' }, label },
    });
    expect(values(r.clean, 'color')).toEqual(['red', 'green', 'red']);
    expect(r.report.columns.color!.coerced).toBe(2);
  });

  it('quarantine values outside the allowed list, case-sensitively', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('red', 'a'), ('blue', 'b'), ('Red', 'a'), (' green ', 'b')) t(color, label)`,
      columns: { color: { type: 'category', values: ['red', 'green'] }, label },
    });
    expect(reasons(r.quarantine)).toEqual({ 2: 'color:allowed', 3: 'color:allowed' });
    // The padded value is trimmed before the check.
    expect(values(r.clean, 'color')).toEqual(['red', 'green']);
  });

  it('apply allowed values to the label too', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (1.0, 'cat'), (2.0, 'dog'), (3.0, 'cow')) t(x, label)`,
      columns: { x: { type: 'float' }, label: { type: 'label', values: ['cat', 'dog'] } },
    });
    expect(reasons(r.quarantine)).toEqual({ 3: 'label:allowed' });
  });
});

describe('hostile text', () => {
  it('quarantines a value over max_length (1,000 characters by default) with the reason, the label too', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('red', 'a'), (repeat('x', 1001), 'b'), (repeat('y', 1000), 'a'), ('red', repeat('z', 5))) t(color, label)`,
      columns: { color: { type: 'category' }, label: { type: 'label', max_length: 4 } },
    });
    expect(reasons(r.quarantine)).toEqual({ 2: 'color:max_length', 4: 'label:max_length' });
    expect(r.report.columns.color!.violations).toMatchObject({ max_length: 1 });
    expect(values(r.clean, 'color')).toEqual(['red', 'y'.repeat(1000)]);
  });

  it('fails on a column with more distinct clean values than its max_categories, naming it and the count', async () => {
    const query = (n: number) => `SELECT 'k' || i AS id, 'v' || (i % ${n}) AS color, 'k' || i AS tag, 'a' AS label FROM range(3000) r(i)`;
    // A key holds ids: no cap applies to it.
    const columns = { id: { type: 'category', key: true }, color: { type: 'category' }, tag: { type: 'category', max_categories: 5000 }, label };
    const ok = await extracted({ query: query(1000), columns });
    expect(ok.outputs.rows.clean).toBe(3000);
    const { error } = await failed({ query: query(1001), columns });
    expect(error.errorClass).toBe('data');
    expect(error.message).toBe('column color has 1,001 distinct values, above its max_categories 1,000');
    expect(error.hint).toContain('raise its max_categories');
    // Quarantined values do not count: over-long ones are left out before the categories are counted.
    const long = `SELECT CASE WHEN i < 2 THEN 'ok' || i ELSE repeat('x', 20) || i END AS color, 'a' AS label FROM range(50) r(i)`;
    expect((await extracted({ query: long, columns: { color: { type: 'category', max_length: 10, max_categories: 2 }, label } })).outputs.rows.clean).toBe(2);
  });

  it('refuses the bounds on columns that are not text, and a category cap on a key', () => {
    const config = (columns: Record<string, unknown>, task = 'multiclass') => () =>
      parseConfig({ version: 1, project: 'p', model: { task }, data: { source: { kind: 'duckdb', query: 'SELECT 1' }, contract: { columns } } }, {});
    expect(config({ x: { type: 'float', max_length: 10 }, label })).toThrow('max_length applies to category or label columns, not float');
    expect(config({ x: { type: 'category', key: true, max_categories: 10 }, label })).toThrow('a key column holds ids, which have no max_categories');
    expect(config({ x: { type: 'float' }, y: { type: 'label', max_categories: 3 } }, 'regression')).toThrow(
      'max_categories applies to the label of a classification task, not regression',
    );
  });
});

describe('timestamp columns', () => {
  it('read dates and date-times from text and quarantine text that is not one', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('2024-01-05', 'a'), (' 2024-01-05 10:30:00 ', 'b'), ('yesterday', 'a'), ('2024-13-01', 'b')) t(t, label)`,
      columns: { t: { type: 'timestamp' }, label },
    });
    expect(values(r.clean, 't')).toEqual(['2024-01-05 00:00:00', '2024-01-05 10:30:00']);
    expect(reasons(r.quarantine)).toEqual({ 3: 't:type', 4: 't:type' });
    expect(r.report.columns.t!.coerced).toBe(2);
  });

  it('take a DATE source as it is', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (DATE '2024-01-05', 'a')) t(t, label)`,
      columns: { t: { type: 'timestamp' }, label },
    });
    expect(values(r.clean, 't')).toEqual(['2024-01-05 00:00:00']);
    expect(r.report.columns.t!.coerced).toBe(0);
  });
});

describe('ranges', () => {
  it('quarantine values outside [min, max], bounds included, such as a -999 sentinel', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('-999', 'a'), ('0', 'b'), ('100', 'a'), ('100.5', 'b'), ('55', 'a')) t(x, label)`,
      columns: { x: { type: 'float', range: [0, 100] }, label },
    });
    expect(reasons(r.quarantine)).toEqual({ 1: 'x:range', 4: 'x:range' });
    expect(values(r.clean, 'x')).toEqual([0, 100, 55]);
    expect(r.report.columns.x!.violations).toEqual({ type: 0, not_null: 0, range: 2 });
  });

  it('do not apply to a missing value in a nullable column', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (NULL, 'a'), ('5', 'b')) t(x, label)`,
      columns: { x: { type: 'float', nullable: true, range: [1, 10] }, label },
    });
    expect(r.quarantine).toEqual([]);
    expect(values(r.clean, 'x')).toEqual([null, 5]);
  });
});

describe('missing values', () => {
  it('count NULL, empty and blank text as missing: kept in a nullable column, quarantined otherwise', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES
        (NULL, NULL, 'a'),
        ('',   '',   'b'),
        ('  ', '  ', 'a'),
        ('1',  'x',  'b')) t(opt, req, label)`,
      columns: { opt: { type: 'float', nullable: true }, req: { type: 'category' }, label },
    });
    expect(reasons(r.quarantine)).toEqual({ 1: 'req:not_null', 2: 'req:not_null', 3: 'req:not_null' });
    expect(r.report.columns.opt).toMatchObject({ missing: 3, violations: { type: 0 } });
    expect(r.report.columns.req).toMatchObject({ missing: 3, violations: { not_null: 3 } });
  });

  it('store a blank value of a nullable category as null, not as empty text', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('  ', 'a'), ('MALE', 'b')) t(sex, label)`,
      columns: { sex: { type: 'category', nullable: true }, label },
    });
    expect(values(r.clean, 'sex')).toEqual([null, 'MALE']);
  });

  it('quarantine a row without a label, even though nothing says the label is not nullable', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (1.0, 'a'), (2.0, NULL), (3.0, ' ')) t(x, label)`,
      columns: { x: { type: 'float' }, label },
    });
    expect(reasons(r.quarantine)).toEqual({ 2: 'label:not_null', 3: 'label:not_null' });
  });
});

describe('keys', () => {
  it('quarantine a repeated key as key:duplicate and keep the first row', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (1, 'first', 'a'), (2, 'other', 'b'), (1, 'second', 'b'), (1, 'third', 'a')) t(id, note, label)`,
      columns: { id: { type: 'integer', key: true }, note: { type: 'category' }, label },
    });
    expect(reasons(r.quarantine)).toEqual({ 3: 'key:duplicate', 4: 'key:duplicate' });
    expect(values(r.clean, 'note')).toEqual(['first', 'other']);
    expect(r.report.rules).toEqual({ 'key:duplicate': 2 });
  });

  it('keep the first VALID row: a quarantined row does not claim its key', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (5, 'oops', 'a'), (5, '1.5', 'b'), (5, '2.5', 'a')) t(id, x, label)`,
      columns: { id: { type: 'integer', key: true }, x: { type: 'float' }, label },
    });
    // Row 1 is broken (x:type), so row 2 keeps key 5 and only row 3 is a duplicate.
    expect(reasons(r.quarantine)).toEqual({ 1: 'x:type', 3: 'key:duplicate' });
    expect(values(r.clean, 'source_row')).toEqual([2]);
  });

  it('list a duplicate in quarantine.jsonl with its source row and values', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (1, 'a'), (1, 'b')) t(id, label)`,
      columns: { id: { type: 'integer', key: true }, label },
    });
    expect(r.quarantine).toEqual([{ source_row: 2, rules: 'key:duplicate', values: { id: 1, label: 'b' } }]);
  });

  it('compare keys by their cleansed value, across every key column', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('s1', ' 7', 'a'), ('s1', '7 ', 'b'), ('s2', '7', 'a')) t(study, id, label)`,
      columns: { study: { type: 'category', key: true }, id: { type: 'category', key: true }, label },
    });
    expect(reasons(r.quarantine)).toEqual({ 2: 'key:duplicate' });
  });
});

describe('quarantine.jsonl', () => {
  it('keeps each broken row with its source row number, every rule it broke and its raw values', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (1, ' 42 ', 'a'), (2, 'abc', NULL), (3, '-999', 'b')) t(id, x, label)`,
      columns: { id: { type: 'integer', key: true }, x: { type: 'float', range: [0, 100] }, label },
    });
    expect(r.quarantine).toEqual([
      { source_row: 2, rules: 'x:type, label:not_null', values: { id: 2, x: 'abc', label: null } },
      { source_row: 3, rules: 'x:range', values: { id: 3, x: '-999', label: 'b' } },
    ]);
    expect(r.outputs.rows).toEqual({ read: 3, clean: 1, quarantined: 2 });
    expect(r.report.rows).toEqual({ read: 3, clean: 1, quarantined: 2, quarantinedShare: 2 / 3 });
    // Rules are listed most frequent first.
    expect(r.report.rules).toEqual({ 'x:type': 1, 'x:range': 1, 'label:not_null': 1 });
  });

  it('is empty when every row is clean', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (1.0, 'a')) t(x, label)`,
      columns: { x: { type: 'float' }, label },
    });
    expect(r.quarantine).toEqual([]);
    expect(r.report.rules).toEqual({});
  });
});

describe('columns the query returns', () => {
  it('are warned about and dropped when the contract does not declare them', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES (1.0, 'a', 'free text')) t(x, label, notes)`,
      columns: { x: { type: 'float' }, label },
    });
    const warnings = r.log.lines.filter((l) => l.level === 'warn').map((l) => l.message);
    expect(warnings).toEqual([expect.stringContaining('columns not in data.contract.columns: notes')]);
    expect(Object.keys(r.clean[0]!)).toEqual(['source_row', 'x', 'label', 'split']);
    expect(r.report.undeclaredColumns).toEqual(['notes']);
  });

  it('are a config error with undeclared_columns: error', async () => {
    const r = await failed({
      query: `SELECT * FROM (VALUES (1.0, 'a', 'free text')) t(x, label, notes)`,
      columns: { x: { type: 'float' }, label },
      contract: { undeclared_columns: 'error' },
    });
    expect(r.error.errorClass).toBe('config');
    expect(r.error.message).toContain('columns not in data.contract.columns: notes');
  });

  it('must include every declared column', async () => {
    const r = await failed({
      query: `SELECT * FROM (VALUES (1.0, 'a')) t(x, label)`,
      columns: { x: { type: 'float' }, y: { type: 'float' }, label },
    });
    expect(r.error.errorClass).toBe('config');
    expect(r.error.message).toContain('declared columns missing from the query result: y');
    expect(r.error.hint).toContain('the query returns: x, label');
  });

  it('must include the label', async () => {
    const r = await failed({
      query: `SELECT * FROM (VALUES (1.0, 'a')) t(x, species)`,
      columns: { x: { type: 'float' }, label },
    });
    expect(r.error.errorClass).toBe('config');
    expect(r.error.message).toContain('the label column "label" is missing from the query result');
  });
});

describe('the training window', () => {
  const query = `SELECT * FROM (VALUES
      (DATE '2024-05-31', 'before the window'),
      (DATE '2024-06-01', 'first day'),
      (DATE '2024-06-29', 'last day'),
      (DATE '2024-06-30', 'as_of itself')) t(day, label)
    WHERE day >= $window_start AND day < $as_of`;

  it('includes window_start and excludes as_of', async () => {
    const r = await extracted({ query, columns: { day: { type: 'timestamp' }, label }, window: { as_of: '2024-06-30', days: 29 } });
    expect(r.outputs.window).toEqual({ asOf: '2024-06-30', windowStart: '2024-06-01', days: 29 });
    expect(values(r.clean, 'label')).toEqual(['first day', 'last day']);
  });

  it('refuses an as_of that is not a real date', async () => {
    const r = await failed({ query, columns: { day: { type: 'timestamp' }, label }, asOf: '2024-02-30' });
    expect(r.error.errorClass).toBe('config');
    expect(r.error.message).toBe('as_of: expected a date as YYYY-MM-DD, got "2024-02-30"');
  });

  it('is a data error naming as_of when it holds no rows', async () => {
    const r = await failed({ query, columns: { day: { type: 'timestamp' }, label }, asOf: '2023-01-01' });
    expect(r.error.errorClass).toBe('data');
    expect(r.error.message).toContain('no rows for as_of=2023-01-01');
  });
});

describe('max_quarantine_ratio', () => {
  const query = `SELECT * FROM (VALUES
      ('1', 'a'), ('2', 'b'), ('x', 'a'), ('y', 'b'), ('5', NULL),
      ('6', 'b'), ('7', 'a'), ('8', 'b'), ('9', 'a'), ('10', 'b')) t(x, label)`;
  const columns = { x: { type: 'float' }, label };

  it('fails the extract with a data error naming the top reasons when exceeded', async () => {
    const r = await failed({ query, columns, contract: { max_quarantine_ratio: 0.2 } });
    expect(r.error.errorClass).toBe('data');
    expect(r.error.message).toBe(
      '30.0% of rows quarantined, above data.contract.max_quarantine_ratio 0.2; top reasons: x:type 2, label:not_null 1',
    );
    // What is needed to investigate is still written; the splits are not.
    expect(await quarantine(r.dir)).toHaveLength(3);
    expect((await report(r.dir)).rows.quarantinedShare).toBeCloseTo(0.3);
    expect(await exists(join(r.dir, 'train.parquet'))).toBe(false);
    expect(await exists(join(r.dir, 'extract.json'))).toBe(false);
  });

  it('lets the run through at exactly the ratio', async () => {
    const r = await extracted({ query, columns, contract: { max_quarantine_ratio: 0.3 } });
    expect(r.outputs.rows).toEqual({ read: 10, clean: 7, quarantined: 3 });
  });

  it('set to 1 lets even a batch without one clean row through, with empty splits', async () => {
    const r = await extracted({
      query: `SELECT * FROM (VALUES ('x', 'a'), ('y', 'b')) t(x, label)`,
      columns,
      contract: { max_quarantine_ratio: 1 },
    });
    expect(r.outputs.rows).toEqual({ read: 2, clean: 0, quarantined: 2 });
    expect(r.outputs.split).toEqual({ train: 0, validation: 0, test: 0 });
    expect(r.clean).toEqual([]);
  });
});

describe('source query errors', () => {
  it('are config errors carrying DuckDB message', async () => {
    const r = await failed({ query: 'SELECT * FROM no_such_table', columns: { x: { type: 'float' }, label } });
    expect(r.error.errorClass).toBe('config');
    expect(r.error.message).toContain('the source query failed');
    expect(r.error.message).toContain('no_such_table does not exist');
  });
});
