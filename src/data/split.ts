import type { Config } from '../config/schema.js';
import { ident } from './duckdb.js';

export type SplitName = 'train' | 'validation' | 'test';

/**
 * Assigns each clean row of `checked` to train, validation or test. Deterministic: rows are ranked
 * by a seeded hash of their key (or of their values when there is no key), so a rerun on the same
 * data gives the same split. Classification is stratified by label, so every class keeps its
 * share in every split. With `split.time_column` the oldest rows train and the newest test.
 */
export function splitSql(config: Config, label: string, keys: string[], output: string[]): string {
  const { seed, train, validation, time_column } = config.data.split;
  const identity = (keys.length ? keys : output.filter((c) => c !== '__row')).map(ident).join(', ');
  const order = time_column ? `${ident(time_column)}, __row` : `hash(${seed}, ${identity}), __row`;
  const partition = !time_column && config.model.task !== 'regression' ? `PARTITION BY ${ident(label)}` : '';
  return `SELECT ${output.map(ident).join(', ')},
      CASE WHEN __rank <= round(__n * ${train}) THEN 'train'
           WHEN __rank <= round(__n * ${train + validation}) THEN 'validation'
           ELSE 'test' END AS split
    FROM (SELECT *, row_number() OVER (${partition} ORDER BY ${order}) AS __rank, count(*) OVER (${partition}) AS __n
          FROM checked WHERE __reasons = '')`;
}
