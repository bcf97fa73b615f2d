import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createContext, type StepContext } from '../../src/context.js';
import { extract } from '../../src/data/extract.js';
import { evaluate } from '../../src/evaluate/evaluate.js';
import { evaluationOf, testRows } from '../../src/evaluate/test-predictions.js';
import { MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { tf } from '../../src/model/backend.js';
import { buildModel } from '../../src/model/build.js';
import { readSplit } from '../../src/model/dataset.js';
import { fitLoop, predictRows } from '../../src/model/fit-loop.js';
import { saveModel } from '../../src/model/io.js';
import { decodeOutputs, loadPredictor } from '../../src/model/predictor.js';
import { transform } from '../../src/model/preprocess.js';
import { withSeed } from '../../src/model/random.js';
import { readExtract, train } from '../../src/model/train.js';
import { trainingData } from '../../src/model/training-data.js';
import { silentProgress } from '../../src/progress.js';
import type { TrainOutputs } from '../../src/step-outputs.js';

/*
 * The model seam (src/model/family.ts) with the MLP behind it, against the MLP trained straight from
 * its parts as the train step did before the seam: the same seed and split must give the same model,
 * and the same metrics.
 */
let root: string;
let ctx: StepContext;
let trained: TrainOutputs;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-family-'));
  const loaded = await loadConfig('mlops.config.yaml', process.env);
  loaded.config.model.stability = undefined;
  loaded.config.gates!.stability = undefined;
  loaded.config.registry.path = join(root, 'registry');
  ctx = createContext(loaded, { runId: 'seam', log: memoryLogger(), progress: silentProgress });
  ctx.runDir = join(root, 'run');
  await extract(ctx);
  trained = await train(ctx);
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** A copy of the trained model folder with its card changed by `change`. */
async function withCard(name: string, change: (card: Record<string, unknown>) => void): Promise<string> {
  const dir = join(root, name);
  await cp(trained.modelDir, dir, { recursive: true });
  const card = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')) as Record<string, unknown>;
  change(card);
  await writeFile(join(dir, 'metadata.json'), JSON.stringify(card));
  return dir;
}

describe('the model seam', () => {
  it('trains the MLP through it into the same weights and the same test metrics as from its parts (same seed, same split)', async () => {
    const { config } = ctx;
    const { dir, outputs } = await readExtract(ctx);
    const data = await trainingData(config, dir, outputs);
    const net = buildModel(config.model, data.spec.width, data.spec.label.classes!.length);
    const { model } = config;
    const options = { epochs: model.epochs, batchSize: model.batch_size, patience: model.early_stopping_patience, seed: model.seed };
    await withSeed(model.seed, () => fitLoop(net, data.train, data.valid, { ...options, task: model.task, onEpoch: () => {} }));
    await saveModel(net, join(root, 'parts'));
    const weights = (at: string) => readFile(join(at, 'weights.bin'));
    expect((await weights(trained.modelDir)).equals(await weights(join(root, 'parts')))).toBe(true);

    const test = await readSplit(dir, outputs, 'test', outputs.features);
    const direct = decodeOutputs(data.spec, predictRows(net, transform(data.spec, test.columns, test.rows), test.rows));
    net.dispose();
    type Scored = { accuracy: number; macro_f1: number; confusion: number[][]; log_loss: number };
    const expected = evaluationOf({ ...testRows(data.spec, test), candidate: Array.from(direct) }, 'candidate').metrics as Scored;
    const metrics = (await evaluate(ctx)).metrics as Scored;
    expect(metrics).toMatchObject({ accuracy: expected.accuracy, macro_f1: expected.macro_f1, confusion: expected.confusion });
    // The server's dense path against TF.js: equal to float rounding.
    expect(metrics.log_loss).toBeCloseTo(expected.log_loss, 5);
  });

  it('records the family in the card, and reads a card written before the seam as an MLP', async () => {
    expect(JSON.parse(await readFile(join(trained.modelDir, 'metadata.json'), 'utf8')).family).toBe('mlp');
    const predictor = await loadPredictor(await withCard('old-card', (card) => delete card.family));
    expect(predictor.card.family).toBe('mlp');
    expect(predictor.engine).toBe('dense');
    predictor.dispose();
  });

  it('refuses a model of a family it does not know as a data error naming it', async () => {
    const dir = await withCard('unknown', (card) => (card.family = 'gradient-boosting'));
    const err = (await loadPredictor(dir).catch((e: unknown) => e)) as MlopsError;
    expect(err).toBeInstanceOf(MlopsError);
    expect(err.errorClass).toBe('data');
    expect(err.message).toContain('of the family "gradient-boosting", which this version does not know (it knows mlp)');
  });

  it('frees a loaded model through the predictor', async () => {
    const before = tf.memory().numTensors;
    const predictor = await loadPredictor(trained.modelDir);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    predictor.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
