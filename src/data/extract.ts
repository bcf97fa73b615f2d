import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { labelOf, type Config } from '../config/schema.js';
import { stepDir, type StepContext } from '../context.js';
import { configError, dataError, MlopsError } from '../errors.js';
import { compileContract, type CompiledContract, type SourceColumn } from './contract.js';
import { describe, ident, literal, openDuck, rows, sqlError } from './duckdb.js';
import { duckdbSource } from './sources/duckdb.js';
import { postgresSource } from './sources/postgres.js';
import type { Source } from './sources/source.js';
import { splitPlan, type SplitName } from './split.js';
import { bindWindow, resolveWindow, type Window } from './window.js';
import type { ContractReport, ExtractOutputs } from '../step-outputs.js';


export interface ExtractInputs {
  /** Overrides `data.window.as_of`: rerunning with the as_of of day D reproduces day D's batch. */
  asOf?: string;
  /** Overrides `data.window.days`: re-evaluation reads just the days after a model's own window. */
  days?: number;
}

const splitNames = ['train', 'validation', 'test'] as const;

/** A row of the grouped scan: counts as numbers or strings, cut points as strings. */
type Stratum = { g: string; __cut_train: string; __cut_validation: string } & Record<string, string | number | null>;

const files = {
  train: 'train.parquet',
  validation: 'validation.parquet',
  test: 'test.parquet',
  quarantine: 'quarantine.jsonl',
  report: 'contract.json',
} as const;

/** The warehouse a source setting names (data.source, predict.source). */
export function sourceFor(source: Config['data']['source'], key?: string): Source {
  return source.kind === 'postgres' ? postgresSource(source.url!, key) : duckdbSource;
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

/** The extract step: pull the window from the warehouse, enforce the contract, quarantine, split, write. */
export async function extract(ctx: StepContext, inputs: ExtractInputs = {}): Promise<ExtractOutputs> {
  const { config, log } = ctx;
  const { source, contract, window: windowConfig } = config.data;
  const window = resolveWindow(inputs.asOf ?? windowConfig.as_of, inputs.days ?? windowConfig.days);
  const dir = stepDir(ctx, 'extract');
  const tempDir = join(dir, '.tmp');
  await mkdir(tempDir, { recursive: true });
  const database = source.kind === 'duckdb' && source.database !== ':memory:' ? resolvePath(ctx.configDir, source.database) : ':memory:';
  const db = await openDuck({ database, searchPath: ctx.configDir, tempDir });
  const stages = ctx.progress.start('extract', { total: 3, unit: 'stages' });
  try {
    log.info(`extract: ${source.kind} window ${window.windowStart} to ${window.asOf} (as_of=${window.asOf})`);
    const relation = await sourceFor(source).open(bindWindow(source.query, window), { tempDir, progress: ctx.progress });
    const sourceColumns: SourceColumn[] = await describe(db, `SELECT * FROM ${relation}`).catch((err: unknown) => {
      throw sqlError(err, 'the source query');
    });
    const undeclared = checkColumns(config, sourceColumns, log.warn);
    stages.update(1);

    const compiled = compileContract(contract, config.model.task, sourceColumns, relation, config.data.split.seed);
    try {
      await db.run(`CREATE TEMP TABLE checked AS ${compiled.checkedSql}`);
    } catch (err) {
      throw sqlError(err, 'the source query');
    }
    if (compiled.duplicatesSql) await db.run(compiled.duplicatesSql);
    const label = labelOf(config);
    const plan = splitPlan(config, label);
    // One grouped scan counts the contract per stratum and finds the split's cut points.
    const strata = await rows<Stratum>(db, `SELECT ${plan.group} AS g, ${[...compiled.counts, ...plan.cuts].join(', ')} FROM checked GROUP BY ALL`);
    const report = await contractReport(db, compiled, config, window, sourceColumns, undeclared, strata);
    const { read, quarantined } = report.rows;
    if (read === 0) {
      throw new MlopsError('data', `no rows for as_of=${window.asOf} (window ${window.windowStart} to ${window.asOf})`, {
        code: 'no_rows',
        hint: 'check data.window and the source query, or pass another --as-of',
      });
    }
    await db.run(`COPY (SELECT rowid + 1 AS source_row, __reasons AS rules, CAST(__raw AS JSON) AS "values" FROM checked WHERE __reasons <> '') TO ${literal(join(dir, files.quarantine))} (FORMAT json)`);
    await writeFile(join(dir, files.report), JSON.stringify(report, null, 2) + '\n');
    stages.update(2);
    log.info(`extract: ${read.toLocaleString('en-US')} rows read, ${quarantined.toLocaleString('en-US')} quarantined (${(report.rows.quarantinedShare * 100).toFixed(2)}%)`);
    if (report.rows.quarantinedShare > contract.max_quarantine_ratio) {
      const top = Object.entries(report.rules).slice(0, 3).map(([rule, n]) => `${rule} ${n}`).join(', ');
      throw dataError(
        `${(report.rows.quarantinedShare * 100).toFixed(1)}% of rows quarantined, above data.contract.max_quarantine_ratio ${contract.max_quarantine_ratio}; top reasons: ${top}`,
        `see ${join(dir, files.quarantine)}`,
      );
    }

    await checkCategories(db, compiled);

    const split = plan.expression(strata);
    const output = ['rowid + 1 AS source_row', ...compiled.columns.map((c) => ident(c.name))].join(', ');
    const counts = {} as Record<SplitName, number>;
    // Writing without keeping row order lets DuckDB write in parallel, and without compression
    // (dictionary encoding still applies) the write is a third faster again; these are working files
    // of the run, not an archive. Readers order by source_row; nothing depends on the file order.
    await db.run('SET preserve_insertion_order = false');
    for (const name of splitNames) {
      const copy = `COPY (SELECT ${output} FROM checked WHERE __reasons = '' AND ${split} = '${name}') TO ${literal(join(dir, files[name]))} (FORMAT parquet, COMPRESSION uncompressed)`;
      counts[name] = (await db.run(copy)).rowsChanged;
      stages.update(2 + (splitNames.indexOf(name) + 1) / splitNames.length);
    }

    const outputs: ExtractOutputs = {
      window,
      source: source.kind,
      label,
      task: config.model.task,
      features: featuresOf(config),
      schema: Object.fromEntries([['source_row', 'BIGINT'], ...compiled.columns.map((c) => [c.name, c.target])]),
      rows: { read, clean: read - quarantined, quarantined },
      split: counts,
      dataHash: report.dataHash,
      files,
    };
    await writeFile(join(dir, 'extract.json'), JSON.stringify(outputs, null, 2) + '\n');
    stages.finish(`${outputs.rows.clean.toLocaleString('en-US')} clean rows (train ${counts.train}, validation ${counts.validation}, test ${counts.test})`);
    return outputs;
  } finally {
    db.closeSync();
    await rm(tempDir, { recursive: true, force: true });
  }
}

/** A text column with more distinct clean values than its max_categories holds ids or free text, no categories. */
async function checkCategories(db: DuckDBConnection, compiled: CompiledContract): Promise<void> {
  if (!compiled.categoriesSql) return;
  const [distinct] = await rows<Record<string, string | number>>(db, compiled.categoriesSql);
  const over = Object.entries(compiled.maxCategories).filter(([name, max]) => Number(distinct![name]) > max);
  if (over.length === 0) return;
  throw dataError(
    over
      .map(([name, max]) => `column ${name} has ${Number(distinct![name]).toLocaleString('en-US')} distinct values, above its max_categories ${max.toLocaleString('en-US')}`)
      .join('; '),
    'a column of ids or free text is no category: drop it from data.contract.columns, or raise its max_categories in data.contract.columns',
  );
}

export const resolvePath = (dir: string, path: string) => (isAbsolute(path) ? path : resolve(dir, path));

/** Every declared column must arrive; undeclared ones are dropped with a warning, or refused. */
function checkColumns(config: Config, source: SourceColumn[], warn: (m: string) => void): string[] {
  const { columns, undeclared_columns } = config.data.contract;
  const names = new Set(source.map((c) => c.name));
  const available = `the query returns: ${source.map((c) => c.name).join(', ')}`;
  const label = labelOf(config);
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

async function contractReport(
  db: DuckDBConnection,
  compiled: CompiledContract,
  config: Config,
  window: Window,
  source: SourceColumn[],
  undeclared: string[],
  strata: Stratum[],
): Promise<ContractReport> {
  const n = (key: string) => strata.reduce((sum, s) => sum + Number(s[key] ?? 0), 0);
  const sumHash = strata.reduce((sum, s) => sum + BigInt(s.sum_hash ?? 0), 0n);
  const xorHash = strata.reduce((xor, s) => xor ^ BigInt(s.xor_hash ?? 0), 0n);
  const rules = Object.fromEntries(
    (await rows<{ rule: string; n: number }>(db, `${compiled.rulesSql} ORDER BY n DESC, rule`)).map((r) => [r.rule, Number(r.n)]),
  );
  const read = n('rows');
  const quarantined = n('quarantined');
  const sourceTypes = new Map(source.map((c) => [c.name, c.type]));
  const columns: ContractReport['columns'] = {};
  compiled.columns.forEach((c, i) => {
    const violations = Object.fromEntries(c.checks.map((k) => [k.rule, rules[`${c.name}:${k.rule}`] ?? 0]));
    columns[c.name] = {
      type: config.data.contract.columns[c.name]!.type,
      sourceType: sourceTypes.get(c.name)!,
      coerced: n(`${i}:coerced`),
      // No typed value and not a type failure: the source had nothing there.
      missing: read - n(`${i}:values`) - (violations.type ?? 0),
      violations,
    };
  });
  return {
    window,
    rows: { read, clean: read - quarantined, quarantined, quarantinedShare: read ? quarantined / read : 0 },
    maxQuarantineRatio: config.data.contract.max_quarantine_ratio,
    columns,
    rules,
    undeclaredColumns: undeclared,
    dataHash: createHash('sha256')
      .update(compiled.columns.map((c) => `${c.name}:${c.target}`).join(','))
      .update(`|${read - quarantined}:${sumHash}:${xorHash}`)
      .digest('hex'),
  };
}
