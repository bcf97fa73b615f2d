/**
 * `npm run bench:train`:
 *  1. the reference MLP, 32 -> 64 -> 64 -> 3 softmax, on 100,000 synthetic rows, batch 256, 3 epochs,
 *     on every TensorFlow.js backend that loads (samples/s of model.fit);
 *  2. the train step on 1,000,000 rows x 20 columns from the extract benchmark's data, one epoch,
 *     in a fresh process: its peak RSS (target <= 2 GiB).
 * Each line names the backend that actually ran (tf.getBackend()), and the run exits 1 when a
 * backend ran other than the one asked for or a figure misses its target.
 *
 *   npm run bench:train -- [--rows N] [--skip-scale]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { loadConfig, parseConfig } from '../src/config/load.js';
import { createContext } from '../src/context.js';
import { extract } from '../src/data/extract.js';
import { synth, synthConfig } from '../src/data/synth.js';
import { createLogger } from '../src/log.js';
import { selectBackend, tf, type BackendName } from '../src/model/backend.js';
import { buildModel } from '../src/model/build.js';
import { seededRandom } from '../src/model/random.js';
import { train } from '../src/model/train.js';
import { silentProgress } from '../src/progress.js';
import { targets } from './targets.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '100000' }, 'skip-scale': { type: 'boolean' }, child: { type: 'string' } },
});

if (values.child) {
  // One fresh process: extract is already done; train on it and report the peak RSS.
  const ctx = createContext(await loadConfig(values.child, process.env), {
    runId: 'bench-train',
    log: createLogger({ write: () => {} }),
    progress: silentProgress,
  });
  const began = performance.now();
  const out = await train(ctx);
  process.stdout.write(
    JSON.stringify({
      seconds: (performance.now() - began) / 1000,
      samplesPerSecond: out.samplesPerSecond,
      backend: tf.getBackend(),
      rss: process.resourceUsage().maxRSS * 1024,
    }),
  );
} else {
  const rows = Number(values.rows);
  const width = 32;
  const random = seededRandom(7);
  const x = Float32Array.from({ length: rows * width }, () => random() * 2 - 1);
  const y = new Float32Array(rows * 3);
  for (let r = 0; r < rows; r++) {
    const s = [0, 1, 2].map((k) => x[r * width + k]! + 0.5 * x[r * width + k + 3]!);
    y[r * 3 + s.indexOf(Math.max(...s))] = 1;
  }
  const config = parseConfig(
    {
      version: 1,
      project: 'bench',
      data: { source: { kind: 'duckdb', query: 'SELECT 1' }, contract: { columns: { y: { type: 'label' } } } },
    },
    process.env,
  ).model;
  console.log(`reference MLP ${width} -> 64 -> 64 -> 3 softmax, ${rows.toLocaleString('en-US')} rows, batch 256`);
  const goals = targets();
  console.log('backend      epochs   samples/s');
  for (const backend of ['tensorflow', 'wasm', 'cpu'] as BackendName[]) {
    try {
      await selectBackend(backend);
    } catch {
      console.log(`${backend.padEnd(11)}  -        not available here`);
      continue;
    }
    const epochs = backend === 'cpu' ? 1 : 3; // plain JavaScript is slow; one epoch tells its speed
    const model = buildModel({ ...config, hidden: [64, 64], task: 'multiclass' }, width, 3);
    const xs = tf.tensor2d(x, [rows, width]);
    const ys = tf.tensor2d(y, [rows, 3]);
    const began = performance.now();
    await model.fit(xs, ys, { epochs, batchSize: 256, shuffle: true, verbose: 0 });
    const perSecond = Math.round((rows * epochs) / ((performance.now() - began) / 1000));
    const ran = tf.getBackend(); // what TensorFlow.js ran on, whatever was asked for
    console.log(
      `${ran.padEnd(11)}  ${String(epochs).padEnd(7)}  ${perSecond.toLocaleString('en-US').padStart(9)}${ran === backend ? '' : `   (asked for ${backend})`}`,
    );
    goals.check(ran === backend, `the ${backend} run ran on ${ran}`);
    tf.dispose([xs, ys]);
    model.dispose();
  }

  if (!values['skip-scale']) {
    const n = 1_000_000;
    const dir = resolve('.mlops/bench', `synthetic-${n}`);
    if (!existsSync(join(dir, 'synthetic.parquet'))) await synth({ rows: n, out: dir, format: 'parquet' });
    const file = join(dir, 'train.config.yaml');
    const raw = synthConfig({ file: 'synthetic.parquet' }) as { model: Record<string, unknown> };
    raw.model = { ...raw.model, epochs: 1, batch_size: 256 };
    await writeFile(file, stringify(raw));
    await extract(
      createContext(await loadConfig(file, process.env), {
        runId: 'bench-train',
        log: createLogger({ write: () => {} }),
        progress: silentProgress,
      }),
    );
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/train.ts', '--child', file], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(child.stderr);
    const r = JSON.parse(child.stdout) as { seconds: number; samplesPerSecond: number; backend: string; rss: number };
    const mib = r.rss / 2 ** 20;
    console.log(
      `\ntrain step on ${n.toLocaleString('en-US')} rows x 20 columns (1 epoch, ${r.backend}): ${r.seconds.toFixed(1)} s, ${r.samplesPerSecond.toLocaleString('en-US')} samples/s, peak RSS ${mib.toFixed(0)} MiB (target <= 2048 MiB)`,
    );
    goals.check(mib <= 2048, `train step peak RSS ${mib.toFixed(0)} MiB > 2048 MiB`);
  }
  goals.report();
}
