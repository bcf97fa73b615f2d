/**
 * `npm run bench:explain`: what the model relies on, timed.
 *  1. permutation importance of 20 columns x 5 seeded shuffles on 10,000 test rows of synthetic
 *     data (the synthetic set's 17 features and 3 derived ones), through the predictor in batches,
 *     as the evaluate step runs it (target <= 5 s);
 *  2. explanations of the sample model (penguins): in process, a record's integrated gradients
 *     alone, ms per record for lone records and for batches of 64 (target <= 2 ms per record);
 *  3. `mlops serve` (its own process, prediction log on), 10 connections: single-record /predict
 *     and /predict?explain=true, and /predict again after, to show the plain path is unchanged in
 *     the same run. With `--against <checkout>`, /predict of that checkout's build too (e.g. main).
 * The run exits 1 when a figure misses its target. It builds dist/ first (`npm run bench:explain`).
 *
 *   npm run bench:explain -- [--seconds N] [--against /work/main]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { readArtifact } from '../src/artifacts.js';
import { extractFile } from '../src/artifact-files.js';
import { loadConfig } from '../src/config/load.js';
import { createContext, stepDir } from '../src/context.js';
import { extract } from '../src/data/extract.js';
import { synth, synthConfig, synthContract } from '../src/data/synth.js';
import { importanceOptions, permutationImportance } from '../src/evaluate/importance.js';
import { createLogger } from '../src/log.js';
import { readSplit } from '../src/model/dataset.js';
import { outputJson } from '../src/model/output-json.js';
import { loadPredictor } from '../src/model/predictor.js';
import { transform } from '../src/model/preprocess.js';
import { train } from '../src/model/train.js';
import { runPipeline } from '../src/pipeline.js';
import { silentProgress } from '../src/progress.js';
import { openRegistry } from '../src/registry/registry.js';
import { sampleConfig } from './sample-config.js';
import { targets } from './targets.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, against: { type: 'string' } } });
const seconds = Number(values.seconds);
const quiet = { log: createLogger({ write: () => {} }), progress: silentProgress };
const goals = targets();
const load = () => `load ${loadavg()[0]!.toFixed(1)}`;
/** This process's CPU time in ms: on a shared machine, what the work costs, whatever else runs. */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

// 1. Permutation importance on synthetic rows: 70,000 rows leave just over 10,000 in the test split.
const dir = resolve('.mlops/bench', 'synthetic-explain');
if (!existsSync(join(dir, 'synthetic.parquet'))) await synth({ rows: 70_000, out: dir, format: 'parquet' });
const raw = synthConfig({ file: 'synthetic.parquet' }) as {
  data: { source: { query: string }; contract: { columns: object } };
  model: object;
  workdir?: string;
};
raw.data.source.query = raw.data.source.query.replace('SELECT *', 'SELECT *, x05 + x06 AS d1, x07 - x08 AS d2, x09 * 0.5 AS d3');
raw.data.contract.columns = { ...synthContract(), d1: { type: 'float' }, d2: { type: 'float' }, d3: { type: 'float' } };
raw.model = { ...raw.model, epochs: 2, batch_size: 256 };
const file = join(dir, 'explain.config.yaml');
await writeFile(file, stringify(raw));
const loaded = await loadConfig(file, process.env);
const ctx = createContext(loaded, { runId: 'bench-explain', ...quiet });
await extract(ctx);
const trained = await train(ctx);
const extracted = await readArtifact(ctx, extractFile);
const candidate = await loadPredictor(trained.modelDir);
const features = candidate.spec.features.map((f) => f.name);
const test = await readSplit(stepDir(ctx, 'extract'), extracted, 'test', features);
const options = importanceOptions(loaded.config);
permutationImportance(candidate, test, { ...options, repeats: 1 }); // warm up
const began = performance.now();
const cpuBefore = cpuMs();
const importance = permutationImportance(candidate, test, options);
const importanceSeconds = (performance.now() - began) / 1000;
const importanceCpu = (cpuMs() - cpuBefore) / 1000;
candidate.dispose();
console.log(`\npermutation importance (${candidate.engine} inference), ${options.metric}`);
console.log(
  `${features.length} columns x ${importance.repeats} shuffles on ${importance.rows.toLocaleString('en-US')} test rows: ${importanceSeconds.toFixed(2)} s, ${importanceCpu.toFixed(2)} s of CPU   (target <= 5 s; ${load()})`,
);
console.log(
  `most relied on: ${importance.columns
    .slice(0, 3)
    .map((c) => `${c.column} ${c.drop.toFixed(3)} ± ${c.std.toFixed(3)}`)
    .join(', ')}`,
);
goals.check(
  features.length === 20 && importance.rows === 10_000,
  `importance measured ${features.length} columns on ${importance.rows} rows, not 20 on 10,000`,
);
// Judged on CPU time: the work is single-threaded, so on an idle machine it is the wall time.
goals.check(importanceCpu <= 5, `permutation importance ${importanceCpu.toFixed(2)} s of CPU > 5 s`);

// 2. The sample model's explanations in process.
const root = await mkdtemp(join(tmpdir(), 'mlops-bench-explain-'));
const config = await sampleConfig(root);
config.model.stability = undefined;
if (config.gates) config.gates.stability = undefined;
await runPipeline(createContext({ config, file: '', dir: process.cwd(), env: process.env }, { runId: 'sample', ...quiet }));
const { dir: championDir } = await openRegistry({ config, configDir: process.cwd(), env: process.env }).open('champion');
const sample = await loadPredictor(championDir);
const record = JSON.parse(readFileSync('data/penguin-request.json', 'utf8')) as Record<string, unknown>;
const steps = config.serving.explain.steps;
/** ms per record (wall and CPU) of transform, predict and explain, for `rows` records a call. */
const perRecord = (rows: number, calls: number) => {
  const columns = Object.fromEntries(
    sample.spec.features.map((f) => [f.name, Array.from({ length: rows }, () => record[f.name] ?? null)]),
  ) as Record<string, (string | number | boolean | null)[]>;
  const started = performance.now();
  const cpu = cpuMs();
  for (let i = 0; i < calls; i++) {
    const x = transform(sample.spec, columns, rows);
    const { best } = outputJson(sample.spec.label.classes, sample.forward(x, rows), rows);
    sample.explain!(x, rows, best, steps);
  }
  return { wall: (performance.now() - started) / (calls * rows), cpu: (cpuMs() - cpu) / (calls * rows) };
};
perRecord(1, 50);
const lone = perRecord(1, 500);
const batched = perRecord(64, 20);
sample.dispose();
console.log(
  `\nexplain=true on the sample model (${steps} steps of integrated gradients, TF.js ${sample.engine === 'dense' ? 'gradients beside the dense path' : 'model'})`,
);
const ms = (t: { wall: number; cpu: number }) => `${t.wall.toFixed(3)} ms (CPU ${t.cpu.toFixed(3)} ms)`;
console.log(`in process: ${ms(lone)} per lone record, ${ms(batched)} per record in batches of 64   (target <= 2 ms; ${load()})`);
goals.check(lone.cpu <= 2, `explain: ${lone.cpu.toFixed(3)} ms of CPU per lone record > 2 ms`);

// 3. Over HTTP, against `mlops serve` in its own process.
async function serve(checkout: string) {
  const cfg = join(root, 'serve.yaml');
  // Another checkout (main) may not know serving.explain yet: its defaults are what it serves with.
  const { explain: _, ...serving } = config.serving;
  await writeFile(cfg, stringify({ ...config, serving: checkout === process.cwd() ? config.serving : serving }));
  const child = spawn(process.execPath, [join(checkout, 'bin/mlops.js'), '--config', cfg, 'serve', '--port', '0'], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const exited = new Promise((r) => child.on('exit', r));
  const url = await new Promise<string>((ok) =>
    child.stdout.on('data', (d) => /http:\/\/\S+/.test(String(d)) && ok(/http:\/\/\S+/.exec(String(d))![0])),
  );
  return { url, stop: () => (child.kill('SIGTERM'), exited) };
}
const body = JSON.stringify(record);
const hit = (url: string, path: string, duration: number) =>
  autocannon({ url: `${url}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 10, duration });
const figures = (r: autocannon.Result) =>
  `${Math.round(r.requests.average).toLocaleString('en-US')} req/s   p50 ${r.latency.p50} ms   p99 ${r.latency.p99} ms   non-2xx ${r.non2xx}`;

const server = await serve(process.cwd());
await hit(server.url, '/predict', 2);
await hit(server.url, '/predict?explain=true', 2);
const plain = await hit(server.url, '/predict', seconds);
const explained = await hit(server.url, '/predict?explain=true', seconds);
const plainAgain = await hit(server.url, '/predict', seconds);
await server.stop();
console.log(`\nmlops serve, single records, 10 connections, ${seconds} s each (${load()})`);
console.log(`/predict                ${figures(plain)}`);
console.log(
  `/predict?explain=true   ${figures(explained)}   ${(1000 / explained.requests.average).toFixed(3)} ms of a core-bound server per record`,
);
console.log(`/predict again          ${figures(plainAgain)}`);
if (values.against) {
  const other = await serve(resolve(values.against));
  await hit(other.url, '/predict', 2);
  const theirs = await hit(other.url, '/predict', seconds);
  await other.stop();
  console.log(`/predict of ${values.against}   ${figures(theirs)}`);
}
for (const [name, r] of [
  ['/predict', plain],
  ['/predict?explain=true', explained],
] as const)
  goals.check(r.non2xx === 0 && r.errors === 0, `${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
await rm(root, { recursive: true, force: true });
goals.report();
