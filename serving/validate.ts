import type { Value } from '../src/model/dataset.js';
import type { PreprocessSpec } from '../src/model/preprocess.js';

export interface FieldError {
  field: string;
  problem: string;
}

export type Parsed =
  | { ok: true; batch: boolean; rows: number; columns: Record<string, Value[]>; records: Record<string, unknown>[] }
  | { ok: false; errors: FieldError[] };

const expected = { numeric: 'a finite number', boolean: 'true or false', category: 'a string' } as const;

function check(kind: keyof typeof expected, v: unknown): boolean {
  if (v === null) return true; // a missing value: imputed as in training
  if (kind === 'numeric') return typeof v === 'number' && Number.isFinite(v);
  if (kind === 'boolean') return typeof v === 'boolean';
  return typeof v === 'string';
}

const describe = (v: unknown) =>
  typeof v === 'number' && !Number.isFinite(v) ? String(v) : v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 40);

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
  const columns: Record<string, Value[]> = Object.fromEntries(spec.features.map((f) => [f.name, new Array<Value>(records.length)]));
  records.forEach((record, r) => {
    const at = (field: string) => (batch ? `instances[${r}]${field ? `.${field}` : ''}` : field || '(body)');
    if (!isObject(record)) {
      errors.push({ field: at(''), problem: 'expected a JSON object of feature values' });
      return;
    }
    for (const f of spec.features) {
      const v = record[f.name];
      if (!Object.hasOwn(record, f.name)) errors.push({ field: at(f.name), problem: `missing; expected ${expected[f.kind]} or null` });
      else if (!check(f.kind, v)) errors.push({ field: at(f.name), problem: `expected ${expected[f.kind]} or null, got ${describe(v)}` });
      else columns[f.name]![r] = v as Value;
    }
    for (const key of Object.keys(record)) {
      if (!Object.hasOwn(columns, key)) errors.push({ field: at(key), problem: 'unknown field; the model does not use it' });
    }
  });
  return errors.length
    ? { ok: false, errors }
    : { ok: true, batch, rows: records.length, columns, records: records as Record<string, unknown>[] };
}
