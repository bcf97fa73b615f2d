import type { DuckDBConnection } from '@duckdb/node-api';
import type { Config } from '../config/schema.js';
import { ident, literal, rows } from './duckdb.js';

export type SplitName = 'train' | 'validation' | 'test';

/**
 * The SQL expression that assigns a clean row of `checked` to train, validation or test.
 *
 * Rows are ordered by a seeded hash of their identity (`__h`), or by `split.time_column`, and cut
 * at the train and train+validation quantiles: per label for classification, so every class keeps
 * its share in every split. Quantiles are found by selection, not by sorting, and the expression
 * needs no join, so the split costs one small aggregate however many rows there are. The same data
 * and seed give the same split on every rerun.
 */
export async function splitExpression(db: DuckDBConnection, config: Config, label: string): Promise<string> {
  const { train, validation, time_column } = config.data.split;
  const order = time_column ? `epoch_us(${ident(time_column)})` : '__h';
  const stratified = !time_column && config.model.task !== 'regression';
  const group = stratified ? ident(label) : `'all'`;
  const cuts = await rows<{ g: string; a: string; b: string }>(
    db,
    `SELECT ${group} AS g, CAST(quantile_disc(${order}, ${train}) AS VARCHAR) AS a,
            CAST(quantile_disc(${order}, ${(train + validation)}) AS VARCHAR) AS b
     FROM checked WHERE __reasons = '' GROUP BY ALL`,
  );
  const type = time_column ? 'BIGINT' : 'UBIGINT';
  // No clean rows means no cuts (and nothing to split); a CASE needs at least one WHEN.
  const cut = (which: 'a' | 'b') =>
    stratified && cuts.length
      ? `CASE ${ident(label)} ${cuts.map((c) => `WHEN ${literal(c.g)} THEN CAST(${literal(c[which])} AS ${type})`).join(' ')} END`
      : `CAST(${literal(cuts[0]?.[which] ?? '0')} AS ${type})`;
  return `CASE WHEN ${order} <= ${cut('a')} THEN 'train' WHEN ${order} <= ${cut('b')} THEN 'validation' ELSE 'test' END`;
}
