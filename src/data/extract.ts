import { mkdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Config } from '../config/schema.js';
import { stepDir, type StepContext } from '../context.js';
import { configError, dataError } from '../errors.js';
import { compileContract, type CompiledContract, type SourceColumn } from './contract.js';
import { ident, literal, openDuck, rows } from './duckdb.js';
import { duckdbSource } from './sources/duckdb.js';
import { postgresSource } from './sources/postgres.js';
import type { Source } from './sources/source.js';
import { splitSql, type SplitName } from './split.js';
import { bindWindow, resolveWindow, type Window } from './window.js';

export interface ExtractInputs {
  /** Overrides `data.window.as_of`: rerunning with the as_of of day D reproduces day D's batch. */
  asOf?: string;
}

/** What the step leaves in `<run>/extract/extract.json` for the steps after it. */
export interface ExtractOutputs {
  window: Window;
  source: Config['data']['source']['kind'];
  label: string;
  task: Config['model']['task'];
  features: string[];
  /** Output columns and their types, in order. */
  schema: Record<string, string>;
  rows: { read: number; clean: number; quarantined: number };
  split: Record<SplitName, number>;
  /** sha256 over the clean rows, their split and their schema: the data's identity for lineage. */
  dataHash: string;
  /** File names inside the step folder. */
  files: Record<SplitName | 'quarantine' | 'report', string>;
}

/** The contract report, `contract.json`. */
export interface ContractReport {
  window: Window;
  rows: { read: number; clean: number; quarantined: number; quarantinedShare: number };
  maxQuarantineRatio: number;
  columns: Record<string, { type: string; sourceType: string; coerced: number; missing: number; violations: Record<string, number> }>;
  /** `column:rule` -> rows that broke it, most frequent first. */
  rules: Record<string, number>;
  undeclaredColumns: string[];
}

const files = {
  train: 'train.parquet',
  validation: 'validation.parquet',
  test: 'test.parquet',
  quarantine: 'quarantine.jsonl',
  report: 'contract.json',
} as const;

export function sourceFor(config: Config): Source {
  const source = config.data.source;
  return source.kind === 'postgres' ? postgresSource(source.url!) : duckdbSource;
}

/** Declared feature columns, or by default every typed, non-key, non-label column. */
export function featuresOf(config: Config): string[] {
  const columns = config.data.contract.columns;
  return (
    config.data.features ??
    Object.entries(columns)
      .filter(([, c]) => !c.key && ['float', 'integer', 'category', 'boolean'].includes(c.type))
      .map(([name]) => name)
  );
}

/** Step 1: pull the window from the warehouse, enforce the contract, quarantine, split, write. */
export async function extract(ctx: StepContext, inputs: ExtractInputs = {}): Promise<ExtractOutputs> {
  const { config, log } = ctx;
  const { source, contract, window: windowConfig } = config.data;
  const window = resolveWindow(inputs.asOf ?? windowConfig.as_of, windowConfig.days);
  const dir = stepDir(ctx, 'extract');
  const tempDir = join(dir, '.tmp');
  await mkdir(tempDir, { recursive: true });
  const database = source.kind === 'duckdb' && source.database !== ':memory:' ? resolvePath(ctx.configDir, source.database) : ':memory:';
  const db = await openDuck({ database, searchPath: ctx.configDir, tempDir });
  const stages = ctx.progress.start('extract', { total: 4, unit: 'stages' });
  try {
    log.info(`extract: ${source.kind} window ${window.windowStart} to ${window.asOf} (as_of=${window.asOf})`);
    await sourceFor(config).load(db, bindWindow(source.query, window), { tempDir, progress: ctx.progress });
    stages.update(1);

    const sourceColumns = (await rows<{ column_name: string; column_type: string }>(db, 'DESCRIBE raw'))
      .filter((c) => c.column_name !== '__row')
      .map((c) => ({ name: c.column_name, type: c.column_type }));
    const undeclared = checkColumns(config, sourceColumns, log.warn);
    const read = Number((await rows<{ n: number }>(db, 'SELECT count(*) AS n FROM raw'))[0]!.n);
    if (read === 0) {
      throw dataError(`no rows for as_of=${window.asOf} (window ${window.windowStart} to ${window.asOf})`, 'check data.window and the source query, or pass another --as-of');
    }

    const compiled = compileContract(contract, config.model.task, sourceColumns);
    await db.run(`CREATE TEMP TABLE typed AS ${compiled.typedSql}`);
    await db.run(`CREATE TEMP TABLE checked AS ${compiled.checkedSql}`);
    const report = await contractReport(db, compiled, config, window, undeclared);
    await writeQuarantine(db, join(dir, files.quarantine));
    await writeFile(join(dir, files.report), JSON.stringify(report, null, 2) + '\n');
    stages.update(2);
    log.info(`extract: ${read.toLocaleString('en-US')} rows read, ${report.rows.quarantined} quarantined (${(report.rows.quarantinedShare * 100).toFixed(2)}%)`);
    if (report.rows.quarantinedShare > contract.max_quarantine_ratio) {
      const top = Object.entries(report.rules).slice(0, 3).map(([rule, n]) => `${rule} ${n}`).join(', ');
      throw dataError(
        `${(report.rows.quarantinedShare * 100).toFixed(1)}% of rows quarantined, above data.contract.max_quarantine_ratio ${contract.max_quarantine_ratio}; top reasons: ${top}`,
        `see ${join(dir, files.quarantine)}`,
      );
    }

    const label = Object.keys(contract.columns).find((c) => contract.columns[c]!.type === 'label')!;
    const output = ['__row', ...Object.keys(contract.columns)];
    await db.run(`CREATE TEMP TABLE clean AS ${splitSql(config, label, compiled.keys, output)}`);
    stages.update(3);
    const split = await writeSplits(db, dir, output);
    const dataHash = await hashClean(db, output, compiled);
    stages.update(4);

    const outputs: ExtractOutputs = {
      window,
      source: source.kind,
      label,
      task: config.model.task,
      features: featuresOf(config),
      schema: Object.fromEntries([['source_row', 'BIGINT'], ...compiled.columns.map((c) => [c.name, c.target])]),
      rows: { read, clean: read - report.rows.quarantined, quarantined: report.rows.quarantined },
      split,
      dataHash,
      files,
    };
    await writeFile(join(dir, 'extract.json'), JSON.stringify(outputs, null, 2) + '\n');
    stages.finish(`${outputs.rows.clean.toLocaleString('en-US')} clean rows (train ${split.train}, validation ${split.validation}, test ${split.test})`);
    return outputs;
  } finally {
    db.closeSync();
    await rm(tempDir, { recursive: true, force: true });
  }
}

const resolvePath = (dir: string, path: string) => (isAbsolute(path) ? path : resolve(dir, path));

/** Every declared column must arrive; undeclared ones are dropped with a warning, or refused. */
function checkColumns(config: Config, source: SourceColumn[], warn: (m: string) => void): string[] {
  const { columns, undeclared_columns } = config.data.contract;
  const names = new Set(source.map((c) => c.name));
  const available = `the query returns: ${source.map((c) => c.name).join(', ')}`;
  const label = Object.keys(columns).find((c) => columns[c]!.type === 'label')!;
  if (!names.has(label)) throw configError(`the label column "${label}" is missing from the query result`, available);
  const missing = Object.keys(columns).filter((c) => !names.has(c));
  if (missing.length) throw configError(`declared columns missing from the query result: ${missing.join(', ')}`, available);
  const undeclared = source.map((c) => c.name).filter((c) => !(c in columns));
  if (undeclared.length) {
    const message = `columns not in data.contract.columns: ${undeclared.join(', ')}`;
    if (undeclared_columns === 'error') throw configError(message, 'declare them, or set data.contract.undeclared_columns: warn');
    warn(`${message}; they are dropped (declare them to use them)`);
  }
  return undeclared;
}

async function contractReport(db: DuckDBConnection, compiled: CompiledContract, config: Config, window: Window, undeclared: string[]): Promise<ContractReport> {
  const counts = (await rows<Record<string, number | string>>(db, compiled.countsSql))[0]!;
  const n = (key: string) => Number(counts[key] ?? 0);
  const read = n('rows');
  const quarantined = n('quarantined');
  const sourceTypes = new Map((await rows<{ column_name: string; column_type: string }>(db, 'DESCRIBE raw')).map((c) => [c.column_name, c.column_type]));
  const rules: Record<string, number> = {};
  const columns: ContractReport['columns'] = {};
  compiled.columns.forEach((c, i) => {
    const violations = Object.fromEntries(c.checks.map((k) => [k.rule, n(`${i}:${k.rule}`)]));
    for (const [rule, count] of Object.entries(violations)) if (count > 0) rules[`${c.name}:${rule}`] = count;
    columns[c.name] = {
      type: config.data.contract.columns[c.name]!.type,
      sourceType: sourceTypes.get(c.name)!,
      coerced: n(`${i}:coerced`),
      missing: n(`${i}:nulls`),
      violations,
    };
  });
  if (n('key:duplicate') > 0) rules['key:duplicate'] = n('key:duplicate');
  return {
    window,
    rows: { read, clean: read - quarantined, quarantined, quarantinedShare: read ? quarantined / read : 0 },
    maxQuarantineRatio: config.data.contract.max_quarantine_ratio,
    columns,
    rules: Object.fromEntries(Object.entries(rules).sort((a, b) => b[1] - a[1])),
    undeclaredColumns: undeclared,
  };
}

/** Quarantined rows keep their raw values exactly as the source gave them, with the rules they broke. */
async function writeQuarantine(db: DuckDBConnection, file: string): Promise<void> {
  await db.run(`COPY (
    SELECT c.__row AS source_row, c.__reasons AS rules, r.* EXCLUDE (__row)
    FROM checked c JOIN raw r USING (__row) WHERE c.__reasons <> '' ORDER BY c.__row
  ) TO ${literal(file)} (FORMAT json)`);
}

async function writeSplits(db: DuckDBConnection, dir: string, output: string[]): Promise<Record<SplitName, number>> {
  const select = output.map((c) => (c === '__row' ? '__row AS source_row' : ident(c))).join(', ');
  const counts = {} as Record<SplitName, number>;
  for (const split of ['train', 'validation', 'test'] as const) {
    await db.run(`COPY (SELECT ${select} FROM clean WHERE split = '${split}' ORDER BY __row) TO ${literal(join(dir, files[split]))} (FORMAT parquet)`);
    counts[split] = Number((await rows<{ n: number }>(db, `SELECT count(*) AS n FROM clean WHERE split = '${split}'`))[0]!.n);
  }
  return counts;
}

/** Order-fixed and engine-independent: md5 of each row's text, in source order, then sha256 of all. */
async function hashClean(db: DuckDBConnection, output: string[], compiled: CompiledContract): Promise<string> {
  const schema = compiled.columns.map((c) => `${c.name}:${c.target}`).join(',');
  const row = `md5(CAST(ROW(${[...output, 'split'].map(ident).join(', ')}) AS VARCHAR))`;
  const [result] = await rows<{ h: string }>(db, `SELECT sha256(${literal(schema)} || string_agg(${row}, '' ORDER BY __row)) AS h FROM clean`);
  return result!.h;
}
