import { dataError } from '../errors.js';
import { distinctOf, type ColumnSummary } from './column-summary.js';
import type { Dataset, Value } from './dataset.js';

/**
 * Data no network can learn from, refused before training starts: each a data error naming the
 * column, instead of a model that fails to converge (or converges on nothing) minutes later.
 */

const present = (v: Value) => v !== null && !(typeof v === 'number' && !Number.isFinite(v));

/** The distinct present values of a column, stopping at two: all a check needs. */
function distinct(values: Value[]): Value[] {
  const seen: Value[] = [];
  for (const v of values) {
    if (!present(v) || seen.includes(v)) continue;
    seen.push(v);
    if (seen.length === 2) break;
  }
  return seen;
}

/** A regression target must be finite on every row a network sees (`split`), and vary on the train split. */
export function checkTarget(label: string, split: 'train' | 'validation', set: Pick<Dataset, 'label' | 'sourceRows'>): void {
  const at = set.label.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (at >= 0)
    throw dataError(
      `the target "${label}" is ${set.label[at]} at source row ${set.sourceRows[at]} of the ${split} split`,
      'a regression target must be a finite number: filter or fix such rows in the query, or give the label a range in the contract so extract quarantines them',
    );
  const values = distinct(set.label);
  if (split === 'train' && values.length < 2)
    throw dataError(
      `the target "${label}" has a single value (${values[0] ?? 'none'}) in the train split`,
      'a regression needs a target that varies; check the query and data.window',
    );
}

/** A feature that is constant, or missing on every row, of the train split carries nothing to learn. */
export function checkFeature(name: string, train: ColumnSummary): void {
  const seen = distinctOf(train);
  if (seen.length < 2)
    throw dataError(
      `the feature "${name}" is ${seen.length ? `constant (${seen[0]})` : 'missing on every row'} in the train split (${train.rows} rows)`,
      'drop it from data.features, or widen data.window so it varies',
    );
}
