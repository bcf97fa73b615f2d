import type { Config } from '../config/schema.js';
import { ident, literal } from './duckdb.js';

export type SplitName = 'train' | 'validation' | 'test';

/**
 * How a clean row of `checked` is assigned to train, validation or test.
 *
 * Rows are ordered by a seeded hash of their identity (`__h`), or by `split.time_column`, and cut
 * at the train and train+validation quantiles: per label for classification, so every class keeps
 * its share in every split. Quantiles are found by selection, not by sorting, in the same grouped
 * scan that counts the contract, and the expression needs no join, so the split costs next to nothing. The same data
 * and seed give the same split on every rerun.
 */
export interface SplitPlan {
  /** The stratum of a row: the label, or one stratum for all. */
  group: string;
  /** Aggregates giving `__cut_train` and `__cut_validation` per stratum, over clean rows. */
  cuts: string[];
  /** The split expression, given the cuts the aggregates found per stratum. */
  expression(cuts: { g: string; __cut_train: string; __cut_validation: string }[]): string;
}

export function splitPlan(config: Config, label: string): SplitPlan {
  const { train, validation, time_column } = config.data.split;
  const order = time_column ? `epoch_us(${ident(time_column)})` : '__h';
  const stratified = !time_column && config.model.task !== 'regression';
  const type = time_column ? 'BIGINT' : 'UBIGINT';
  const quantile = (q: number) => `CAST(quantile_disc(${order}, ${q}) FILTER (WHERE __reasons = '') AS VARCHAR)`;
  return {
    group: stratified ? ident(label) : `'all'`,
    cuts: [`${quantile(train)} AS __cut_train`, `${quantile(train + validation)} AS __cut_validation`],
    expression(cuts) {
      const found = cuts.filter((c) => c.__cut_train !== null);
      // No clean rows means no cuts (and nothing to split); a CASE needs at least one WHEN.
      const cut = (which: '__cut_train' | '__cut_validation') =>
        stratified && found.length
          ? `CASE ${ident(label)} ${found.map((c) => `WHEN ${literal(c.g)} THEN CAST(${literal(c[which])} AS ${type})`).join(' ')} END`
          : `CAST(${literal(found[0]?.[which] ?? '0')} AS ${type})`;
      return `CASE WHEN ${order} <= ${cut('__cut_train')} THEN 'train' WHEN ${order} <= ${cut('__cut_validation')} THEN 'validation' ELSE 'test' END`;
    },
  };
}
