import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createContext, stepDir } from '../../src/context.js';
import { openDuck, rows } from '../../src/data/duckdb.js';
import { extract } from '../../src/data/extract.js';
import type { ContractReport, ExtractOutputs } from '../../src/step-outputs.js';
import { memoryLogger } from '../../src/log.js';
import { silentProgress } from '../../src/progress.js';

const fixtures = resolve(import.meta.dirname, '../fixtures');

/*
 * test/fixtures/anomalies.csv: 36 penguins (source_row = line number - 1, the header being line 1),
 * read with all_varchar so every value reaches the contract as the text in the file.
 *
 *   row  id   anomaly                                   outcome
 *    1   P01  -                                         clean
 *    2   P02  bill_mm " 42.5 " (number, spaces)         clean, coerced to 42.5
 *    3   P03  mass_g "  3250 " (number, spaces)         clean, coerced to 3250
 *    4   P04  bill_mm "abc"                             bill_mm:type
 *    5   P05  mass_g "n/a" (nullable, but not blank)    mass_g:type
 *    6   P06  bill_mm -999 sentinel                     bill_mm:range
 *    7   P07  mass_g -999 sentinel                      mass_g:range
 *    8   P08  species blank (the label)                 species:not_null
 *    9   P01  same id as row 1                          key:duplicate
 *   10   P10  clutch "TRUE"                             clean, true
 *   11   P11  clutch "yes"                              clean, true
 *   12   P12  island "Atlantis"                         island:allowed
 *   13   P13  sex blank (nullable)                      clean, sex missing
 *   14   P14  mass_g blank (nullable)                   clean, mass_g missing
 *   15   P15  sex "  " (spaces only = blank)            clean, sex missing
 *   16   P16  island " Dream " (padded)                 clean, trimmed to Dream
 *   17   P17  flipper_mm "181.0"                        clean, 181
 *   18   P18  flipper_mm "181.5" (not whole)            flipper_mm:type
 *   19   P19  clutch "maybe"                            clutch:type
 *   20   P20  species "Penguin"                         species:allowed
 *   21   P21  species blank AND bill_mm "abc"           species:not_null, bill_mm:type (one row, two rules)
 *   22   P04  same id as row 4, which is quarantined    clean: a broken row does not claim its key
 *   23   P23  bill_mm "NaN"                             bill_mm:type
 *   24   P24  sex "male" (case matters)                 sex:allowed
 *   25   P25  species " Gentoo" (padded label)          clean, trimmed to Gentoo
 *  26-36      -                                         clean
 *
 * 13 rows quarantined (4-9, 12, 18-21, 23, 24), 23 clean.
 */
const query = `SELECT * FROM read_csv('anomalies.csv', header = true, all_varchar = true)`;

const columns = {
  id: { type: 'category', key: true },
  species: { type: 'label', values: ['Adelie', 'Chinstrap', 'Gentoo'] },
  island: { type: 'category', values: ['Biscoe', 'Dream', 'Torgersen'] },
  bill_mm: { type: 'float', range: [25, 70] },
  mass_g: { type: 'float', nullable: true, range: [2000, 7000] },
  flipper_mm: { type: 'integer', range: [150, 250] },
  clutch: { type: 'boolean' },
  sex: { type: 'category', nullable: true, values: ['MALE', 'FEMALE'] },
};

let work: string;
let outputs: ExtractOutputs;
let report: ContractReport;
let quarantine: { source_row: number; rules: string; values: Record<string, unknown> }[];
let clean: Record<string, unknown>[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mlops-anomalies-'));
  const config = parseConfig(
    {
      version: 1,
      project: 'anomalies',
      // An absolute workdir keeps run artifacts out of the repository.
      workdir: work,
      data: {
        source: { kind: 'duckdb', query },
        window: { as_of: '2024-06-30' },
        contract: { max_quarantine_ratio: 0.5, columns },
      },
    },
    {},
  );
  // The config's folder is test/fixtures, so the query's relative file name resolves there.
  const ctx = createContext({ config, file: join(fixtures, 'mlops.config.yaml'), dir: fixtures, env: process.env }, { runId: 'anomalies', log: memoryLogger(), progress: silentProgress });
  outputs = await extract(ctx);
  const dir = stepDir(ctx, 'extract');
  report = JSON.parse(await readFile(join(dir, 'contract.json'), 'utf8')) as ContractReport;
  quarantine = (await readFile(join(dir, 'quarantine.jsonl'), 'utf8'))
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as (typeof quarantine)[number]);
  const db = await openDuck();
  const part = (split: string) => `SELECT * FROM read_parquet('${join(dir, `${split}.parquet`)}')`;
  clean = await rows(db, `SELECT * REPLACE (CAST(source_row AS INTEGER) AS source_row) FROM (${part('train')} UNION ALL ${part('validation')} UNION ALL ${part('test')}) ORDER BY source_row`);
  db.closeSync();
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('extracting test/fixtures/anomalies.csv', () => {
  it('reads 36 rows, quarantines 13 and keeps 23', () => {
    expect(outputs.rows).toEqual({ read: 36, clean: 23, quarantined: 13 });
    expect(report.rows).toEqual({ read: 36, clean: 23, quarantined: 13, quarantinedShare: 13 / 36 });
    expect(outputs.split.train + outputs.split.validation + outputs.split.test).toBe(23);
    expect(clean).toHaveLength(23);
  });

  it('counts the rows that broke each rule (row 21 breaks two)', () => {
    expect(report.rules).toEqual({
      'bill_mm:type': 3, // rows 4, 21, 23
      'species:not_null': 2, // rows 8, 21
      'bill_mm:range': 1, // row 6
      'mass_g:type': 1, // row 5
      'mass_g:range': 1, // row 7
      'key:duplicate': 1, // row 9
      'island:allowed': 1, // row 12
      'flipper_mm:type': 1, // row 18
      'clutch:type': 1, // row 19
      'species:allowed': 1, // row 20
      'sex:allowed': 1, // row 24
    });
    // Most frequent first.
    expect(Object.keys(report.rules)[0]).toBe('bill_mm:type');
  });

  it('lists every quarantined row with the rules it broke', () => {
    expect(Object.fromEntries(quarantine.map((q) => [q.source_row, q.rules]))).toEqual({
      4: 'bill_mm:type',
      5: 'mass_g:type',
      6: 'bill_mm:range',
      7: 'mass_g:range',
      8: 'species:not_null',
      9: 'key:duplicate',
      12: 'island:allowed',
      18: 'flipper_mm:type',
      19: 'clutch:type',
      20: 'species:allowed',
      21: 'species:not_null, bill_mm:type',
      23: 'bill_mm:type',
      24: 'sex:allowed',
    });
  });

  it('keeps the raw text of a quarantined row', () => {
    const row6 = quarantine.find((q) => q.source_row === 6)!;
    expect(row6.values).toEqual({
      id: 'P06',
      species: 'Gentoo',
      island: 'Biscoe',
      bill_mm: '-999',
      mass_g: '5400',
      flipper_mm: '230',
      clutch: 'Yes',
      sex: 'MALE',
    });
  });

  it('counts the values converted from text, per column, over all 36 rows', () => {
    const coerced = Object.fromEntries(Object.entries(report.columns).map(([name, c]) => [name, c.coerced]));
    expect(coerced).toEqual({
      id: 0, // no padded ids
      species: 1, // row 25 " Gentoo"
      island: 1, // row 16 " Dream "
      bill_mm: 33, // every number read from text: 36 less "abc" (4, 21) and "NaN" (23); -999 converts, then breaks the range
      mass_g: 34, // 36 less "n/a" (5) and the blank (14)
      flipper_mm: 35, // 36 less "181.5" (18)
      clutch: 35, // 36 less "maybe" (19)
      sex: 0, // no padded values; "  " (15) is blank, not padded
    });
  });

  it('counts missing values per column', () => {
    const missing = Object.fromEntries(Object.entries(report.columns).map(([name, c]) => [name, c.missing]));
    expect(missing).toEqual({ id: 0, species: 2, island: 0, bill_mm: 0, mass_g: 1, flipper_mm: 0, clutch: 0, sex: 2 });
  });

  it('writes the clean rows typed and trimmed', () => {
    const byRow = (n: number) => clean.find((r) => r.source_row === n)!;
    expect(byRow(2).bill_mm).toBe(42.5);
    expect(byRow(3).mass_g).toBe(3250);
    expect([byRow(10).clutch, byRow(11).clutch]).toEqual([true, true]);
    expect([byRow(13).sex, byRow(15).sex, byRow(14).mass_g]).toEqual([null, null, null]);
    expect(byRow(16).island).toBe('Dream');
    expect(byRow(17).flipper_mm).toBe('181'); // BIGINT, as text in DuckDB's JSON form
    expect(byRow(25).species).toBe('Gentoo');
    // Row 22 reuses row 4's id; row 4 is quarantined, so row 22 keeps P04.
    expect(byRow(22).id).toBe('P04');
    expect(clean.map((r) => r.source_row)).toEqual([1, 2, 3, 10, 11, 13, 14, 15, 16, 17, 22, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36]);
  });
});
