import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createContext } from '../../src/context.js';
import { extract } from '../../src/data/extract.js';
import { evaluate } from '../../src/evaluate/evaluate.js';
import { memoryLogger } from '../../src/log.js';
import { train } from '../../src/model/train.js';
import { silentProgress } from '../../src/progress.js';

/*
 * The trained model is within 2 points of scikit-learn's logistic regression, fitted once on the
 * very same train/test split (the data hash proves it is the same), on the sample data and on two
 * more public data sets. See bench/accuracy/ for how the references were computed.
 */
const reference = JSON.parse(await readFile('test/fixtures/sklearn-reference.json', 'utf8')) as {
  datasets: Record<string, { config: string; dataHash: string; accuracy: number }>;
};

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-accuracy-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('accuracy against scikit-learn', () => {
  for (const [name, ref] of Object.entries(reference.datasets)) {
    it(`${name}: within 2 points of logistic regression (${ref.accuracy})`, async () => {
      const loaded = await loadConfig(ref.config, process.env);
      loaded.config.registry.path = join(root, `registry-${name}`);
      const ctx = createContext(loaded, { runId: name, log: memoryLogger(), progress: silentProgress });
      ctx.runDir = join(root, name);
      const extracted = await extract(ctx);
      expect(extracted.dataHash).toBe(ref.dataHash);
      await train(ctx);
      const { metrics } = await evaluate(ctx);
      expect((metrics as { accuracy: number }).accuracy).toBeGreaterThanOrEqual(ref.accuracy - 0.02);
    });
  }
});
