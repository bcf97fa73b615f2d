import { seededRandom } from '../../src/model/random.js';

/**
 * The fuzz corpus for /predict: random, broken and malformed request bodies (and content types),
 * the same sequence for the same seed. Mostly-plausible records with a few fields broken, missing
 * or added, batches of them, arbitrary JSON, truncated JSON, random bytes, deep nesting.
 */
export interface FuzzPayload {
  body: string;
  type: string;
}

/** The sample config's input columns. */
export const sampleFeatures = [
  'island',
  'clutch_completion',
  'culmen_length_mm',
  'culmen_depth_mm',
  'flipper_length_mm',
  'body_mass_g',
  'sex',
  'delta_15_n',
  'delta_13_c',
];

/** `n` payloads from the corpus of `seed`. */
export function fuzzPayloads(n: number, seed = 2024): FuzzPayload[] {
  const random = seededRandom(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;

  function value(depth = 0): unknown {
    const kinds = ['num', 'str', 'bool', 'null', 'big', 'neg', 'arr', 'obj', 'nan', 'unicode', 'empty'];
    switch (pick(depth > 2 ? kinds.slice(0, 6) : kinds)) {
      case 'num':
        return random() * 1000 - 500;
      case 'str':
        return pick(['Biscoe', 'Dream', 'MALE', '', ' ', 'NaN', 'Infinity', '1e999', 'x'.repeat(Math.floor(random() * 500))]);
      case 'bool':
        return random() < 0.5;
      case 'null':
        return null;
      case 'big':
        return pick([1e308, -1e308, Number.MAX_SAFE_INTEGER, 5e-324]);
      case 'neg':
        return -0;
      case 'arr':
        return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      case 'obj':
        return Object.fromEntries(
          Array.from({ length: Math.floor(random() * 4) }, (_, i) => [
            pick([...sampleFeatures, '__proto__', 'constructor', `k${i}`]),
            value(depth + 1),
          ]),
        );
      case 'nan':
        return '\u0000\ud800';
      default:
        return {};
    }
  }

  /** A mostly-plausible record with a few fields broken, missing or added. */
  function record(): Record<string, unknown> {
    const r: Record<string, unknown> = {
      island: 'Biscoe',
      clutch_completion: true,
      culmen_length_mm: 45,
      culmen_depth_mm: 15,
      flipper_length_mm: 210,
      body_mass_g: 4800,
      sex: 'FEMALE',
      delta_15_n: 8.5,
      delta_13_c: -26,
    };
    for (let i = 0; i < Math.floor(random() * 4); i++) {
      const k = pick([...sampleFeatures, 'extra', '__proto__', 'toString']);
      if (random() < 0.3) delete r[k];
      else r[k] = value();
    }
    return r;
  }

  function payload(): FuzzPayload {
    const json = 'application/json';
    switch (Math.floor(random() * 8)) {
      case 0:
        return { body: JSON.stringify(record()), type: json };
      case 1:
        return { body: JSON.stringify({ instances: Array.from({ length: Math.floor(random() * 5) }, record) }), type: json };
      case 2:
        return { body: JSON.stringify(value()), type: json };
      case 3:
        return { body: JSON.stringify(record()).slice(0, Math.floor(random() * 60)), type: json };
      case 4:
        return { body: String.fromCharCode(...Array.from({ length: 64 }, () => Math.floor(random() * 256))), type: json };
      case 5:
        return { body: '['.repeat(5000) + ']'.repeat(5000), type: json };
      case 6:
        return { body: JSON.stringify(record()), type: pick(['text/plain', 'application/x-www-form-urlencoded', '', 'application/jsonx']) };
      default:
        return { body: JSON.stringify({ instances: value() }), type: `${json}; charset=utf-8` };
    }
  }

  return Array.from({ length: n }, payload);
}
