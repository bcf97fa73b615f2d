import { mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createContext, stepDir, type StepContext } from '../../src/context.js';
import { extract } from '../../src/data/extract.js';
import { MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { loadModel } from '../../src/model/io.js';
import { train, type ModelCard } from '../../src/model/train.js';
import { silentProgress } from '../../src/progress.js';

let root: string;
let base: Config;
let runs = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-train-'));
  base = (await loadConfig('mlops.config.yaml', process.env)).config;
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** Extracts the sample data into a fresh run, with the config changed by `change` and one seed (stability.test.ts has the several). */
async function prepared(change: (c: Config) => void = () => {}): Promise<StepContext> {
  const config = structuredClone(base);
  config.model.stability = undefined;
  config.gates!.stability = undefined;
  change(config);
  const ctx = createContext(
    { config, file: join(process.cwd(), 'mlops.config.yaml'), dir: process.cwd(), env: process.env },
    { runId: `t${++runs}`, log: memoryLogger(), progress: silentProgress },
  );
  ctx.runDir = join(root, ctx.runId);
  await extract(ctx);
  return ctx;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: MlopsError) => e,
  );

describe('the train step', () => {
  it('trains the configured network on the sample data and writes the model in the TF.js layers format', async () => {
    const ctx = await prepared();
    const out = await train(ctx);
    expect(out.backend).toBe('wasm');
    expect(out.epochs).toBeGreaterThan(out.bestEpoch - 1);
    const card = JSON.parse(await readFile(join(out.modelDir, 'metadata.json'), 'utf8')) as ModelCard;
    expect(card.backend).toBe('wasm');
    expect(card.classes).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    expect(card.lineage).toMatchObject({ runId: ctx.runId, asOf: '2009-12-31' });
    expect(card.lineage.dataHash).toMatch(/^[0-9a-f]{64}$/);
    expect(card.lineage.configHash).toMatch(/^[0-9a-f]{64}$/);
    expect(card.reference.culmen_length_mm).toMatchObject({ kind: 'numeric' });
    expect(card.reference.island).toMatchObject({ kind: 'category', values: expect.arrayContaining(['Biscoe', 'Dream', 'Torgersen']) });
    const modelJson = JSON.parse(await readFile(join(out.modelDir, 'model.json'), 'utf8'));
    expect(modelJson.format).toBe('layers-model');
    expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
    const model = await loadModel(out.modelDir);
    expect(model.outputs[0]!.shape).toEqual([null, 3]);
  });

  it('is reproducible: the same data, config and seed give the same training curve and weights', async () => {
    const a = await train(await prepared());
    const b = await train(await prepared());
    expect(b.valLoss).toBe(a.valLoss);
    const card = async (dir: string) => JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')) as ModelCard;
    expect((await card(b.modelDir)).checksums['weights.bin']).toBe((await card(a.modelDir)).checksums['weights.bin']);
  });

  it('stops early on the validation loss and keeps the best epoch', async () => {
    const out = await train(await prepared((c) => ((c.model.epochs = 300), (c.model.early_stopping_patience = 3))));
    expect(out.epochs).toBeLessThan(300);
    expect(out.epochs - out.bestEpoch).toBe(3);
  });

  it('calls an exploding loss a quality error that names the learning rate', async () => {
    const err = await failure(train(await prepared((c) => ((c.model.optimizer = 'sgd'), (c.model.learning_rate = 1e6)))));
    expect(err).toBeInstanceOf(MlopsError);
    expect(err!.errorClass).toBe('quality');
    expect(err!.hint).toContain('learning rate');
  });

  it('refuses a binary model for a three-class label as a config error', async () => {
    const err = await failure(train(await prepared((c) => (c.model.task = 'binary'))));
    expect(err!.errorClass).toBe('config');
    expect(err!.message).toContain('has 3 classes');
  });

  it('refuses a single-class label as a data error', async () => {
    const err = await failure(
      train(await prepared((c) => (c.data.source.query = c.data.source.query.replace('WHERE', `WHERE "Species" LIKE 'Adelie%' AND`)))),
    );
    expect(err!.errorClass).toBe('data');
    expect(err!.message).toContain('single class');
  });

  it('refuses to load a model whose weights are cut short', async () => {
    const out = await train(await prepared());
    await truncate(join(out.modelDir, 'weights.bin'), 100);
    const err = await failure(loadModel(out.modelDir));
    expect(err!.errorClass).toBe('data');
    expect(err!.message).toContain('cannot be loaded');
  });

  it('needs the extract step first', async () => {
    const ctx = await prepared();
    ctx.runDir = join(root, 'empty');
    const err = await failure(train(ctx));
    expect(err!.errorClass).toBe('config');
    expect(err!.message).toContain(stepDir(ctx, 'extract'));
  });
});
