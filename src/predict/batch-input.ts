import type { DuckDBConnection } from '@duckdb/node-api';
import type { ColumnConfig, Config, ContractConfig } from '../config/schema.js';
import { compileContract, type SourceColumn } from '../data/contract.js';
import { describe, ident, literal, rows, sqlError } from '../data/duckdb.js';
import { configError, dataError, MlopsError } from '../errors.js';
import type { FeatureKind, PreprocessSpec } from '../model/preprocess.js';

/**
 * A batch's rows before scoring: the model's features checked against the training contract in
 * DuckDB, as extract checks them (rows that break it are quarantined with their reasons), and the
 * keys that identify each row carried along untouched, checked present and unique.
 */

/** What every batch row gets beside its keys: the columns of the sink. */
export const predictionColumns = (classes: string[] | undefined) => [
  ...(classes ? ['label', 'probabilities'] : ['value']),
  'model_version',
  'run_id',
  'scored_at',
  'as_of',
];

const QUERY = 'predict.source.query';

export interface CheckedBatch {
  read: number;
  quarantined: number;
  /** `column:rule` -> rows that broke it, most frequent first. */
  rules: Record<string, number>;
}

const kindOfType: Partial<Record<ColumnConfig['type'], FeatureKind>> = {
  float: 'numeric',
  integer: 'numeric',
  category: 'category',
  boolean: 'boolean',
};
const typeOfKind = { numeric: 'float', category: 'category', boolean: 'boolean' } as const;

/**
 * The training contract of the model's features. A feature the config no longer declares is taken
 * as the model knows it, missing values allowed (the model imputes them); one declared with
 * another kind than the model was trained on cannot be scored.
 */
function featureContract(config: Config, spec: PreprocessSpec, version: string): ContractConfig {
  const declared = config.data.contract.columns;
  const columns = Object.fromEntries(
    spec.features.map((f): [string, ColumnConfig] => {
      const column = declared[f.name];
      if (!column) return [f.name, { type: typeOfKind[f.kind], nullable: true, key: false }];
      if (kindOfType[column.type] !== f.kind)
        throw configError(
          `data.contract.columns.${f.name} is a ${column.type} column, but model ${version} was trained on it as ${f.kind}`,
          'score with a model trained on this contract (--version), or declare the column as it was',
        );
      return [f.name, { ...column, key: false }];
    }),
  );
  return { ...config.data.contract, columns };
}

/** The query's columns hold the model's features and the keys, and no key takes a prediction column's name. */
function checkColumns(source: SourceColumn[], spec: PreprocessSpec, keys: string[], version: string): void {
  const names = new Set(source.map((c) => c.name));
  const returns = `the query returns: ${source.map((c) => c.name).join(', ') || 'no columns'}`;
  const features = spec.features.map((f) => f.name);
  const missing = features.filter((f) => !names.has(f));
  if (missing.length === features.length)
    throw configError(
      `${QUERY} returns none of model ${version}'s features (${features.join(', ')}); ${returns}`,
      `select them in ${QUERY}`,
    );
  if (missing.length)
    throw configError(`${QUERY} lacks model ${version}'s features ${missing.join(', ')}; ${returns}`, `select them in ${QUERY}`);
  const absent = keys.filter((k) => !names.has(k));
  if (absent.length)
    throw configError(`predict.keys: ${absent.join(', ')} not returned by ${QUERY}; ${returns}`, 'name key columns the query returns');
  const reserved = predictionColumns(spec.label.classes);
  const clash = keys.filter((k) => reserved.includes(k));
  if (clash.length)
    throw configError(
      `predict.keys: ${clash.join(', ')} is also a column the batch writes (${reserved.join(', ')})`,
      `rename it in ${QUERY}, e.g. SELECT ${clash[0]} AS ${clash[0]}_key`,
    );
}

/** Null or repeated keys: a prediction that cannot be told apart from another cannot be written back. */
async function checkKeys(db: DuckDBConnection, keys: string[]): Promise<void> {
  const list = keys.map(ident).join(', ');
  const [nulls] = await rows<{ n: number }>(
    db,
    `SELECT count(*) AS n FROM checked WHERE ${keys.map((k) => `${ident(k)} IS NULL`).join(' OR ')}`,
  );
  if (Number(nulls!.n))
    throw dataError(
      `${Number(nulls!.n).toLocaleString('en-US')} rows have no value in the key ${keys.join(', ')}`,
      `filter them out in ${QUERY}, or choose predict.keys that every row has`,
    );
  const repeated = await rows<{ key: string; n: number; keys: number }>(
    db,
    `SELECT CAST(to_json(struct_pack(${keys.map((k) => `${ident(k)} := ${ident(k)}`).join(', ')})) AS VARCHAR) AS key, n, count(*) OVER () AS keys
     FROM (SELECT ${list}, count(*) AS n FROM checked GROUP BY ALL HAVING count(*) > 1) ORDER BY n DESC, key LIMIT 3`,
  );
  if (repeated.length)
    throw dataError(
      `the key ${keys.join(', ')} is not unique: ${Number(repeated[0]!.keys).toLocaleString('en-US')} values repeat, e.g. ${repeated.map((r) => `${r.key} ${Number(r.n)} times`).join(', ')}`,
      `predict.keys must identify one row each: add a column to the key, or deduplicate in ${QUERY}`,
    );
}

/**
 * Creates the temp table `checked` from `relation`: each feature typed and checked, the keys as
 * the source gave them, `__reasons` naming the rules a row broke. Writes the quarantined rows to
 * `quarantineFile` and returns the counts; the quarantine ratio is the caller's to judge.
 */
export async function checkBatch(
  db: DuckDBConnection,
  options: { config: Config; spec: PreprocessSpec; version: string; keys: string[]; relation: string; quarantineFile: string },
): Promise<CheckedBatch> {
  const { config, spec, version, keys, relation } = options;
  const source: SourceColumn[] = await describe(db, `SELECT * FROM ${relation}`).catch((err: unknown) => {
    throw sqlError(err, 'the predict query', QUERY);
  });
  checkColumns(source, spec, keys, version);
  const contract = featureContract(config, spec, version);
  const features = new Set(Object.keys(contract.columns));
  const compiled = compileContract(
    contract,
    config.model.task,
    source,
    relation,
    0,
    keys.filter((k) => !features.has(k)),
  );
  try {
    await db.run(`CREATE TEMP TABLE checked AS ${compiled.checkedSql}`);
  } catch (err) {
    if (err instanceof MlopsError) throw err;
    throw sqlError(err, 'the predict query', QUERY);
  }
  await checkKeys(db, keys);
  const [counts] = await rows<{ read: number; quarantined: number }>(
    db,
    `SELECT count(*) AS read, count(*) FILTER (WHERE __reasons <> '') AS quarantined FROM checked`,
  );
  const ruleRows = await rows<{ rule: string; n: number }>(db, `${compiled.rulesSql} ORDER BY n DESC, rule`);
  await db.run(
    `COPY (SELECT rowid + 1 AS source_row, __reasons AS rules, CAST(__raw AS JSON) AS "values" FROM checked WHERE __reasons <> '') TO ${literal(options.quarantineFile)} (FORMAT json)`,
  );
  return {
    read: Number(counts!.read),
    quarantined: Number(counts!.quarantined),
    rules: Object.fromEntries(ruleRows.map((r) => [r.rule, Number(r.n)])),
  };
}
