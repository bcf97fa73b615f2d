/**
 * Writes the train and test splits of the sample data and the example data sets as CSV, exactly as
 * the pipeline splits them, for `reference.py` to fit scikit-learn on the same rows.
 *
 *   node --import tsx bench/accuracy/export.ts OUT_DIR
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { createContext, stepDir } from '../../src/context.js';
import { literal, openDuck } from '../../src/data/duckdb.js';
import { extract } from '../../src/data/extract.js';
import { memoryLogger } from '../../src/log.js';
import { silentProgress } from '../../src/progress.js';

export const datasets = {
  penguins: 'mlops.config.yaml',
  wine: 'examples/wine.config.yaml',
  breast_cancer: 'examples/breast_cancer.config.yaml',
};

const out = process.argv[2] ?? '.mlops/accuracy';
for (const [name, file] of Object.entries(datasets)) {
  const ctx = createContext(await loadConfig(file, process.env), {
    runId: `accuracy-${name}`,
    log: memoryLogger(),
    progress: silentProgress,
  });
  const result = await extract(ctx);
  await mkdir(join(out, name), { recursive: true });
  const db = await openDuck();
  for (const split of ['train', 'test'] as const) {
    const source = join(stepDir(ctx, 'extract'), result.files[split]);
    await db.run(
      `COPY (SELECT * FROM read_parquet(${literal(source)}) ORDER BY source_row) TO ${literal(join(out, name, `${split}.csv`))} (FORMAT csv, HEADER true)`,
    );
  }
  db.closeSync();
  console.log(`${name}: features ${result.features.join(',')} label ${result.label} hash ${result.dataHash}`);
}
