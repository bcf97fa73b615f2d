import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { selectBackend, tf } from '../../src/model/backend.js';
import { buildModel } from '../../src/model/build.js';
import { fitLoop, predictRows, type EpochStats, type Rows } from '../../src/model/fit-loop.js';
import { loadModel, saveModel } from '../../src/model/io.js';
import { seededRandom, withSeed } from '../../src/model/random.js';

/*
 * The training loop against the reference path, tfjs's own `model.fit`, on the same network, seed
 * and data. The loop draws fit's shuffle from the same seeded generator, so both see the same
 * batches in the same order and take the same steps: the weights agree to float rounding, not just
 * in distribution.
 */
const defaults = parseConfig(
  { version: 1, project: 'loop', data: { source: { kind: 'duckdb', query: 'SELECT 1' }, contract: { columns: { y: { type: 'label' } } } } },
  {},
).model;

/** `rows` synthetic rows of 6 features and a 3-class label that depends on them. */
function synthetic(rows: number, seed: number): Rows {
  const random = seededRandom(seed);
  const x = Float32Array.from({ length: rows * 6 }, () => random() * 2 - 1);
  const y = new Float32Array(rows * 3);
  for (let r = 0; r < rows; r++) {
    const s = [0, 1, 2].map((k) => x[r * 6 + k]! - 0.5 * x[r * 6 + k + 3]!);
    y[r * 3 + s.indexOf(Math.max(...s))] = 1;
  }
  return { x, y, rows };
}

const train = synthetic(600, 1);
const valid = synthetic(200, 2);
const model = { ...defaults, task: 'multiclass' as const, hidden: [16, 8], l2: 1e-4, seed: 7 };
const net = () => buildModel(model, 6, 3);
const tensors = (d: Rows) => [tf.tensor2d(d.x, [d.rows, 6]), tf.tensor2d(d.y, [d.rows, 3])] as const;

async function reference(epochs: number): Promise<{ net: tf.Sequential; losses: number[]; valLosses: number[] }> {
  const reference = net();
  const [x, y] = tensors(train);
  const [vx, vy] = tensors(valid);
  const history = await withSeed(model.seed, () =>
    reference.fit(x, y, { epochs, batchSize: model.batch_size, shuffle: true, validationData: [vx, vy], verbose: 0 }),
  );
  tf.dispose([x, y, vx, vy]);
  return { net: reference, losses: history.history.loss as number[], valLosses: history.history.val_loss as number[] };
}

async function loop(epochs: number): Promise<{ net: tf.Sequential; history: EpochStats[] }> {
  const fast = net();
  const options = { epochs, batchSize: model.batch_size, patience: epochs, seed: model.seed, task: model.task, onEpoch: () => {} };
  const { history } = await fitLoop(fast, train, valid, options);
  return { net: fast, history };
}

let root: string;
beforeAll(async () => {
  await selectBackend('wasm');
  root = await mkdtemp(join(tmpdir(), 'mlops-loop-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('the training loop against model.fit', () => {
  it('gives the same weights after one epoch on the same seed', async () => {
    const [a, b] = [await reference(1), await loop(1)];
    const [wa, wb] = [a.net.getWeights(), b.net.getWeights()];
    expect(wb.map((w) => w.shape)).toEqual(wa.map((w) => w.shape));
    wa.forEach((w, i) => {
      const [x, y] = [w.dataSync(), wb[i]!.dataSync()];
      for (let j = 0; j < x.length; j++) expect(Math.abs(x[j]! - y[j]!)).toBeLessThan(1e-5);
    });
    expect(b.history[0]!.loss).toBeCloseTo(a.losses[0]!, 5);
    expect(b.history[0]!.valLoss).toBeCloseTo(a.valLosses[0]!, 5);
    a.net.dispose();
    b.net.dispose();
  });

  it('follows the same loss curve over several epochs, and predicts the same after saving and loading', async () => {
    const [a, b] = [await reference(8), await loop(8)];
    b.history.forEach((e, i) => {
      expect(e.loss).toBeCloseTo(a.losses[i]!, 3);
      expect(e.valLoss).toBeCloseTo(a.valLosses[i]!, 3);
    });
    await saveModel(a.net, join(root, 'fit'));
    await saveModel(b.net, join(root, 'loop'));
    const [la, lb] = [await loadModel(join(root, 'fit')), await loadModel(join(root, 'loop'))];
    const [pa, pb] = [predictRows(la, valid.x, valid.rows), predictRows(lb, valid.x, valid.rows)];
    expect(Array.from(pb)).toEqual(Array.from(predictRows(b.net, valid.x, valid.rows))); // the saved model is the trained one
    for (let i = 0; i < pa.length; i++) expect(Math.abs(pa[i]! - pb[i]!)).toBeLessThan(1e-4);
    [a.net, b.net, la, lb].forEach((n) => n.dispose());
  });
});
