import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { selectBackend, tf } from '../../src/model/backend.js';
import { buildModel } from '../../src/model/build.js';
import { fitLoop, predictRows, type EpochStats, type Rows } from '../../src/model/fit-loop.js';
import { planOf } from '../../src/model/dense-train-plan.js';
import { loadModel, saveModel } from '../../src/model/io.js';
import { seededRandom, withSeed } from '../../src/model/random.js';

/*
 * The training loop, which trains these networks with the WebAssembly step (dense-train.ts), against
 * the reference path, tfjs's own `model.fit`, on the same network, seed and data. The loop draws
 * fit's shuffle from the same seeded generator, so both see the same batches in the same order and
 * take the same steps: the weights agree to float rounding, not just in distribution.
 */
const defaults = parseConfig(
  { version: 1, project: 'loop', data: { source: { kind: 'duckdb', query: 'SELECT 1' }, contract: { columns: { y: { type: 'label' } } } } },
  {},
).model;

type Task = 'binary' | 'multiclass' | 'regression';
const outputsOf = (task: Task) => (task === 'multiclass' ? 3 : 1);

/** `rows` synthetic rows of 6 features and a target of `task` that depends on them (3 classes, 2, or a number). */
function synthetic(rows: number, seed: number, task: Task = 'multiclass'): Rows {
  const random = seededRandom(seed);
  const x = Float32Array.from({ length: rows * 6 }, () => random() * 2 - 1);
  const k = outputsOf(task);
  const y = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const s = [0, 1, 2].map((j) => x[r * 6 + j]! - 0.5 * x[r * 6 + j + 3]!);
    if (task === 'multiclass') y[r * 3 + s.indexOf(Math.max(...s))] = 1;
    else y[r] = task === 'binary' ? Number(s[0]! > s[1]!) : s[0]! * 3 + s[2]!;
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

/**
 * The network of `change` over the defaults, trained `epochs` by model.fit and by the loop on the
 * same seed and rows; with `classWeights`, fit's classWeight and the loop's class weights.
 */
async function both(change: Partial<typeof defaults> & { task: Task }, epochs: number, classWeights?: number[]) {
  const config = { ...defaults, hidden: [16, 8], seed: 3, ...change };
  const k = outputsOf(config.task);
  const [data, check] = [synthetic(400, 5, config.task), synthetic(100, 6, config.task)];
  const [x, y] = [tf.tensor2d(data.x, [data.rows, 6]), tf.tensor2d(data.y, [data.rows, k])];
  const fitted = buildModel(config, 6, k);
  const classWeight = classWeights && Object.fromEntries(classWeights.map((w, c) => [c, w]));
  const history = await withSeed(config.seed, () =>
    fitted.fit(x, y, { epochs, batchSize: config.batch_size, shuffle: true, verbose: 0, ...(classWeight ? { classWeight } : {}) }),
  );
  tf.dispose([x, y]);
  const looped = buildModel(config, 6, k);
  const options = {
    epochs,
    batchSize: config.batch_size,
    patience: epochs,
    seed: config.seed,
    task: config.task,
    onEpoch: () => {},
    ...(classWeights ? { classWeights } : {}),
  };
  const loop = await withSeed(config.seed, () => fitLoop(looped, data, check, options));
  return { fitted, looped, fitLosses: history.history.loss as number[], loopLosses: loop.history.map((e) => e.loss), check };
}

describe('the WebAssembly step against model.fit, on what the config can ask for', () => {
  const cases: (Partial<typeof defaults> & { task: Task })[] = [
    { task: 'binary', activation: 'tanh', optimizer: 'sgd', learning_rate: 0.05 },
    { task: 'regression', activation: 'elu', l2: 1e-3 },
    { task: 'multiclass', activation: 'selu', hidden: [9], batch_size: 50 },
    { task: 'binary', activation: 'sigmoid', hidden: [5, 7, 3] },
    { task: 'regression', hidden: [] },
    { task: 'multiclass', activation: 'gelu', optimizer: 'rmsprop' }, // neither covered: TF.js trains it, the same
  ];
  for (const change of cases)
    it(`${JSON.stringify(change)}: the same weights after two epochs`, async () => {
      const { fitted, looped, fitLosses, loopLosses } = await both(change, 2);
      expect(planOf(looped, change.task) !== undefined).toBe(change.optimizer !== 'rmsprop');
      const [wa, wb] = [fitted.getWeights(), looped.getWeights()];
      wa.forEach((w, i) => {
        const [a, b] = [w.dataSync(), wb[i]!.dataSync()];
        for (let j = 0; j < a.length; j++) expect(Math.abs(a[j]! - b[j]!)).toBeLessThan(1e-4);
      });
      loopLosses.forEach((loss, i) => expect(loss).toBeCloseTo(fitLosses[i]!, 4));
      [fitted, looped].forEach((n) => n.dispose());
    });

  // model.class_weight: both steps weigh each row's loss and gradient by its class's weight, as fit's classWeight does.
  const weighted: [Partial<typeof defaults> & { task: Task }, number[]][] = [
    [{ task: 'binary' }, [1, 4]],
    [{ task: 'multiclass', hidden: [9] }, [0.5, 3, 1]],
    [{ task: 'binary', optimizer: 'rmsprop' }, [1, 4]], // not covered: TF.js's step
    [{ task: 'multiclass', activation: 'gelu' }, [0.5, 3, 1]],
  ];
  for (const [change, classWeights] of weighted)
    it(`${JSON.stringify(change)} with class weights ${classWeights.join(', ')}: the same weights and weighted losses as fit's classWeight`, async () => {
      const { fitted, looped, fitLosses, loopLosses } = await both(change, 2, classWeights);
      expect(planOf(looped, change.task) !== undefined).toBe(change.optimizer !== 'rmsprop' && change.activation !== 'gelu');
      const [wa, wb] = [fitted.getWeights(), looped.getWeights()];
      wa.forEach((w, i) => {
        const [a, b] = [w.dataSync(), wb[i]!.dataSync()];
        for (let j = 0; j < a.length; j++) expect(Math.abs(a[j]! - b[j]!)).toBeLessThan(1e-4);
      });
      loopLosses.forEach((loss, i) => expect(loss).toBeCloseTo(fitLosses[i]!, 4));
      [fitted, looped].forEach((n) => n.dispose());
    });

  it('draws its own dropout masks, and learns as model.fit does with dropout', async () => {
    const { fitted, looped, fitLosses, loopLosses, check } = await both({ task: 'multiclass', dropout: 0.3, hidden: [32] }, 15);
    expect(loopLosses.at(-1)!).toBeLessThan(loopLosses[0]! * 0.7);
    expect(Math.abs(loopLosses.at(-1)! - fitLosses.at(-1)!)).toBeLessThan(0.05);
    const [pa, pb] = [predictRows(fitted, check.x, check.rows), predictRows(looped, check.x, check.rows)];
    const agree = Array.from({ length: check.rows }, (_, r) => {
      const argmax = (p: Float32Array) => [0, 1, 2].reduce((m, j) => (p[r * 3 + j]! > p[r * 3 + m]! ? j : m), 0);
      return argmax(pa) === argmax(pb);
    });
    expect(agree.filter(Boolean).length).toBeGreaterThan(check.rows * 0.9);
    [fitted, looped].forEach((n) => n.dispose());
  });
});
