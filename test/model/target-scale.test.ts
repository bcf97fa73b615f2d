import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { evaluate } from '../../src/evaluate/evaluate.js';
import { memoryLogger } from '../../src/log.js';
import { decodeOutputs, loadPredictor } from '../../src/model/predictor.js';
import { preprocessSchema, readPreprocess } from '../../src/model/preprocess.js';
import { train } from '../../src/model/train.js';
import { FolderStore } from '../../src/registry/folder-store.js';
import { modelFiles } from '../../src/registry/model-files.js';
import { Registry } from '../../src/registry/registry.js';
import { startServer } from '../../serving/server.js';
import { bodyMassRun } from './body-mass.js';

/* The body mass regression with the target in grams, in milligrams (x 1000) and in kilograms (x 0.001). */
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-target-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

async function bodyMass(factor: number) {
  const ctx = await bodyMassRun(root, `mass-${factor}`, `"Body Mass (g)" * ${factor}`);
  const trained = await train(ctx);
  const { metrics } = await evaluate(ctx);
  return { trained, r2: (metrics as { r2: number }).r2, rmse: (metrics as { rmse: number }).rmse };
}

// The shipped example request, a 5,000 g Gentoo: its body mass is now the target, its species a feature.
const { body_mass_g: _mass, ...request } = JSON.parse(await readFile('data/penguin-request.json', 'utf8')) as Record<string, unknown>;
const record = { ...request, species: 'Gentoo' };

describe('a regression target of any scale', () => {
  const runs = new Map<number, Awaited<ReturnType<typeof bodyMass>>>();
  let grams: Awaited<ReturnType<typeof bodyMass>>;
  beforeAll(async () => {
    grams = await bodyMass(1);
  });

  it('trains on the sample data in grams', () => {
    expect(grams.r2).toBeGreaterThan(0.7);
  });

  for (const factor of [1000, 0.001]) {
    it(`reaches the same R² with the target x ${factor}, and metrics and predictions in its units`, async () => {
      const scaled = await bodyMass(factor);
      runs.set(factor, scaled);
      expect(Math.abs(scaled.r2 - grams.r2)).toBeLessThan(0.02);
      expect(scaled.rmse / factor).toBeCloseTo(grams.rmse, 0);

      const spec = await readPreprocess(scaled.trained.modelDir);
      expect(spec.label.scale!.mean / factor).toBeCloseTo((await readPreprocess(grams.trained.modelDir)).label.scale!.mean, 6);
      const predictor = await loadPredictor(scaled.trained.modelDir);
      const columns = Object.fromEntries(Object.entries(record).map(([k, v]) => [k, [v as number | string | boolean]]));
      const [value] = predictor.predict(columns, 1);
      expect(value! / factor).toBeGreaterThan(3500);
      expect(value! / factor).toBeLessThan(6500);
      predictor.dispose();
    });
  }

  it('serves a prediction in the target units', async () => {
    const scaled = runs.get(1000) ?? (await bodyMass(1000));
    const config = parseConfig(parse(await readFile('mlops.config.yaml', 'utf8')), {});
    config.serving.log.path = join(root, 'predictions.jsonl');
    // The server serves a registry version's folder, whose manifest it checks.
    const registry = new Registry(new FolderStore(join(root, 'registry')));
    const { version } = await registry.register(
      modelFiles.map((f) => join(scaled.trained.modelDir, f)),
      { runId: 'mass-1000', summary: {} },
    );
    const server = await startServer({
      serving: config.serving,
      configDir: process.cwd(),
      logger: memoryLogger(),
      port: 0,
      source: { kind: 'dir', dir: (await registry.open(version)).dir },
    });
    try {
      const res = await fetch(`${server.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(record),
      });
      const body = (await res.json()) as { value: number };
      expect(res.status).toBe(200);
      expect(body.value).toBeGreaterThan(3500 * 1000);
      expect(body.value).toBeLessThan(6500 * 1000);
    } finally {
      await server.close();
    }
  });

  it('reads a preprocess.json written before targets were scaled as the identity', () => {
    const older = preprocessSchema.parse({
      format: 'mlops-preprocess/1',
      features: [],
      width: 0,
      label: { name: 'y', task: 'regression' },
    });
    expect(Array.from(decodeOutputs(older, Float32Array.of(-2, 4200)))).toEqual([-2, 4200]);
  });
});
