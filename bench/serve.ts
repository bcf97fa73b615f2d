import { readFileSync } from 'node:fs';
/**
 * `npm run bench:serve`: autocannon against `mlops serve` (a separate process, prediction log on)
 * on this machine, 50 connections:
 *  1. single-record /predict: requests/s and p99 latency;
 *  2. batches of 256 records: rows/s;
 *  3. hot swap under load: 10 model swaps during a 20 s run; every response must be 2xx.
 * The run exits 1 when a figure misses its target (printed beside it). `npm run bench:serve`
 * builds dist/ first: the server runs as `node bin/mlops.js serve`, from the compiled code.
 *
 *   npm run bench:serve -- [--seconds N]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { createContext } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { runPipeline } from '../src/pipeline.js';
import { silentProgress } from '../src/progress.js';
import { openRegistry } from '../src/registry/registry.js';
import { sampleConfig } from './sample-config.js';
import { targets } from './targets.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' } } });
const seconds = Number(values.seconds);
const root = await mkdtemp(join(tmpdir(), 'mlops-bench-serve-'));
const TOKEN = 'bench-token';

const config = await sampleConfig(root);
for (const [runId, seed] of [
  ['a', 1],
  ['b', 2],
] as const) {
  const ctx = createContext(
    { config: { ...config, model: { ...config.model, seed } }, file: '', dir: process.cwd(), env: process.env },
    { runId, log: createLogger({ write: () => {} }), progress: silentProgress },
  );
  await runPipeline(ctx);
}
const file = join(root, 'mlops.config.yaml');
await writeFile(file, stringify(config));

const server = spawn(process.execPath, ['bin/mlops.js', '--config', file, 'serve', '--port', '0'], {
  env: { ...process.env, MLOPS_ADMIN_TOKEN: TOKEN },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise<string>((resolve) =>
  server.stdout.on('data', (d) => /http:\/\/\S+/.test(String(d)) && resolve(/http:\/\/\S+/.exec(String(d))![0])),
);

/** An example request, shipped for users too: `curl -d @data/penguin-request.json`. */
const record = JSON.parse(readFileSync('data/penguin-request.json', 'utf8')) as Record<string, unknown>;
const run = (body: string, duration: number) =>
  autocannon({ url: `${url}/predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 50, duration });

const single = JSON.stringify(record);
const batch = JSON.stringify({ instances: Array.from({ length: 256 }, () => record) });
// Every prediction must reach the log, or the throughput would be bought with lost lines: each
// phase reports what the log wrote and dropped meanwhile.
const logged = async () => {
  await new Promise((r) => setTimeout(r, 1000)); // let the writer catch up
  const text = await (await fetch(`${url}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { written: metric('mlops_prediction_log_written_total'), dropped: metric('mlops_prediction_log_dropped_total') };
};
const measure = async (body: string) => {
  const before = await logged();
  const result = await run(body, seconds);
  const after = await logged();
  return { result, written: after.written - before.written, dropped: after.dropped - before.dropped };
};

// Warm up the JIT on both paths, then measure.
await run(single, 2);
await run(batch, 2);
const singles = await measure(single);
const batches = await measure(batch);

const registry = openRegistry({ config, configDir: process.cwd(), env: process.env });
let swaps = 0;
const swapping = setInterval(async () => {
  const { champion } = await registry.aliases();
  await registry.promote(champion === 'v2' ? 'v1' : 'v2');
  const res = await fetch(`${url}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  if ((await res.json()).changed) swaps++;
}, 1900);
const swap = await run(single, 20);
clearInterval(swapping);

server.kill('SIGTERM');
await new Promise((r) => server.on('exit', r));
await rm(root, { recursive: true, force: true });

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const log = ({ written, dropped }: { written: number; dropped: number }) => `log ${fmt(written)} written, ${fmt(dropped)} dropped`;
console.log('\n/predict, 50 connections, prediction log on');
console.log(
  `single record     ${fmt(singles.result.requests.average)} req/s   p99 ${singles.result.latency.p99} ms   non-2xx ${singles.result.non2xx}   ${log(singles)}   (target >= 8,000 req/s, p99 <= 25 ms, 0 dropped)`,
);
console.log(
  `batch of 256      ${fmt(batches.result.requests.average * 256)} rows/s  (${fmt(batches.result.requests.average)} req/s, p99 ${batches.result.latency.p99} ms)   ${log(batches)}   (target >= 200,000 rows/s, 0 dropped)`,
);
console.log(
  `hot swap, 20 s    ${swaps} swaps, ${fmt(swap.requests.average)} req/s, ${swap.non2xx} non-2xx, ${swap.errors} errors   (target: 10 swaps, 0 non-2xx)`,
);

const goals = targets();
const rowsPerSecond = batches.result.requests.average * 256;
goals.check(singles.result.requests.average >= 8000, `single record: ${fmt(singles.result.requests.average)} req/s < 8,000`);
goals.check(singles.result.latency.p99 <= 25, `single record: p99 ${singles.result.latency.p99} ms > 25 ms`);
for (const [phase, m] of [
  ['single record', singles],
  ['batch of 256', batches],
] as const) {
  goals.check(m.result.non2xx === 0 && m.result.errors === 0, `${phase}: ${m.result.non2xx} non-2xx, ${m.result.errors} errors`);
  goals.check(m.dropped === 0, `${phase}: ${fmt(m.dropped)} log lines dropped`);
}
goals.check(rowsPerSecond >= 200_000, `batch of 256: ${fmt(rowsPerSecond)} rows/s < 200,000`);
goals.check(swaps >= 10, `hot swap: ${swaps} swaps < 10`);
goals.check(swap.non2xx === 0 && swap.errors === 0, `hot swap: ${swap.non2xx} non-2xx, ${swap.errors} errors`);
goals.report();
