import type { ColumnConfig, ContractConfig } from '../config/schema.js';
import { ident, literal } from './duckdb.js';

/**
 * Compiles the data contract to SQL so DuckDB cleanses whole columns at once instead of a JS loop
 * over rows. Each column becomes a typed value, a "present" flag (the source had a non-blank value)
 * and a "coerced" flag; each rule becomes a boolean expression over those.
 */

export type Rule = 'type' | 'not_null' | 'range' | 'allowed' | 'duplicate';

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
  /** Expressions over table `raw`. */
  value: string;
  present: string;
  coerced: string;
  /** Expressions over the typed table, where the column holds the typed value and `__p_<i>` its present flag. */
  checks: { rule: Rule; failed: string }[];
}

const truthy = ['true', 't', 'yes', 'y', '1'];
const falsy = ['false', 'f', 'no', 'n', '0'];
const list = (values: readonly (string | number | boolean)[]) => values.map(literal).join(', ');

const isText = (t: string) => t === 'VARCHAR';
const isInteger = (t: string) => /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?)$/.test(t);
const isNumeric = (t: string) => isInteger(t) || t === 'DOUBLE' || t === 'FLOAT' || t.startsWith('DECIMAL');
const isTemporal = (t: string) => t === 'DATE' || t.startsWith('TIMESTAMP');

export function targetOf(col: ColumnConfig, task: string): TargetType {
  const type = col.type === 'label' ? (task === 'regression' ? 'float' : 'category') : col.type;
  return ({ float: 'DOUBLE', integer: 'BIGINT', boolean: 'BOOLEAN', timestamp: 'TIMESTAMP', category: 'VARCHAR' } as const)[type];
}

export function compileColumn(name: string, col: ColumnConfig, source: SourceColumn, task: string, index: number): CompiledColumn {
  const x = ident(name);
  const target = targetOf(col, task);
  // Blank text counts as missing, whatever the column's type.
  const text = isText(source.type) ? `NULLIF(trim(${x}), '')` : `CAST(${x} AS VARCHAR)`;
  const present = `(${text} IS NOT NULL)`;
  let value: string;
  let native: boolean;
  switch (target) {
    case 'DOUBLE':
    case 'BIGINT': {
      native = target === 'DOUBLE' ? isNumeric(source.type) : isInteger(source.type);
      const number = isNumeric(source.type) ? `CAST(${x} AS DOUBLE)` : `TRY_CAST(${text} AS DOUBLE)`;
      // NaN and Infinity are not usable numbers; an integer must be whole.
      const usable = target === 'DOUBLE' ? `isfinite(${number})` : `isfinite(${number}) AND ${number} = trunc(${number})`;
      value = `CASE WHEN ${usable} THEN CAST(${number} AS ${target}) END`;
      break;
    }
    case 'BOOLEAN':
      native = source.type === 'BOOLEAN';
      value = native ? x : `CASE WHEN lower(${text}) IN (${list(truthy)}) THEN true WHEN lower(${text}) IN (${list(falsy)}) THEN false END`;
      break;
    case 'TIMESTAMP':
      native = isTemporal(source.type);
      value = native ? `CAST(${x} AS TIMESTAMP)` : `TRY_CAST(${text} AS TIMESTAMP)`;
      break;
    case 'VARCHAR':
      native = false;
      value = text;
      break;
  }
  // Coerced: a usable value that needed converting (text to number, padded text, "TRUE" to true).
  const coerced =
    target === 'VARCHAR'
      ? isText(source.type)
        ? `(${x} <> trim(${x}) AND ${present})`
        : present
      : native
        ? 'false'
        : `(${value}) IS NOT NULL`;

  const v = x; // in the typed table the column holds its typed value
  const p = `__p_${index}`;
  // Any value is a valid category, so only the other types can fail to convert.
  const checks: { rule: Rule; failed: string }[] = target === 'VARCHAR' ? [] : [{ rule: 'type', failed: `(${p} AND ${v} IS NULL)` }];
  if (!col.nullable || col.type === 'label') checks.push({ rule: 'not_null', failed: `(NOT ${p})` });
  if (col.range) checks.push({ rule: 'range', failed: `coalesce(${v} NOT BETWEEN ${col.range[0]} AND ${col.range[1]}, false)` });
  if (col.values) {
    const allowed = target === 'VARCHAR' ? list(col.values.map(String)) : list(col.values);
    checks.push({ rule: 'allowed', failed: `coalesce(${v} NOT IN (${allowed}), false)` });
  }
  return { name, target, value, present, coerced, checks };
}

export interface CompiledContract {
  columns: CompiledColumn[];
  keys: string[];
  /** `raw` -> typed values with present and coerced flags. */
  typedSql: string;
  /** typed -> typed plus `__reasons`, the broken rules as `column:rule`, comma-separated ('' when clean). */
  checkedSql: string;
  /** Over `checked`, one row of counts: `rows`, `quarantined`, `key:duplicate`, and `<i>:<rule>`, `<i>:coerced`, `<i>:nulls` per column. */
  countsSql: string;
}

export function compileContract(contract: ContractConfig, task: string, source: SourceColumn[]): CompiledContract {
  const byName = new Map(source.map((c) => [c.name, c]));
  const columns = Object.entries(contract.columns).map(([name, col], i) => compileColumn(name, col, byName.get(name)!, task, i));
  const keys = Object.entries(contract.columns).filter(([, c]) => c.key).map(([n]) => n);

  const typedSql = `SELECT __row, ${columns
    .map((c, i) => `${c.value} AS ${ident(c.name)}, ${c.present} AS __p_${i}, ${c.coerced} AS __c_${i}`)
    .join(',\n  ')} FROM raw`;

  const reasons = columns.flatMap((c) => c.checks.map((k) => `CASE WHEN ${k.failed} THEN ${literal(`${c.name}:${k.rule}`)} END`));
  const withReasons = `SELECT *, concat_ws(', ', ${reasons.join(', ')}) AS __reasons FROM typed`;
  // A duplicate key is a rule of its own; the first row that passes everything else keeps the key.
  const checkedSql = keys.length
    ? `SELECT * EXCLUDE (__first, __reasons), CASE WHEN __reasons = '' AND NOT __first THEN 'key:duplicate' ELSE __reasons END AS __reasons
       FROM (SELECT *, row_number() OVER (PARTITION BY ${keys.map(ident).join(', ')} ORDER BY __reasons <> '', __row) = 1 AS __first
             FROM (${withReasons}))`
    : withReasons;

  const counts = columns.flatMap((c, i) => [
    ...c.checks.map((k) => `count(*) FILTER (WHERE ${k.failed}) AS "${i}:${k.rule}"`),
    `count(*) FILTER (WHERE __c_${i}) AS "${i}:coerced"`,
    `count(*) FILTER (WHERE NOT __p_${i}) AS "${i}:nulls"`,
  ]);
  const countsSql = `SELECT count(*) AS rows, count(*) FILTER (WHERE __reasons <> '') AS quarantined,
    count(*) FILTER (WHERE __reasons = 'key:duplicate') AS "key:duplicate", ${counts.join(', ')} FROM checked`;
  return { columns, keys, typedSql, checkedSql, countsSql };
}
