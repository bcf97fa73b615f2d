/**
 * `npm run bench:train`:
 *  1. the reference MLP, 32 -> 64 -> 64 -> 3 softmax, on 100,000 synthetic rows, batch 256: the
 *     training loop with the WebAssembly step (wasm and cpu backends; on tfjs-node, when it loads,
 *     the loop on its kernels), tfjs's own `model.fit` on wasm (the path it replaced), and PyTorch
 *     on one thread when /usr/bin/python3 has torch (samples/s);
 *  2. the train step on synthetic rows x 20 columns (`--rows`: 300k, 1M and 3M by default), one
 *     epoch each, in a fresh process: s/epoch, samples/s and peak RSS (target <= 1.5 x the data's
 *     float32 size + 400 MiB), and the ratio of the largest run's samples/s to the smallest's
 *     (target >= 0.85: time linear in the rows).
 * Each line names the backend that actually ran, and the load average of the machine over it; the
 * run exits 1 when a backend ran other than the one asked for or a figure misses its target.
 *
 *   npm run bench:train -- [--rows 300000,1000000,3000000] [--mlp-rows 100000] [--skip-mlp] [--skip-scale]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { readArtifact } from '../src/artifacts.js';
import { extractFile } from '../src/artifact-files.js';
import { loadConfig, parseConfig } from '../src/config/load.js';
import { createContext } from '../src/context.js';
import { extract } from '../src/data/extract.js';
import { synth, synthConfig } from '../src/data/synth.js';
import { createLogger } from '../src/log.js';
import { selectBackend, tf, type BackendName } from '../src/model/backend.js';
import { buildModel } from '../src/model/build.js';
import { fitLoop, type Rows } from '../src/model/fit-loop.js';
import { readPreprocess } from '../src/model/preprocess.js';
import { seededRandom, withSeed } from '../src/model/random.js';
import { train } from '../src/model/train.js';
import { silentProgress } from '../src/progress.js';
import { targets } from './targets.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '300000,1000000,3000000' },
    'mlp-rows': { type: 'string', default: '100000' },
    'skip-mlp': { type: 'boolean' },
    'skip-scale': { type: 'boolean' },
    child: { type: 'string' },
  },
});

const quiet = { log: createLogger({ write: () => {} }), progress: silentProgress };
const MiB = 2 ** 20;
const count = (n: number) => Math.round(n).toLocaleString('en-US');
/** The 1-minute load average over a measurement, from its start and end: 2 means both cores busy. */
const load = (before: number) => `load ${before.toFixed(1)}-${loadavg()[0]!.toFixed(1)}`;

/** Samples per second of wall time and of the process's CPU time. */
interface Rate {
  wall: number;
  cpu: number;
}

/** What a child process reports of one train step. */
interface StepFigures {
  trainSeconds: number;
  epochs: number;
  trainRows: number;
  /** The float32 size of the train and validation rows as the network sees them. */
  dataBytes: number;
  backend: string;
  rss: number;
  /** CPU seconds of the whole step: on a shared machine, what the rows cost whatever else runs. */
  cpuSeconds: number;
}

if (values.child) {
  // One fresh process: extract is already done; train on it and report the peak RSS.
  const ctx = createContext(await loadConfig(values.child, process.env), { runId: 'bench-train', ...quiet });
  const cpu = process.cpuUsage();
  const out = await train(ctx);
  const used = process.cpuUsage(cpu);
  const { split } = await readArtifact(ctx, extractFile);
  const spec = await readPreprocess(out.modelDir);
  const outputs = spec.label.classes?.length ?? 1;
  const figures: StepFigures = {
    trainSeconds: (split.train * out.epochs) / out.samplesPerSecond,
    epochs: out.epochs,
    trainRows: split.train,
    dataBytes: (split.train + split.validation) * (spec.width + outputs) * 4,
    backend: out.backend,
    rss: process.resourceUsage().maxRSS * 1024,
    cpuSeconds: (used.user + used.system) / 1e6,
  };
  process.stdout.write(JSON.stringify(figures));
} else {
  const goals = targets();
  if (!values['skip-mlp']) await referenceMlp(Number(values['mlp-rows']), goals);
  if (!values['skip-scale']) await trainStep(values.rows.split(',').map(Number), goals);
  goals.report();
}

/** The reference MLP through the loop (native TensorFlow, the WebAssembly step), fit on wasm, and PyTorch on one thread. */
async function referenceMlp(rows: number, goals: ReturnType<typeof targets>): Promise<void> {
  const width = 32;
  const random = seededRandom(7);
  const synthetic = (n: number): Rows => {
    const x = Float32Array.from({ length: n * width }, () => random() * 2 - 1);
    const y = new Float32Array(n * 3);
    for (let r = 0; r < n; r++) {
      const s = [0, 1, 2].map((k) => x[r * width + k]! + 0.5 * x[r * width + k + 3]!);
      y[r * 3 + s.indexOf(Math.max(...s))] = 1;
    }
    return { x, y, rows: n };
  };
  const data = synthetic(rows);
  const valid = synthetic(256); // validated every epoch, as the train step does; small, so the step is what is timed
  const config = parseConfig(
    {
      version: 1,
      project: 'bench',
      data: { source: { kind: 'duckdb', query: 'SELECT 1' }, contract: { columns: { y: { type: 'label' } } } },
    },
    {},
  ).model;
  const model = { ...config, hidden: [64, 64], task: 'multiclass' as const, batch_size: 256 };
  console.log(`reference MLP ${width} -> 64 -> 64 -> 3 softmax, ${count(rows)} rows, batch 256`);
  // Per CPU second too: on a shared machine the wall clock measures the neighbours as much as the code.
  console.log('path                      epochs   samples/s   per CPU s');
  const line = (path: string, epochs: number, rate: Rate, note = '') =>
    console.log(
      `${path.padEnd(24)}  ${String(epochs).padEnd(7)}  ${count(rate.wall).padStart(9)}  ${count(rate.cpu).padStart(10)}   ${note}`,
    );
  let wasm: Rate = { wall: 0, cpu: 0 };
  const epochs = 3;
  // The cpu backend is left out: under it the loop takes the same WebAssembly step as under wasm.
  for (const backend of ['tensorflow', 'wasm'] as BackendName[]) {
    try {
      await selectBackend(backend);
    } catch {
      console.log(`${`loop, ${backend}`.padEnd(24)}  -        not available here`);
      continue;
    }
    const time = async (run: (net: tf.Sequential) => Promise<unknown>) => {
      const net = buildModel(model, width, 3);
      const [began, cpu, before] = [performance.now(), process.cpuUsage(), loadavg()[0]!];
      await run(net);
      const used = process.cpuUsage(cpu);
      net.dispose();
      const samples = rows * epochs;
      const rate = { wall: samples / ((performance.now() - began) / 1000), cpu: samples / ((used.user + used.system) / 1e6) };
      return { rate, load: load(before) };
    };
    const loop = await time((net) =>
      fitLoop(net, data, valid, { epochs, batchSize: 256, patience: epochs, seed: 7, task: 'multiclass', onEpoch: () => {} }),
    );
    const ran = tf.getBackend(); // what TensorFlow.js ran on, whatever was asked for
    line(
      ran === 'tensorflow' ? 'loop, tensorflow' : 'loop, WebAssembly step',
      epochs,
      loop.rate,
      `${loop.load}${ran === backend ? '' : ` (asked for ${backend})`}`,
    );
    goals.check(ran === backend, `the ${backend} run ran on ${ran}`);
    if (backend !== 'wasm') continue;
    wasm = loop.rate;
    const [x, y] = [tf.tensor2d(data.x, [rows, width]), tf.tensor2d(data.y, [rows, 3])];
    const fit = await time((net) => withSeed(7, () => net.fit(x, y, { epochs, batchSize: 256, shuffle: true, verbose: 0 })));
    tf.dispose([x, y]);
    const speedup = `the loop is ${(loop.rate.wall / fit.rate.wall).toFixed(2)}x (${(loop.rate.cpu / fit.rate.cpu).toFixed(2)}x per CPU s)`;
    line('model.fit, wasm', epochs, fit.rate, `${fit.load}; ${speedup}`);
  }
  const before = loadavg()[0]!;
  const torch = spawnSync('/usr/bin/python3', ['bench/train-reference.py', String(rows), '3', '256'], { encoding: 'utf8' });
  if (torch.status !== 0) {
    const why = torch.error ? torch.error.message : (torch.stderr.trim().split('\n').at(-1) ?? `exit ${torch.status}`);
    console.log(
      `${'PyTorch, 1 thread'.padEnd(24)}  -        not measured: /usr/bin/python3 has no torch (${why}); apt-get install python3-torch`,
    );
    return;
  }
  const py = JSON.parse(torch.stdout) as { samplesPerSecond: number; samplesPerCpuSecond: number; torch: string };
  const rate = { wall: py.samplesPerSecond, cpu: py.samplesPerCpuSecond };
  const ratio = `${(wasm.wall / rate.wall).toFixed(2)} (${(wasm.cpu / rate.cpu).toFixed(2)} per CPU s)`;
  line('PyTorch, 1 thread', 3, rate, `torch ${py.torch}, ${load(before)}; the loop on wasm / PyTorch = ${ratio}`);
}

/** The train step on `sizes` synthetic rows each, one epoch, each in a fresh process. */
async function trainStep(sizes: number[], goals: ReturnType<typeof targets>): Promise<void> {
  console.log('\ntrain step on synthetic rows x 20 columns, 1 epoch, batch 256, each in a fresh process');
  console.log('rows        train rows   s/epoch   samples/s   step CPU s   peak RSS    target RSS   data float32');
  const rates: { wall: number; cpu: number }[] = [];
  for (const n of sizes) {
    const dir = resolve('.mlops/bench', `synthetic-${n}`);
    if (!existsSync(join(dir, 'synthetic.parquet'))) await synth({ rows: n, out: dir, format: 'parquet' });
    const file = join(dir, 'train.config.yaml');
    const raw = synthConfig({ file: 'synthetic.parquet' }) as { model: Record<string, unknown> };
    raw.model = { ...raw.model, epochs: 1, batch_size: 256 };
    await writeFile(file, stringify(raw));
    await extract(createContext(await loadConfig(file, process.env), { runId: 'bench-train', ...quiet }));
    const before = loadavg()[0]!;
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/train.ts', '--child', file], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(child.stderr);
    const r = JSON.parse(child.stdout) as StepFigures;
    const perSecond = (r.trainRows * r.epochs) / r.trainSeconds;
    const limit = 1.5 * r.dataBytes + 400 * MiB;
    rates.push({ wall: perSecond, cpu: (r.trainRows * r.epochs) / r.cpuSeconds });
    console.log(
      `${count(n).padEnd(10)}  ${count(r.trainRows).padStart(10)}  ${(r.trainSeconds / r.epochs).toFixed(1).padStart(8)}  ${count(perSecond).padStart(10)}  ${r.cpuSeconds.toFixed(1).padStart(11)}  ${`${count(r.rss / MiB)} MiB`.padStart(9)}  ${`${count(limit / MiB)} MiB`.padStart(11)}  ${`${count(r.dataBytes / MiB)} MiB`.padStart(12)}   ${r.backend}, ${load(before)}`,
    );
    goals.check(r.rss <= limit, `train step peak RSS at ${count(n)} rows ${count(r.rss / MiB)} MiB > ${count(limit / MiB)} MiB`);
  }
  if (rates.length > 1) {
    const [first, last] = [rates[0]!, rates.at(-1)!];
    const ratio = last.wall / first.wall;
    console.log(
      `samples/s at ${count(sizes.at(-1)!)} rows / at ${count(sizes[0]!)} rows: ${ratio.toFixed(2)} (target >= 0.85); per CPU second of the step, which the load moves less: ${(last.cpu / first.cpu).toFixed(2)}`,
    );
    goals.check(ratio >= 0.85, `samples/s ratio ${ratio.toFixed(2)} < 0.85`);
  }
}
