import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/log.js';
import { evaluateSummary } from '../../src/actions/summary.js';
import { readModelCard } from '../../src/model/model-card.js';
import { seededRandom } from '../../src/model/random.js';
import { openRegistry } from '../../src/registry/registry.js';
import { startServer, type RunningServer } from '../../serving/server.js';
import type { EvaluateOutputs } from '../../src/step-outputs.js';
import { trainedRun } from '../helpers/model.js';

/**
 * Ten input columns, of which the label depends on two: the number `n3` and the category `grade`.
 * The other eight (numbers, a boolean) are noise. What the model relies on must say so, both over
 * the test split (permutation importance) and for each prediction (attributions).
 */
const ROWS = 3000;
const relevant = ['grade', 'n3'];
const grades = { a: -1.5, b: -0.5, c: 0.5, d: 1.5 } as const;

async function syntheticCsv(file: string): Promise<void> {
  const random = seededRandom(7);
  const normal = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const names = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'];
  const lines = [['day', ...names, 'grade', 'flag', 'label'].join(',')];
  for (let i = 0; i < ROWS; i++) {
    const n = names.map(() => normal());
    const grade = (['a', 'b', 'c', 'd'] as const)[Math.floor(random() * 4)]!;
    const day = new Date(Date.UTC(2024, 0, 1) + (i % 300) * 86_400_000).toISOString().slice(0, 10);
    const label = 1.5 * n[3]! + grades[grade] + 0.2 * normal() > 0 ? 'pos' : 'neg';
    lines.push([day, ...n.map((v) => v.toFixed(4)), grade, random() < 0.5, label].join(','));
  }
  await writeFile(file, lines.join('\n') + '\n');
}

let root: string;
let config: Config;
let server: RunningServer;
let modelDir: string;
let evaluation: EvaluateOutputs;
const logger = memoryLogger();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-importance-'));
  const csv = join(root, 'synthetic.csv');
  await syntheticCsv(csv);
  const file = join(root, 'synthetic.config.yaml');
  await writeFile(
    file,
    stringify({
      version: 1,
      project: 'synthetic',
      data: {
        source: { kind: 'duckdb', query: `SELECT * FROM read_csv('${csv}') WHERE day >= $window_start AND day < $as_of` },
        window: { as_of: '2025-01-01', days: 400 },
        contract: {
          columns: {
            day: { type: 'timestamp' },
            ...Object.fromEntries(Array.from({ length: 8 }, (_, j) => [`n${j}`, { type: 'float' }])),
            grade: { type: 'category', values: ['a', 'b', 'c', 'd'] },
            flag: { type: 'boolean' },
            label: { type: 'label', values: ['neg', 'pos'] },
          },
        },
      },
      model: { task: 'binary' },
      gates: { thresholds: { accuracy: { lower: 0.8 } } },
      registry: { path: join(root, 'registry') },
      workdir: join(root, 'work'),
      deploy: { target: 'none' },
      serving: { log: { path: join(root, 'predictions.jsonl') } },
    }),
  );
  config = (await loadConfig(file, process.env)).config;
  const { result } = await trainedRun(config, 'synthetic');
  modelDir = result.train.modelDir;
  evaluation = result.evaluate;
  server = await startServer({
    serving: config.serving,
    configDir: process.cwd(),
    logger,
    port: 0,
    source: { kind: 'registry', registry: openRegistry({ config, configDir: process.cwd(), env: process.env }), alias: 'champion' },
  });
}, 180_000);
afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

/** A request's record: every input column, no label. */
const record = (i: number) => {
  const random = seededRandom(100 + i);
  return {
    ...Object.fromEntries(Array.from({ length: 8 }, (_, j) => [`n${j}`, Number((random() * 4 - 2).toFixed(3))])),
    grade: ['a', 'b', 'c', 'd'][i % 4],
    flag: i % 3 === 0,
  };
};

const post = (query: string, body: unknown, id = 'r') =>
  fetch(`${server.url}/predict${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': id },
    body: JSON.stringify(body),
  });

describe('what the model relies on', () => {
  it('ranks the two columns the label depends on first by permutation importance, with a spread over seeded shuffles', async () => {
    const { importance } = await readModelCard(modelDir);
    expect(importance).toMatchObject({ metric: 'accuracy', repeats: 5, seed: 1 });
    const columns = importance!.columns;
    expect(columns).toHaveLength(10);
    expect(
      columns
        .slice(0, 2)
        .map((c) => c.column)
        .sort(),
    ).toEqual(relevant);
    // Shuffling either relevant column costs the model much of its accuracy; a noise column costs next to nothing.
    for (const c of columns.slice(0, 2)) expect(c.drop).toBeGreaterThan(0.1);
    for (const c of columns.slice(2)) expect(Math.abs(c.drop)).toBeLessThan(0.03);
    expect(columns.every((c) => c.std >= 0)).toBe(true);
    // The evaluation says the same, and its job summary draws it: a bar per column, most relied on first.
    expect(evaluation.importance).toEqual(importance);
    const summary = evaluateSummary(evaluation, ['neg', 'pos']);
    expect(summary).toContain('**What the model relies on**: the drop in accuracy');
    expect(summary).toMatch(new RegExp(`x-axis \\["${columns[0]!.column}", "${columns[1]!.column}", `));
  });

  it('explains each prediction with POST /predict?explain=true: attributions per input column that add up to the prediction', async () => {
    const instances = Array.from({ length: 20 }, (_, i) => record(i));
    const res = await post('?explain=true', { instances }, 'explained');
    expect(res.status, JSON.stringify(logger.lines)).toBe(200);
    const { predictions } = (await res.json()) as {
      predictions: {
        label: string;
        probabilities: Record<string, number>;
        explanation: { output: string; baseline: number; attributions: Record<string, number> };
      }[];
    };
    const total = new Map<string, number>();
    for (const p of predictions) {
      const { output, baseline, attributions } = p.explanation;
      expect(output).toBe(p.label);
      expect(Object.keys(attributions).sort()).toEqual(['flag', 'grade', ...Array.from({ length: 8 }, (_, j) => `n${j}`)].sort());
      // Completeness: the attributions account for the predicted class's probability minus the train means'.
      const sum = Object.values(attributions).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(p.probabilities[output]! - baseline, 1);
      for (const [column, a] of Object.entries(attributions)) total.set(column, (total.get(column) ?? 0) + Math.abs(a));
    }
    const ranked = [...total.entries()].sort((a, b) => b[1] - a[1]).map(([c]) => c);
    expect(ranked.slice(0, 2).sort()).toEqual(relevant);
  });

  it('explains nothing unless asked, keeps attributions out of the prediction log, and answers a bad explain with 400', async () => {
    const plain = await (await post('', record(1), 'plain')).json();
    expect(plain).toMatchObject({ label: expect.any(String), probabilities: expect.any(Object) });
    expect(plain).not.toHaveProperty('explanation');
    expect(await (await post('?explain=false', record(1))).json()).not.toHaveProperty('explanation');

    const logged = async () =>
      (await readFile(config.serving.log.path, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { request_id: string; outputs: object })
        .find((l) => l.request_id === 'explained');
    await expect.poll(logged, { timeout: 10_000 }).toBeDefined();
    expect(JSON.stringify((await logged())!.outputs)).not.toContain('attributions');

    const bad = await post('?explain=yes', record(1));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'explain: expected true or false, got "yes"' });
  });

  it('answers explain=true with 422 on a model whose family has no gradients, and predicts without it as before', async () => {
    // What loadPredictor makes of a family that leaves `gradients` out.
    const predictor = server.store.current!.predictor;
    const explain = predictor.explain;
    predictor.explain = undefined;
    try {
      const res = await post('?explain=true', record(2));
      expect(res.status).toBe(422);
      expect(await res.json()).toEqual({
        error: 'model v1 cannot explain its predictions',
        hint: 'its family (mlp) has no gradients; ask without explain=true',
      });
      expect((await post('', record(2))).status).toBe(200);
    } finally {
      predictor.explain = explain;
    }
  });
});
