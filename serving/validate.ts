import type { Value } from '../src/model/dataset.js';
import type { PreprocessSpec } from '../src/model/preprocess.js';

export interface FieldError {
  field: string;
  problem: string;
}

export type Parsed = { ok: true; batch: boolean; rows: number; columns: Record<string, Value[]> } | { ok: false; errors: FieldError[] };

const expected = { numeric: 'a finite number', boolean: 'true or false', category: 'a string' } as const;

/** `null` is a missing value, imputed as in training. */
const valid = (kind: keyof typeof expected, v: unknown) =>
  v === null ||
  (kind === 'numeric' ? typeof v === 'number' && Number.isFinite(v) : kind === 'boolean' ? typeof v === 'boolean' : typeof v === 'string');

const describe = (v: unknown) =>
  typeof v === 'number' && !Number.isFinite(v) ? String(v) : v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 40);

/** How a field of record `r` is named in an error: `instances[2].sex` in a batch, `sex` in a lone record. */
const fieldAt = (batch: boolean, r: number, field: string) => (batch ? `instances[${r}]${field ? `.${field}` : ''}` : field || '(body)');

/**
 * Checks a request body against the model's features: one record of raw values, or
 * `{"instances": [...]}`. Every bad field is named (missing, unknown, wrong type, NaN or Infinity);
 * `null` is a missing value and is imputed the way training imputed it.
 */
export function parseRecords(spec: PreprocessSpec, body: unknown, maxBatch: number): Parsed {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const batch = isObject(body) && 'instances' in body && Object.keys(body).length === 1;
  const records = batch ? (body as { instances: unknown }).instances : [body];
  if (!Array.isArray(records)) return { ok: false, errors: [{ field: 'instances', problem: 'expected an array of records' }] };
  if (records.length === 0) return { ok: false, errors: [{ field: 'instances', problem: 'expected at least one record' }] };
  if (records.length > maxBatch)
    return { ok: false, errors: [{ field: 'instances', problem: `expected at most ${maxBatch} records, got ${records.length}` }] };
  const errors: FieldError[] = [];
  const { features } = spec;
  const columns: Record<string, Value[]> = {};
  const values = features.map((f) => (columns[f.name] = new Array<Value>(records.length)));
  const at = (r: number, field: string) => fieldAt(batch, r, field);
  for (let r = 0; r < records.length; r++) {
    const record: unknown = records[r];
    if (!isObject(record)) {
      errors.push({ field: at(r, ''), problem: 'expected a JSON object of feature values' });
      continue;
    }
    let present = 0;
    for (let i = 0; i < features.length; i++) {
      const { name, kind } = features[i]!;
      const v = record[name];
      if (!Object.hasOwn(record, name)) {
        errors.push({ field: at(r, name), problem: `missing; expected ${expected[kind]} or null` });
        continue;
      }
      present++;
      if (valid(kind, v)) values[i]![r] = v as Value;
      else errors.push({ field: at(r, name), problem: `expected ${expected[kind]} or null, got ${describe(v)}` });
    }
    // More keys than features present means unknown ones; only then are they looked for by name.
    let keys = 0;
    for (const _ in record) keys++;
    if (keys === present) continue;
    for (const key of Object.keys(record)) {
      if (!Object.hasOwn(columns, key)) errors.push({ field: at(r, key), problem: 'unknown field; the model does not use it' });
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, batch, rows: records.length, columns };
}

/**
 * The records the model has no finite answer for: a finite input can still be too large for the
 * model's float32 arithmetic (1e308 overflows), and NaN or Infinity is not JSON, in the response or
 * the prediction log. `out` holds each record's outputs in turn; `outliers` each one's largest z-score.
 */
export function unpredictable(out: Float32Array, outliers: Float32Array, rows: number, batch: boolean): FieldError[] {
  const errors: FieldError[] = [];
  const k = out.length / rows;
  for (let r = 0; r < rows; r++) {
    let finite = Number.isFinite(outliers[r]);
    for (let j = r * k; finite && j < (r + 1) * k; j++) finite = Number.isFinite(out[j]);
    if (!finite)
      errors.push({ field: fieldAt(batch, r, ''), problem: 'a value is too far outside the training data: the model overflows' });
  }
  return errors;
}
