import { textColumnDefaults, type ColumnConfig, type ContractConfig } from '../config/schema.js';
import { ident, literal } from './duckdb.js';

/**
 * Compiles the data contract to SQL so DuckDB cleanses whole columns at once instead of a JS loop
 * over rows. Each column becomes a typed value, a "present" flag (the source had a non-blank value)
 * and a "coerced" flag; each rule becomes a boolean expression over those.
 */

export type Rule = 'type' | 'not_null' | 'range' | 'allowed' | 'max_length' | 'duplicate';

/** The storage type each contract type lands as. */
export type TargetType = 'DOUBLE' | 'BIGINT' | 'BOOLEAN' | 'TIMESTAMP' | 'VARCHAR';

export interface SourceColumn {
  name: string;
  /** DuckDB's type name for the column as the source delivered it. */
  type: string;
}

export interface CompiledColumn {
  name: string;
  target: TargetType;
  /** Level 1, over the source: `__t_<i>`, the value with blank text as missing. */
  text: string;
  /** Level 2, over `__t_<i>`: `__d_<i>`, the value as a DOUBLE, for numeric targets. */
  number?: string;
  /** Level 3, over `__t_<i>`, `__d_<i>` and `__r_<j>`: the typed value, present and coerced flags. */
  value: string;
  present: string;
  coerced: string;
  /** Level 4, over the typed value `__v_<i>` and present flag `__p_<i>`: one failure condition a rule (NULL counts as passing, as in CASE WHEN). */
  checks: { rule: Rule; failed: string }[];
}

const truthy = ['true', 't', 'yes', 'y', '1'];
const falsy = ['false', 'f', 'no', 'n', '0'];
const whitespace = "(' ' || chr(9) || chr(10) || chr(13))";
const list = (values: readonly (string | number | boolean)[]) => values.map(literal).join(', ');

const isText = (t: string) => t === 'VARCHAR';
const isInteger = (t: string) => /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?)$/.test(t);
const isNumeric = (t: string) => isInteger(t) || t === 'DOUBLE' || t === 'FLOAT' || t.startsWith('DECIMAL');
const isTemporal = (t: string) => t === 'DATE' || t.startsWith('TIMESTAMP');

export function targetOf(col: ColumnConfig, task: string): TargetType {
  const type = col.type === 'label' ? (task === 'regression' ? 'float' : 'category') : col.type;
  return ({ float: 'DOUBLE', integer: 'BIGINT', boolean: 'BOOLEAN', timestamp: 'TIMESTAMP', category: 'VARCHAR' } as const)[type];
}

/**
 * Each expression is computed once, a level at a time, so a value is trimmed or parsed once
 * however many rules look at it. `raw` is the name of the column's untouched source value.
 */
export function compileColumn(name: string, col: ColumnConfig, source: SourceColumn, task: string, index: number, raw: string): CompiledColumn {
  const target = targetOf(col, task);
  const sourceIsText = isText(source.type);
  // Blank text counts as missing, whatever the column's type; tabs and line ends pad values too.
  // The character-set trim is slow, so it only runs on values that start or end at or below ' '.
  const x = ident(name);
  const trimmed = `CASE WHEN left(${x}, 1) <= ' ' OR right(${x}, 1) <= ' ' THEN trim(${x}, ${whitespace}) ELSE ${x} END`;
  const text = sourceIsText ? `NULLIF(${trimmed}, '')` : x;
  const t = `__t_${index}`;
  const d = `__d_${index}`;
  const asText = sourceIsText ? t : `CAST(${t} AS VARCHAR)`;
  let number: string | undefined;
  let value: string;
  let native: boolean;
  switch (target) {
    case 'DOUBLE':
    case 'BIGINT':
      native = target === 'DOUBLE' ? isNumeric(source.type) : isInteger(source.type);
      number = isNumeric(source.type) ? `CAST(${t} AS DOUBLE)` : `TRY_CAST(${asText} AS DOUBLE)`;
      // NaN and Infinity are not usable numbers; an integer must be whole and within BIGINT.
      if (target === 'DOUBLE') value = `CASE WHEN isfinite(${d}) THEN ${d} END`;
      else if (native) value = `TRY_CAST(${t} AS BIGINT)`;
      else {
        const whole = `CASE WHEN isfinite(${d}) AND ${d} = trunc(${d}) THEN TRY_CAST(${d} AS BIGINT) END`;
        // Digits parse straight to BIGINT: a detour through DOUBLE would change ids above 2^53.
        value = sourceIsText ? `CASE WHEN regexp_full_match(${t}, '[+-]?[0-9]+') THEN TRY_CAST(${t} AS BIGINT) ELSE ${whole} END` : whole;
      }
      break;
    case 'BOOLEAN':
      native = source.type === 'BOOLEAN';
      value = native ? t : `CASE WHEN lower(${asText}) IN (${list(truthy)}) THEN true WHEN lower(${asText}) IN (${list(falsy)}) THEN false END`;
      break;
    case 'TIMESTAMP':
      native = isTemporal(source.type);
      value = native ? `CAST(${t} AS TIMESTAMP)` : `TRY_CAST(${asText} AS TIMESTAMP)`;
      break;
    case 'VARCHAR':
      native = false;
      value = asText;
      break;
  }
  const present = `(${t} IS NOT NULL)`;
  // Coerced: a usable value that needed converting (text to number, padded text, "TRUE" to true).
  const coerced =
    target === 'VARCHAR' ? (sourceIsText ? `(${present} AND ${raw} <> ${t})` : present) : native ? 'false' : `((${value}) IS NOT NULL)`;

  const v = `__v_${index}`;
  const p = `__p_${index}`;
  // Any value is a valid category, so only the other types can fail to convert.
  const checks: { rule: Rule; failed: string }[] = target === 'VARCHAR' ? [] : [{ rule: 'type', failed: `(${p} AND ${v} IS NULL)` }];
  if (!col.nullable || col.type === 'label') checks.push({ rule: 'not_null', failed: `(NOT ${p})` });
  if (col.range) checks.push({ rule: 'range', failed: `(${v} NOT BETWEEN ${col.range[0]} AND ${col.range[1]})` });
  // A value of a megabyte is no category: it would bloat the vocabulary, the model card and memory.
  if (target === 'VARCHAR')
    checks.push({ rule: 'max_length', failed: `(length(${v}) > ${col.max_length ?? textColumnDefaults.max_length})` });
  if (col.values) {
    const allowed = target === 'VARCHAR' ? list(col.values.map(String)) : list(col.values);
    checks.push({ rule: 'allowed', failed: `(${v} NOT IN (${allowed}))` });
  }
  return { name, target, text, number, value, present, coerced, checks };
}

export interface CompiledContract {
  columns: CompiledColumn[];
  keys: string[];
  /**
   * The source relation -> table `checked`, in one pass: typed values, present and coerced flags,
   * `__reasons` (broken rules as `column:rule`, '' when clean), `__raw` (a bad row's source values as
   * JSON, for the quarantine file) and `__h` (a seeded hash of the row's identity, for the split).
   * A row's position in the source is its `rowid` + 1.
   */
  checkedSql: string;
  /** Marks duplicate keys in `checked`; the first row that passes every other rule keeps its key. */
  duplicatesSql?: string;
  /**
   * Aggregates over `checked`, to run grouped (per split stratum) and add up: `rows`, `quarantined`,
   * `sum_hash` and `xor_hash` of the clean rows, and per column `<i>:values` (non-null typed values) and `<i>:coerced`.
   */
  counts: string[];
  /** Over `checked`, rows per broken rule (`column:rule`), from the quarantined rows alone. */
  rulesSql: string;
  /** Over `checked`, one row: the distinct clean values of each text column but the keys, by its name; none without such columns. */
  categoriesSql?: string;
  /** Each text column's max_categories. */
  maxCategories: Record<string, number>;
}

/** `keep`: source columns carried into `checked` untouched, under their own names (batch scoring's keys). */
export function compileContract(
  contract: ContractConfig,
  task: string,
  source: SourceColumn[],
  relation: string,
  seed: number,
  keep: string[] = [],
): CompiledContract {
  const names = Object.keys(contract.columns);
  const keys = names.filter((n) => contract.columns[n]!.key);
  const keyList = keys.map(ident).join(', ');
  const rawIndex = new Map(source.map((c, j) => [c.name, j]));
  const columns = names.map((name, i) =>
    compileColumn(name, contract.columns[name]!, source[rawIndex.get(name)!]!, task, i, `__r_${rawIndex.get(name)}`),
  );
  const json = (pairs: [string, string][]) => `to_json(struct_pack(${pairs.map(([k, v]) => `${ident(k)} := ${v}`).join(', ')}))`;
  const each = (f: (c: CompiledColumn, i: number) => string | undefined) => columns.map(f).filter(Boolean).join(', ');
  // Raw values ride along as __r_<j> and become JSON only for the few rows that break a rule.
  const raws = source.map((c, j) => `__r_${j}`).join(', ');

  const level1 = `SELECT ${each((c, i) => `${c.text} AS __t_${i}`)}, ${source.map((c, j) => `${ident(c.name)} AS __r_${j}`).join(', ')} FROM ${relation}`;
  const level2 = `SELECT *, ${each((c, i) => c.number && `${c.number} AS __d_${i}`) || 'NULL AS __d'} FROM (${level1})`;
  const level3 = `SELECT ${each((c, i) => `${c.value} AS __v_${i}, ${c.present} AS __p_${i}, ${c.coerced} AS __c_${i}`)}, ${raws} FROM (${level2})`;
  const reasons = columns.flatMap((c) => c.checks.map((k) => `CASE WHEN ${k.failed} THEN ${literal(`${c.name}:${k.rule}`)} END`));
  // Reasons are spelled out only for rows that fail a check: one OR per row is far cheaper.
  const failed = columns.flatMap((c) => c.checks.map((k) => k.failed)).join(' OR ') || 'false';
  const level4 = `SELECT *, CASE WHEN ${failed} THEN concat_ws(', ', ${reasons.join(', ') || "''"}) ELSE '' END AS __reasons FROM (${level3})`;
  // Rows are identified by their key, or by all their values when there is none.
  const identity = (keys.length ? keys : names).map((n) => `__v_${names.indexOf(n)}`).join(', ');
  // Only what later queries need is stored: rule counts come from `__reasons`, missing values from count().
  const kept = keep.map((n) => `, __r_${rawIndex.get(n)} AS ${ident(n)}`).join('');
  const checkedSql = `SELECT ${each((c, i) => `__v_${i} AS ${ident(c.name)}${c.coerced === 'false' ? '' : `, __c_${i}`}`)}${kept}, __reasons,
      CASE WHEN __reasons <> '' THEN ${json(source.map((c, j) => [c.name, `__r_${j}`]))} END AS __raw, hash(${seed}, ${identity}) AS __h
    FROM (${level4})`;

  // A grouped aggregate and an update of the few duplicates: far cheaper than a window over every row.
  // A duplicate passed every other rule, so its typed values are what the source said.
  const duplicatesSql = keys.length
    ? `UPDATE checked SET __reasons = 'key:duplicate', __raw = ${json(names.map((n) => [n, ident(n)]))} WHERE rowid IN (
         SELECT c.rowid FROM checked c
         JOIN (SELECT ${keyList}, min(rowid) FILTER (WHERE __reasons = '') AS __keep
               FROM checked GROUP BY ALL HAVING count(*) > 1) k USING (${keyList})
         WHERE c.__reasons = '' AND c.rowid <> k.__keep)`
    : undefined;

  // The clean rows' fingerprint: order-independent sums of per-row hashes that include the source row.
  const row = `hash(rowid, ${names.map(ident).join(', ')})`;
  const counts = [
    'count(*) AS rows',
    `count(*) FILTER (WHERE __reasons <> '') AS quarantined`,
    `CAST(sum(CAST(${row} AS HUGEINT)) FILTER (WHERE __reasons = '') AS VARCHAR) AS sum_hash`,
    `CAST(bit_xor(${row}) FILTER (WHERE __reasons = '') AS VARCHAR) AS xor_hash`,
    ...columns.flatMap((c, i) => [`count(${ident(c.name)}) AS "${i}:values"`, ...(c.coerced === 'false' ? [] : [`count(*) FILTER (WHERE __c_${i}) AS "${i}:coerced"`])]),
  ];
  const rulesSql = `SELECT rule, count(*) AS n FROM (SELECT unnest(string_split(__reasons, ', ')) AS rule FROM checked WHERE __reasons <> '') GROUP BY rule`;
  // Keys are ids: no category cap applies to them.
  const text = columns.filter((c) => c.target === 'VARCHAR' && !contract.columns[c.name]!.key).map((c) => c.name);
  const maxCategories = Object.fromEntries(text.map((n) => [n, contract.columns[n]!.max_categories ?? textColumnDefaults.max_categories]));
  const categoriesSql = text.length
    ? `SELECT ${text.map((n) => `count(DISTINCT ${ident(n)}) AS ${ident(n)}`).join(', ')} FROM checked WHERE __reasons = ''`
    : undefined;
  return { columns, keys, checkedSql, duplicatesSql, counts, rulesSql, categoriesSql, maxCategories };
}
