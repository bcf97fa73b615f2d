import { readFileSync } from 'node:fs';

/** The fields of one CSV line, quoted fields (with their commas) kept whole. */
const fields = (line: string) => [...line.matchAll(/("([^"]*)"|[^,]*)(,|$)/g)].slice(0, -1).map((m) => m[2] ?? m[1]!);

const num = (v: string) => (v === 'NA' || v === '' ? null : Number(v));

/**
 * Every penguin of the sample data as a prediction request's record: real, varied inputs, on which
 * two models can be seen to agree or not (one fixed record would agree or not as a whole).
 */
export function penguinRecords(): Record<string, unknown>[] {
  const [head, ...lines] = readFileSync('data/penguins_raw.csv', 'utf8').trim().split('\n');
  const col = Object.fromEntries(fields(head!).map((name, i) => [name, i]));
  return lines
    .map(fields)
    .filter((f) => ['MALE', 'FEMALE', 'NA'].includes(f[col.Sex!]!))
    .map((f) => ({
      island: f[col.Island!],
      clutch_completion: f[col['Clutch Completion']!] === 'Yes',
      culmen_length_mm: num(f[col['Culmen Length (mm)']!]!),
      culmen_depth_mm: num(f[col['Culmen Depth (mm)']!]!),
      flipper_length_mm: num(f[col['Flipper Length (mm)']!]!),
      body_mass_g: num(f[col['Body Mass (g)']!]!),
      sex: f[col.Sex!] === 'NA' ? null : f[col.Sex!],
      delta_15_n: num(f[col['Delta 15 N (o/oo)']!]!),
      delta_13_c: num(f[col['Delta 13 C (o/oo)']!]!),
    }));
}
