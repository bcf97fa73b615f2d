import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/model/random.js';
import type { RunningServer } from '../../serving/server.js';
import { championServer, isolatedConfig, trainedRun } from '../helpers/model.js';

let root: string;
let server: RunningServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-fuzz-'));
  const config = await isolatedConfig(root);
  await trainedRun(config, 'fuzz');
  server = await championServer(config);
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

const random = seededRandom(2024);
const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
const features = [
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
          pick([...features, '__proto__', 'constructor', `k${i}`]),
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
    const k = pick([...features, 'extra', '__proto__', 'toString']);
    if (random() < 0.3) delete r[k];
    else r[k] = value();
  }
  return r;
}

function payload(): { body: string; type: string } {
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

describe('fuzzing /predict', () => {
  it('answers 2,500 random and malformed payloads without a single 5xx, and keeps answering', async () => {
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 125; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const { body, type } = payload();
          const res = await fetch(`${server.url}/predict`, { method: 'POST', headers: type ? { 'content-type': type } : {}, body });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }),
      );
    }
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(2500);
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect(statuses.get(422)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(415)).toBeGreaterThan(0);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});
