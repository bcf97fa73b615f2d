import {
  BIGINT,
  DOUBLE,
  DuckDBDataChunk,
  JSDuckDBValueConverter,
  VARCHAR,
  type DuckDBConnection,
  type DuckDBValue,
} from '@duckdb/node-api';
import { ident } from '../data/duckdb.js';
import type { Value } from '../model/dataset.js';
import { f32, probabilitiesJson } from '../model/output-json.js';
import { outlierScores } from '../model/outliers.js';
import type { Predictor } from '../model/predictor.js';
import { transform } from '../model/preprocess.js';
import { binValue, expectedShares } from '../model/reference.js';
import type { BatchCounts } from '../step-outputs.js';

/** The table the predictions go to, beside `checked` in the in-memory catalog: `__row` is the checked row's rowid. */
export const SCORED = 'memory.main.__scored';

/**
 * Scores the clean rows of `checked` a DuckDB chunk (2,048 rows) at a time through the predictor the
 * server uses: the same transform, the same forward pass, the outputs printed by the same code. Each
 * chunk's predictions are appended to `SCORED` over a second connection (an append on the reading
 * connection would end its stream), so memory holds a chunk, never the table.
 */
export async function scoreRows(
  db: DuckDBConnection,
  appendDb: DuckDBConnection,
  predictor: Predictor,
  options: { outlierZ: number; onChunk?: (scored: number) => void },
): Promise<BatchCounts> {
  const { spec, card } = predictor;
  const classes = spec.label.classes;
  await db.run(`CREATE OR REPLACE TABLE ${SCORED} (__row BIGINT, ${classes ? 'label VARCHAR, probabilities VARCHAR' : 'value DOUBLE'})`);
  const appender = await appendDb.createAppender('__scored', 'main', 'memory');
  const types = classes ? [BIGINT, VARCHAR, VARCHAR] : [BIGINT, DOUBLE];
  const features = spec.features.map((f) => f.name);
  const select = features.map((name, i) => (spec.features[i]!.kind === 'numeric' ? `CAST(${ident(name)} AS DOUBLE)` : ident(name)));
  const references = features.map((name) => card.reference[name]);
  const bins = features.map((_, i) => new Array<number>(references[i] ? expectedShares(references[i]).length : 0).fill(0));
  const perClass = new Array<number>(classes?.length ?? 0).fill(0);
  const values = { min: Infinity, max: -Infinity, sum: 0 };
  let scored = 0;
  let outliers = 0;
  try {
    const result = await db.stream(`SELECT rowid, ${select.join(', ')} FROM checked WHERE __reasons = ''`);
    for (let chunk = await result.fetchChunk(); chunk?.rowCount; chunk = await result.fetchChunk()) {
      const rows = chunk.rowCount;
      const columns: Record<string, Value[]> = {};
      features.forEach((name, i) => {
        const column = chunk.convertColumnValues(i + 1, JSDuckDBValueConverter) as Value[];
        columns[name] = column;
        const reference = references[i];
        if (reference)
          for (let r = 0; r < rows; r++) {
            const bin = binValue(reference, column[r]);
            if (bin >= 0) bins[i]![bin]!++;
          }
      });
      const x = transform(spec, columns, rows);
      const out = predictor.forward(x, rows);
      const scores = outlierScores(spec, x, rows);
      for (let r = 0; r < rows; r++) if (scores[r]! > options.outlierZ) outliers++;
      const ids = chunk.getColumnValues(0);
      const appended = DuckDBDataChunk.create(types, rows);
      if (classes) {
        const { json, best } = probabilitiesJson(classes, out, rows, spec.label.threshold);
        const labels = Array.from(best, (b) => classes[b]!);
        for (const b of best) perClass[b]!++;
        appended.setColumns([ids, labels, json]);
      } else {
        const printed: DuckDBValue[] = Array.from(out, (v) => Number(f32(v)));
        for (const v of printed as number[]) {
          values.min = Math.min(values.min, v);
          values.max = Math.max(values.max, v);
          values.sum += v;
        }
        appended.setColumns([ids, printed]);
      }
      appender.appendDataChunk(appended);
      scored += rows;
      options.onChunk?.(scored);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  return {
    rows: scored,
    outliers,
    ...(classes ? { classes: Object.fromEntries(classes.map((c, i) => [c, perClass[i]!])) } : scored ? { values } : {}),
    features: Object.fromEntries(features.flatMap((name, i) => (references[i] ? [[name, bins[i]!]] : []))),
  };
}
