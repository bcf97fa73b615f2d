import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledKernel, kernels } from '../../scripts/build-wasm.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { createContext, stepDir } from '../../src/context.js';
import { extract } from '../../src/data/extract.js';
import { memoryLogger } from '../../src/log.js';
import { selectBackend, tf } from '../../src/model/backend.js';
import { buildModel } from '../../src/model/build.js';
import { readSplit } from '../../src/model/dataset.js';
import { denseForward } from '../../src/model/dense.js';
import { loadModel } from '../../src/model/io.js';
import { loadPredictor } from '../../src/model/predictor.js';
import { transform } from '../../src/model/preprocess.js';
import { seededRandom } from '../../src/model/random.js';
import { readExtract, train } from '../../src/model/train.js';
import { silentProgress } from '../../src/progress.js';

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const tfjs = (model: tf.LayersModel, x: Float32Array, rows: number, width: number) =>
  tf.tidy(() => (model.predict(tf.tensor2d(x, [rows, width])) as tf.Tensor).dataSync() as Float32Array);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-dense-'));
  await selectBackend();
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('the lean dense inference path', () => {
  it('equals TF.js within 1e-5 on the sample model and its whole test split', async () => {
    const loaded = await loadConfig('mlops.config.yaml', process.env);
    const ctx = createContext(loaded, { runId: 'dense', log: memoryLogger(), progress: silentProgress });
    ctx.runDir = join(root, 'run');
    await extract(ctx);
    await train(ctx);
    const modelDir = join(stepDir(ctx, 'train'), 'model');
    const predictor = await loadPredictor(modelDir);
    expect(predictor.engine).toBe('dense');
    const { dir, outputs } = await readExtract(ctx);
    const test = await readSplit(dir, outputs, 'test', outputs.features);
    const x = transform(predictor.spec, test.columns, test.rows);
    expect(maxDiff(predictor.forward(x, test.rows), tfjs(await loadModel(modelDir), x, test.rows, predictor.spec.width))).toBeLessThan(
      1e-5,
    );
  });

  const base = parseConfig(
    {
      version: 1,
      project: 'p',
      data: { source: { kind: 'duckdb', query: 'SELECT 1' }, contract: { columns: { y: { type: 'label' } } } },
    },
    process.env,
  ).model;
  for (const [activation, task] of [
    ['relu', 'multiclass'],
    ['elu', 'binary'],
    ['selu', 'regression'],
    ['tanh', 'multiclass'],
    ['sigmoid', 'binary'],
  ] as const) {
    it(`equals TF.js for ${activation} layers and a ${task} head, with dropout`, () => {
      const model = buildModel({ ...base, activation, task, hidden: [16, 8], dropout: 0.2 }, 7, 4);
      const random = seededRandom(3);
      const x = Float32Array.from({ length: 50 * 7 }, () => random() * 4 - 2);
      expect(maxDiff(denseForward(model)!(x, 50), tfjs(model, x, 50, 7))).toBeLessThan(1e-5);
      model.dispose();
    });
  }

  it('equals TF.js for odd layer widths and any number of rows, small batches and large', () => {
    const model = buildModel({ ...base, activation: 'relu', task: 'multiclass', hidden: [5, 3], dropout: 0 }, 7, 3);
    const forward = denseForward(model)!;
    const random = seededRandom(5);
    for (const rows of [1, 3, 4, 2000, 2]) {
      const x = Float32Array.from({ length: rows * 7 }, () => random() * 4 - 2);
      expect(maxDiff(forward(x, rows), tfjs(model, x, rows, 7))).toBeLessThan(1e-5);
    }
    model.dispose();
  });

  it('runs the kernels compiled from the current .wat files (npm run build:wasm)', async () => {
    for (const kernel of kernels) expect(await readFile(kernel.target, 'utf8'), kernel.source).toBe(await compiledKernel(kernel));
  });

  it('leaves models with other layers to TF.js', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 }), tf.layers.batchNormalization()] });
    expect(denseForward(model)).toBeUndefined();
  });
});
